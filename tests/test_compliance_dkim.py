"""DKIM: signatures made by newsletter.dkim verify with dkimpy against the public key (no DNS)."""

from __future__ import annotations

from pathlib import Path

import dkim as dkimpy
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from newsletter.config import DkimSettings
from newsletter.mail import dkim
from newsletter.model import ConfigError

MESSAGE = (
    b"From: AMZ Netzwerk <newsletter@amz-sachsen.example>\r\n"
    b"To: anna@example.org\r\n"
    b"Subject: =?utf-8?q?AMZ-Newsletter_M=C3=A4rz?=\r\n"
    b"Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <abc.123@amz-sachsen.example>\r\n"
    b"List-Id: AMZ-Newsletter <newsletter.amz-sachsen.example>\r\n"
    b"List-Unsubscribe: <https://news.example/u/TOKEN>, <mailto:info@amz-sachsen.example?subject=unsubscribe>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Hallo Anna,\r\nhier ist der Newsletter.\r\n"
)


def _keypair(tmp_path: Path, fmt: serialization.PrivateFormat) -> tuple[DkimSettings, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
    path = tmp_path / "dkim.key"
    path.write_bytes(pem)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return DkimSettings(selector="nl2026", domain="amz-sachsen.example", private_key=path), public


def dns_for(settings: DkimSettings, public_pem: bytes):
    """A DNS-less TXT lookup that knows exactly one selector."""
    record = dkim.dns_txt_record(public_pem).encode()
    wanted = f"{settings.selector}._domainkey.{settings.domain}.".encode()

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == wanted else None

    return lookup


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return _keypair(tmp_path_factory.mktemp("dkim"), serialization.PrivateFormat.PKCS8)


def test_signed_message_verifies(keys):
    settings, public = keys
    signed = dkim.sign(MESSAGE, settings)
    assert signed.startswith(b"DKIM-Signature: ")
    assert signed.endswith(MESSAGE)
    assert dkimpy.verify(signed, dnsfunc=dns_for(settings, public))


def test_signature_covers_required_headers(keys):
    settings, _ = keys
    signed = dkim.sign(MESSAGE, settings)
    header = signed.split(b"\r\n\r\n", 1)[0].decode()
    sig = header.split("\r\nFrom:", 1)[0].replace("\r\n", "").replace(" ", "").replace("\t", "")
    assert "a=rsa-sha256" in sig and "c=relaxed/relaxed" in sig
    assert "s=nl2026" in sig and "d=amz-sachsen.example" in sig
    signed_names = sig.split("h=", 1)[1].split(";", 1)[0].lower().split(":")
    for name in (
        "from",
        "subject",
        "date",
        "message-id",
        "list-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "to",
        "mime-version",
        "content-type",
    ):
        assert name in signed_names, name
    # over-signed: an added second From/List-Unsubscribe would break the signature
    assert signed_names.count("from") == 2 and signed_names.count("list-unsubscribe") == 2


@pytest.mark.parametrize(
    "old, new",
    [
        (b"<https://news.example/u/TOKEN>", b"<https://evil.example/u/TOKEN>"),
        (b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: x=y"),
        (b"Subject: =?utf-8", b"Subject: =?UTF-8"),
        (b"hier ist", b"hier war"),
    ],
)
def test_tampering_breaks_verification(keys, old, new):
    settings, public = keys
    signed = dkim.sign(MESSAGE, settings)
    assert old in signed
    assert not dkimpy.verify(signed.replace(old, new, 1), dnsfunc=dns_for(settings, public))


def test_added_list_unsubscribe_breaks_verification(keys):
    settings, public = keys
    signed = dkim.sign(MESSAGE, settings)
    head, body = signed.split(b"\r\n\r\n", 1)
    forged = head + b"\r\nList-Unsubscribe: <https://evil.example/>\r\n\r\n" + body
    assert not dkimpy.verify(forged, dnsfunc=dns_for(settings, public))


def test_lf_messages_and_traditional_keys(tmp_path):
    settings, public = _keypair(tmp_path, serialization.PrivateFormat.TraditionalOpenSSL)
    message = MESSAGE.replace(b"\r\n", b"\n")
    signed = dkim.sign(message, settings)
    assert b"\r\n" not in signed
    assert dkimpy.verify(signed, dnsfunc=dns_for(settings, public))


def test_relaxed_canonicalisation_survives_rewrapping(keys):
    settings, public = keys
    signed = dkim.sign(MESSAGE, settings)
    # relaxed/relaxed: a relay that changes header whitespace must not break the signature
    rewrapped = signed.replace(b"Subject: =?utf-8", b"Subject:   =?utf-8")
    assert dkimpy.verify(rewrapped, dnsfunc=dns_for(settings, public))


def test_key_is_read_once(keys, monkeypatch):
    settings, _ = keys
    dkim.sign(MESSAGE, settings)
    reads = []
    original = Path.read_bytes

    def counting(self):
        reads.append(self)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    for _ in range(5):
        dkim.sign(MESSAGE, settings)
    assert reads == []


def test_missing_or_bad_key_is_a_config_error(tmp_path):
    missing = DkimSettings(selector="s", domain="d.example", private_key=tmp_path / "nope.key")
    with pytest.raises(ConfigError, match="not found"):
        dkim.sign(MESSAGE, missing)
    bad = tmp_path / "bad.key"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match="not a PEM RSA private key"):
        dkim.sign(MESSAGE, DkimSettings(selector="s", domain="d.example", private_key=bad))


def test_openssl_signature_is_byte_identical_to_dkimpy(keys):
    import hashlib

    from dkim.crypto import RSASSA_PKCS1_v1_5_sign, parse_pem_private_key

    settings, _ = keys
    pk = parse_pem_private_key(settings.private_key.read_bytes())
    for name in ("sha256", "sha1"):
        digest = hashlib.new(name, b"canonical headers")
        assert dkim._openssl_rsa_sign(digest, pk) == bytes(RSASSA_PKCS1_v1_5_sign(digest, pk))


def test_the_confirmation_mail_is_signed_and_bounces_go_to_the_bounce_address(keys, config):
    from dataclasses import replace
    from datetime import UTC, datetime

    from newsletter.audience.signups import Choice, SignupRequest
    from newsletter.mail.confirmation import confirmation_message

    settings, public = keys
    signing = replace(config, dkim=settings, bounce_address="bounces@amz-sachsen.example")
    request = SignupRequest("eva@partner.example", "Frau", "Eva", "Kowalska", "", Choice("pl", frozenset()),
                            "0" * 64, "pl", None, datetime(2026, 11, 21, 10, 0, tzinfo=UTC))  # fmt: skip
    message = confirmation_message(signing, request, "https://news.example.org/confirm/T?lang=pl", 7)
    data = message.data
    assert data.startswith(b"DKIM-Signature: ")
    assert dkimpy.verify(data, dnsfunc=dns_for(settings, public))
    assert message.envelope_from == "bounces@amz-sachsen.example"
