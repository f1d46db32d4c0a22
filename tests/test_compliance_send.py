"""Compliance through the real send path: unsubscribes, approval and DKIM with run_send and aiosmtpd."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import dkim as dkimpy
import httpx
import pytest
import smtp_sink as rig
from click.testing import CliRunner
from compliance_rig import serve_app
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from newsletter.cli import main
from newsletter.config import load_config
from newsletter.edges import send_parts
from newsletter.mail import dkim, tokens
from newsletter.send.run import run_send
from newsletter.store.db import engine_for
from newsletter.store.tables import deliveries

smtp_sink = rig.smtp_sink
SLUG = "2022-03-laenderfokus"
SECRET = "compliance-send-secret-0123456789abcdef"
PUBLIC = "https://news.example.org"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def write_members(project: Path, count: int, segments=lambda i: ("poland", "usa", "poland|usa")[i % 3],
                  languages=("de", "en", "pl")) -> list[str]:  # fmt: skip
    addresses = [f"m{i}@example.org" for i in range(count)]
    with (project / "subscribers.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "first_name", "last_name", "language", "segments"])
        for i, address in enumerate(addresses):
            w.writerow([address, f"Vorname{i}", f"Name{i}", languages[i % len(languages)], segments(i)])
    return addresses


def env_for(project_env: dict[str, str], sink, **extra: str) -> dict[str, str]:
    return {
        **project_env,
        "NEWSLETTER_SMTP_HOST": sink.host,
        "NEWSLETTER_SMTP_PORT": str(sink.port),
        "NEWSLETTER_SMTP_SECURITY": "none",
        "NEWSLETTER_SECRET": SECRET,
        "NEWSLETTER_PUBLIC_URL": PUBLIC,
        **extra,
    }


def ledger_state(config, address: str) -> str | None:
    with engine_for(config.database_url).connect() as conn:
        row = conn.execute(
            select(deliveries.c.state).where(deliveries.c.issue == SLUG, deliveries.c.address == address)
        ).first()
    return row[0] if row else None


def unsubscribe_url(message: bytes) -> str:
    for line in message.split(b"\r\n\r\n", 1)[0].decode().replace("\r\n ", " ").split("\r\n"):
        if line.lower().startswith("list-unsubscribe:"):
            return next(p.strip("<> ") for p in line.split(":", 1)[1].split(",") if "https://" in p)
    raise AssertionError("no List-Unsubscribe header")


def test_one_click_then_the_next_send_mails_nothing_to_that_address(
    project, project_env, example_issue, smtp_sink
):
    from newsletter.web.public import create_app

    addresses = write_members(project, 30)
    config = load_config(project, env_for(project_env, smtp_sink))
    target = addresses[7]
    token = tokens.make_token(target, "usa", config)
    with serve_app(create_app(config)) as url, httpx.Client(base_url=url) as client:
        response = client.post(f"/u/{token}", data=ONE_CLICK)
    assert response.status_code == 200 and "location" not in response.headers
    report = run_send(config, example_issue, ["all"], parts=send_parts(config))
    received = smtp_sink.received_by_address()
    assert received[target] == 0
    assert sum(received.values()) == 29 and ledger_state(config, target) == "suppressed"
    assert report is not None


@pytest.mark.slow
def test_unsubscribe_during_a_running_3000_member_send(project, project_env, example_issue, smtp_sink):
    """The link in a message that has already arrived is used while the send is still running."""
    from newsletter.web.public import create_app

    addresses = write_members(project, 3000)
    config = load_config(project, env_for(project_env, smtp_sink))
    result: dict[str, object] = {}
    sender = threading.Thread(
        target=lambda: result.update(
            report=run_send(config, example_issue, ["all"], parts=send_parts(config))
        )
    )
    with serve_app(create_app(config)) as url, httpx.Client(base_url=url) as client:
        sender.start()
        smtp_sink.wait_for(500, timeout=60)
        arrived = set(smtp_sink.received_by_address())
        # a member well ahead of the send (its message cannot be on the wire yet) unsubscribes
        # with a token made as compose makes it; the service does not care about the list id
        target = next(a for a in addresses[1500:] if a not in arrived)
        token = tokens.make_token(target, "poland", config)
        response = client.post(f"/u/{token}", data=ONE_CLICK)
        assert response.status_code == 200 and "location" not in response.headers
        committed_at = len(smtp_sink.messages)
        # and one real link, taken from a message that arrived, replayed
        first = smtp_sink.messages[0]
        link = unsubscribe_url(first.data)
        assert link.startswith(f"{PUBLIC}/u/")
        assert client.post("/u/" + link.rsplit("/", 1)[1], data=ONE_CLICK).status_code == 200
        sender.join(120)
    assert not sender.is_alive() and "report" in result
    assert committed_at < 3000, "the send finished before the unsubscribe; the test proves nothing"
    received = smtp_sink.received_by_address()
    assert received[target] == 0
    assert ledger_state(config, target) == "suppressed"
    assert sum(received.values()) == 2999 and all(n == 1 for n in received.values())


def test_changed_word_after_approval_refuses_send_naming_the_edition(project, project_env, example_issue, smtp_sink, monkeypatch):  # fmt: skip
    write_members(project, 6, segments=lambda i: "usa", languages=("de",))
    toml = project / "newsletter.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace("require_approval = false", "require_approval = true")
    )
    env = env_for(project_env, smtp_sink)
    monkeypatch.chdir(project)
    runner = CliRunner()
    refused = runner.invoke(main, ["send", SLUG, "--to", "usa", "--yes"], env=env)
    assert refused.exit_code == 2 and "has not been approved" in refused.output
    approved = runner.invoke(main, ["approve", SLUG, "--by", "Anna Schmidt"], env=env)
    assert approved.exit_code == 0, approved.output
    article = example_issue / "articles" / "delegation.de.md"
    article.write_text(
        article.read_text(encoding="utf-8").replace("Automatisiertes", "Autonomes", 1), encoding="utf-8"
    )
    refused = runner.invoke(main, ["send", SLUG, "--to", "usa", "--yes"], env=env)
    assert refused.exit_code == 2, refused.output
    assert "usa.de changed since approval by Anna Schmidt on " in refused.output
    assert "newsletter approve" in refused.output and smtp_sink.messages == []
    assert runner.invoke(main, ["approve", SLUG, "--by", "Ben Vogel"], env=env).exit_code == 0
    sent = runner.invoke(main, ["send", SLUG, "--to", "usa", "--yes"], env=env)
    assert sent.exit_code == 0, sent.output
    assert sum(smtp_sink.received_by_address().values()) == 6


def test_every_message_of_a_send_is_dkim_signed_and_verifies(project, project_env, example_issue, smtp_sink):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (project / "dkim.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    toml = project / "newsletter.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8")
        + '\n[dkim]\nselector = "nl2026"\ndomain = "amz-sachsen.example"\nprivate_key = "dkim.key"\n',
        encoding="utf-8",
    )
    write_members(project, 24)
    config = load_config(project, env_for(project_env, smtp_sink))
    assert config.dkim is not None
    record = dkim.dns_txt_record(public).encode()

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == b"nl2026._domainkey.amz-sachsen.example." else None

    run_send(config, example_issue, ["all"], parts=send_parts(config))
    messages = smtp_sink.wait_for(24)
    assert len(messages) == 24
    for m in messages:
        assert m.data.startswith(b"DKIM-Signature:") and dkimpy.verify(m.data, dnsfunc=dns), m.rcpt_tos
        header = m.data.split(b"\r\n\r\n", 1)[0].lower()
        for name in (b"list-unsubscribe:", b"list-unsubscribe-post:", b"list-id:", b"message-id:"):
            assert b"\r\n" + name in header
    tampered = messages[0].data.replace(b"https://news.example.org/u/", b"https://evil.example.org/u/", 1)
    assert tampered != messages[0].data and not dkimpy.verify(tampered, dnsfunc=dns)
