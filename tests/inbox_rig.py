"""Inbound-mail fixtures (tests/fixtures/inbox/, see its README.md) and what each one expects.

A fixture whose addresses, Message-ID or VERP token must name a real ledger row is a template:
``fill(name, values_for(config, row, other))`` puts the row's values in. 13C's Dovecot tests use the
same files and the same ``CASES`` table.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from newsletter.config import Config
from newsletter.mail.tokens import make_token
from newsletter.mail.verp import verp_address
from newsletter.store.db import engine_for
from newsletter.store.tables import deliveries

FOLDER = Path(__file__).resolve().parent / "fixtures" / "inbox"


@dataclass(frozen=True)
class Expect:
    kind: str  # what the classifier says: dsn, complaint, unsubscribe, auto-reply, notice, personal
    severities: tuple[str, ...] = ()  # per recipient (dsn, notice)
    moved: bool = False  # processed and moved to Processed (with a ledger row to name)
    suppressed: str | None = None  # the reason ADDRESS gets (None: not suppressed)


CASES: dict[str, Expect] = {
    "dsn-postfix-hard-5.1.1.eml": Expect("dsn", ("hard",), True, "bounced"),
    "dsn-exim-hard-rfc822-headers.eml": Expect("dsn", ("hard",), True, "bounced"),
    "dsn-exchange-hard-5.0.0-with-5.1.10.eml": Expect("dsn", ("hard",), True, "bounced"),
    "dsn-gmail-soft-4.2.2-over-quota.eml": Expect("dsn", ("soft",), True),
    "dsn-mailbox-full-5.2.2.eml": Expect("dsn", ("soft",), True),
    "dsn-delayed-4.4.1.eml": Expect("dsn", ("delayed",), True),
    "dsn-outlook-blocked-5.7.1.eml": Expect("dsn", ("blocked",), True),
    # ADDRESS hard, OTHER soft; matched by address only without VERP (no Message-ID, no token)
    "dsn-multi-recipient-hard-and-soft.eml": Expect("dsn", ("hard", "soft"), True, "bounced"),
    "dsn-forged-never-mailed.eml": Expect("dsn", ("hard",)),
    "dsn-bad-verp-token.eml": Expect("dsn", ("hard",)),
    "arf-abuse-original-rcpt-to.eml": Expect("complaint", (), True, "complained"),
    "arf-abuse-to-of-the-original.eml": Expect("complaint", (), True, "complained"),
    "arf-jmrp-rfc822-headers.eml": Expect("complaint", (), True, "complained"),
    "mailto-unsubscribe-token-in-subject.eml": Expect("unsubscribe", (), True, "unsubscribed"),
    "mailto-unsubscribe-token-in-body.eml": Expect("unsubscribe", (), True, "unsubscribed"),
    "mailto-unsubscribe-bad-token.eml": Expect("unsubscribe"),
    "mailto-unsubscribe-without-token.eml": Expect("personal"),
    "auto-reply-auto-submitted.eml": Expect("auto-reply"),
    "auto-reply-x-autoreply.eml": Expect("auto-reply"),
    "auto-reply-x-autorespond.eml": Expect("auto-reply"),
    "auto-reply-precedence-auto-reply.eml": Expect("auto-reply"),
    "ooo-subject-de.eml": Expect("auto-reply"),
    "ooo-subject-en.eml": Expect("auto-reply"),
    "ooo-subject-pl.eml": Expect("auto-reply"),
    "reply-member-question.eml": Expect("personal"),
    "reply-member-html-quoting-the-newsletter.eml": Expect("personal"),
    "reply-member-without-message-id.eml": Expect("personal"),
    "notice-exchange-plain-text.eml": Expect("notice", ("hard",), True, "bounced"),
    "notice-exim-plain-text.eml": Expect("notice", ("hard",), True, "bounced"),
    "notice-qmail-failure.eml": Expect("notice", ("hard",), True, "bounced"),
    "notice-unconfirmed-guess.eml": Expect("notice", ("hard",)),
}


def fill(name: str, values: dict[str, str]) -> bytes:
    """The fixture with its ``{{NAME}}`` placeholders filled, CRLF line ends (as a server stores it)."""
    text = (FOLDER / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    assert "{{" not in text, f"{name}: a placeholder is not filled"
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


@dataclass(frozen=True)
class Row:
    id: int
    address: str
    edition: str
    message_id: str


def rows(config: Config, issue: str) -> dict[str, Row]:
    """The issue's sent ledger rows by address."""
    with engine_for(config.database_url).connect() as conn:
        found = conn.execute(
            select(
                deliveries.c.id, deliveries.c.address, deliveries.c.edition, deliveries.c.message_id
            ).where(deliveries.c.issue == issue)
        )
        return {r.address: Row(r.id, r.address, r.edition, r.message_id) for r in found}


def values_for(config: Config, row: Row, other: Row | None = None) -> dict[str, str]:
    """The placeholders for a report about ``row`` (``OTHER``: a second member's address)."""
    local, _, domain = config.envelope_sender.rpartition("@")
    list_key = row.edition.rpartition(".")[0]
    return {
        "ADDRESS": row.address,
        "OTHER": other.address if other else "other.member@example.org",
        "BOUNCE": config.envelope_sender,
        "VERP": verp_address(row.id, config) if config.verp else config.envelope_sender,
        "BAD_VERP": f"{local}+{row.id}-000000000000@{domain}",
        "MESSAGE_ID": row.message_id,
        "TOKEN": make_token(row.address, list_key, config),
    }


def deliver(maildir: Path, raw: bytes, *, seen: bool = False) -> Path:
    """Put a mail into the Maildir as a local delivery agent does: new/, or cur/ with the S flag."""
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    deliver.n += 1  # type: ignore[attr-defined]
    name = f"{time.time_ns()}.M{deliver.n}P{os.getpid()}.test"  # type: ignore[attr-defined]
    tmp = maildir / "tmp" / name
    tmp.write_bytes(raw)
    target = maildir / "cur" / f"{name}:2,S" if seen else maildir / "new" / name
    os.rename(tmp, target)
    return target


deliver.n = 0  # type: ignore[attr-defined]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under the Maildir (relative name → bytes): names carry the flags."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


BOUNCE = "bounces@amz-sachsen.example"


def use_bounce_address(project: Path, *, verp: bool) -> None:
    """``[newsletter] bounce_address`` (and ``verp``) in the project's newsletter.toml."""
    toml = project / "newsletter.toml"
    text = toml.read_text(encoding="utf-8")
    lines = f'bounce_address = "{BOUNCE}"\nverp = {str(verp).lower()}\n'
    toml.write_text(text.replace("[newsletter]\n", f"[newsletter]\n{lines}", 1), encoding="utf-8")


def own_id(raw: bytes, key: str) -> bytes:
    """The mail with its own Message-ID replaced by ``<KEY@copies.test>`` (added when it has none): a
    fixture used for several members must be several mails, and a mail's Message-ID is its record's key."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    new = f"Message-ID: <{key}@copies.test>".encode()
    for i, line in enumerate(lines):
        if line.lower().startswith(b"message-id:"):
            lines[i] = new
            break
    else:
        lines.append(new)
    return b"\r\n".join(lines) + sep + body
