"""compose: MIME structure, headers, personalisation, escaping; parsed back by the stdlib parser."""

from __future__ import annotations

import dataclasses
import html as htmllib
import random
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from newsletter.config import Config, Secret
from newsletter.mail.compose import MessageTemplate, salutation
from newsletter.mail.tokens import read_token
from newsletter.model import ALL, Edition, Member
from newsletter.render.labels import words

HTML = (
    "<html><body><p>[[nl:salutation]]</p>\n<p>Hallo [[nl:first_name]] [[nl:last_name]] ([[nl:company]])</p>\n"
    '<p><a href="[[nl:browser_url]]">Web</a> · <a href="[[nl:unsubscribe_url]]">Abbestellen</a></p>\n'
    "<p>Umlaute äöü ß – “Zitat” " + "lange Zeile " * 200 + "</p>\n.Punkt am Zeilenanfang\n</body></html>"
)
TEXT = "[[nl:salutation]]\n\nHallo [[nl:first_name]] von [[nl:company]].\n.Punkt\n\nAbbestellen: [[nl:unsubscribe_url]]\n"
REQUIRED = ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "List-Id", "List-Unsubscribe")


def edition(**changes: object) -> Edition:
    base = Edition(
        "2022-03-laenderfokus", frozenset({"poland"}), "de", "Länderfokus März", "", HTML, TEXT, ("a",)
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def member(**changes: object) -> Member:
    base = Member(
        "anna.muster@example.org", 7, "de", frozenset({"poland"}), "Anna", "Muster", "Frau", "AMZ e. V."
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def web_config(config: Config) -> Config:
    return dataclasses.replace(config, public_url="https://news.example.org", secret=Secret("test-secret"))


def parse(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def test_structure_and_required_headers(web_config: Config) -> None:
    composed = MessageTemplate.for_edition(edition(), web_config).personalise(member())
    data = composed.data
    assert re.search(rb"[^\r]\n", data) is None and all(len(line) <= 998 for line in data.split(b"\r\n"))
    head, _, body = data.partition(b"\r\n\r\n")
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))  # quoted-printable limit
    assert not re.search(rb"\r\n\.", data)  # no line starts with a dot, even for naive SMTP clients
    msg = parse(data)
    assert msg.get_content_type() == "multipart/alternative" and not msg.defects
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    for name in (*REQUIRED, "Reply-To", "List-Unsubscribe-Post"):
        assert len(msg.get_all(name) or []) == 1, name
    assert msg["Subject"] == "Länderfokus März" and msg["MIME-Version"] == "1.0"
    assert [a.addr_spec for a in msg["To"].addresses] == ["anna.muster@example.org"]
    assert msg["To"].addresses[0].display_name == "Anna Muster"
    assert msg["From"].addresses[0].addr_spec == web_config.sender_address
    assert (
        msg["List-Id"].endswith("<poland.newsletter.amz-sachsen.example>") and "Polen-Fokus" in msg["List-Id"]
    )
    assert msg["Message-ID"] == composed.message_id and composed.message_id.endswith("@amz-sachsen.example>")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (composed.recipient, composed.envelope_from) == (
        "anna.muster@example.org",
        web_config.sender_address,
    )


def test_body_personalised_and_unsubscribe_token(web_config: Config) -> None:
    msg = parse(MessageTemplate.for_edition(edition(), web_config).personalise(member()).data)
    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = msg.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Sehr geehrte Frau Muster,\n\nHallo Anna von AMZ e. V..\n.Punkt\n")
    assert "Hallo Anna Muster (AMZ e. V.)" in html and "lange Zeile " * 200 in html and "“Zitat”" in html
    assert "\n.Punkt am Zeilenanfang\n" in html and "[[nl:" not in html + text
    urls = re.findall(r"<(https://news\.example\.org/u/([A-Za-z0-9_-]+))>", msg["List-Unsubscribe"])
    assert len(urls) == 1 and f'href="{urls[0][0]}"' in html and urls[0][0] in text
    assert read_token(urls[0][1], web_config).address == "anna.muster@example.org"
    assert read_token(urls[0][1], web_config).list_id == "poland"
    assert "<mailto:newsletter@amz-sachsen.example?subject=unsubscribe%20" in msg["List-Unsubscribe"]
    assert 'href="https://news.example.org/2022-03-laenderfokus/de.html"' in html


def test_without_public_url_only_mailto(config: Config) -> None:
    msg = parse(MessageTemplate.for_edition(edition(), config).personalise(member()).data)
    assert msg["List-Unsubscribe"].startswith("<mailto:") and "," not in msg["List-Unsubscribe"]
    assert msg["List-Unsubscribe-Post"] is None  # RFC 8058 one-click needs the HTTPS URI
    assert (
        'href="mailto:newsletter@amz-sachsen.example?subject=unsubscribe%20'
        in msg.get_body(("html",)).get_content()
    )


@pytest.mark.parametrize(
    ("language", "kind", "last", "expected"),
    [
        ("de", "Frau", "Muster", "Sehr geehrte Frau Muster,"),
        ("de", "Herr", "Muster", "Sehr geehrter Herr Muster,"),
        ("de", "", "Muster", "Guten Tag,"),
        ("de", "Frau", "", "Guten Tag,"),
        ("en", "Ms", "Muster", "Dear Ms Muster,"),
        ("en", "herr", "Muster", "Dear Mr Muster,"),
        ("en", "divers", "Muster", "Dear member,"),
        ("pl", "Pani", "Kowalska", "Szanowna Pani,"),
        ("pl", "Herr", "Kowalski", "Szanowny Panie,"),
        ("pl", "", "", "Szanowni Państwo,"),
    ],
)
def test_salutations(config: Config, language: str, kind: str, last: str, expected: str) -> None:
    forms = words(config, language).salutation  # [<lang>.salutation] of templates/labels.toml
    assert salutation(member(salutation=kind, last_name=last), forms) == expected


def test_member_data_is_literal_text_never_template_source(config: Config) -> None:
    evil = member(
        first_name="{{ ''.__class__.__mro__[1].__subclasses__() }}",
        last_name="<script>alert(1)</script>",
        company='[[nl:unsubscribe_url]] " onmouseover="x',
    )
    msg = parse(MessageTemplate.for_edition(edition(), config).personalise(evil).data)
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ &#x27;&#x27;.__class__.__mro__[1].__subclasses__() }}" in html
    assert "[[nl:unsubscribe_url]] &quot; onmouseover=&quot;x" in html  # not re-scanned, attribute-safe
    assert "Hallo {{ ''.__class__.__mro__[1].__subclasses__() }} von [[nl:unsubscribe_url]]" in text
    assert (
        msg["To"].addresses[0].display_name
        == "{{ ''.__class__.__mro__[1].__subclasses__() }} <script>alert(1)</script>"
    )


def test_non_ascii_names_subject_prefix_and_all_edition(config: Config) -> None:
    template = MessageTemplate.for_edition(
        edition(segments=frozenset({ALL}), language="pl", subject="Fokus na Polskę – " + "ż" * 80),
        config,
        subject_prefix="[TEST] ",
    )
    composed = template.personalise(member(first_name="Zoë", last_name='Łukasiewicz "Ł"', salutation="Pani"))
    msg = parse(composed.data)
    assert msg["Subject"] == "[TEST] Fokus na Polskę – " + "ż" * 80
    assert msg["To"].addresses[0].display_name == 'Zoë Łukasiewicz "Ł"'
    assert msg["List-Id"] == "AMZ-Newsletter <all.newsletter.amz-sachsen.example>"
    assert msg["Content-Language"] == "pl" and msg.get_body(("plain",)).get_content().startswith(
        "Szanowna Pani,"
    )
    head = composed.data.partition(b"\r\n\r\n")[0].decode("ascii")
    assert all(
        len(line) <= 78 for line in head.split("\r\n") if not line.startswith((" <mailto", "List-Unsub"))
    )


def test_message_ids_unique_or_given(config: Config) -> None:
    template = MessageTemplate.for_edition(edition(), config)
    ids = {template.personalise(member()).message_id for _ in range(200)}
    assert len(ids) == 200
    given = template.personalise(member(), message_id="row-42.2022-03@amz-sachsen.example")
    assert given.message_id == "<row-42.2022-03@amz-sachsen.example>"
    assert parse(given.data)["Message-ID"] == "<row-42.2022-03@amz-sachsen.example>"


def test_dkim_signs_when_configured(config: Config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from newsletter.config import DkimSettings

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "dkim.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    signed = dataclasses.replace(config, dkim=DkimSettings("nl", "amz-sachsen.example", path))
    data = MessageTemplate.for_edition(edition(), signed).personalise(member()).data
    msg = parse(data)
    assert "d=amz-sachsen.example" in msg["DKIM-Signature"] and "s=nl" in msg["DKIM-Signature"]
    assert b"\r\n." not in data and not data.startswith(b".")  # the transport sends it unstuffed


def test_random_bodies_round_trip_with_short_lines(config: Config) -> None:
    rng = random.Random(7)
    alphabet = [
        "x",
        "y",
        " ",
        "\t",
        ".",
        "=",
        "ä",
        "€",
        "<",
        "&",
        "\n",
        "\n",
        "[[nl:first_name]]",
        "[[nl:company]]",
    ]
    for _ in range(150):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 400))) + "." * rng.randrange(3)
        first = "".join(rng.choice(["a", ".", " ", "ß", "="]) for _ in range(rng.randrange(0, 90)))
        company = "." + "".join(rng.choice(["b", "\t", "é", "x"]) for _ in range(rng.randrange(0, 200)))
        data = (
            MessageTemplate.for_edition(edition(html=text, text=text), config)
            .personalise(member(first_name=first, last_name="", company=company))
            .data
        )
        body = data.partition(b"\r\n\r\n")[2]
        assert all(len(line) <= 76 for line in body.split(b"\r\n")) and b"\r\n." not in body
        msg = parse(data)
        expected = text if text.endswith("\n") else text + "\n"
        plain = expected.replace("[[nl:first_name]]", first).replace("[[nl:company]]", company)
        assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == plain
        markup = expected.replace("[[nl:first_name]]", htmllib.escape(first)).replace(
            "[[nl:company]]", htmllib.escape(company)
        )
        assert msg.get_body(("html",)).get_content().replace("\r\n", "\n") == markup
