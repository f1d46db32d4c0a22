"""One inbound mail → a ``Report``: what it is, whom it names, and what it quotes of the original.

The order matters: a DSN or an ARF report is recognised by its MIME type first (Postfix marks its
DSNs ``Auto-Submitted: auto-replied`` too); a plain-text bounce notice before the auto-replies for
the same reason (Exim's); a subject ``unsubscribe <token>`` before the auto-replies (a mail program
may mark its own unsubscribe mail); an auto-reply's body is never searched for a token (it may quote
the newsletter); whatever is left is a person's mail.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.policy import compat32

from .dsn import dsn_recipients, feedback_fields, first_status
from .model import Kind, Recipient, Report, Severity
from .parts import (
    addresses,
    bare_address,
    date_of,
    header,
    one_line,
    original_headers,
    original_message_ids,
    text_parts,
)

_UNSUBSCRIBE = re.compile(r"(?i)(?<![A-Za-z0-9_-])unsubscribe\s+([A-Za-z0-9_-]{40,1024})(?![A-Za-z0-9_-])")
_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon")
# where a report was delivered to: the VERP address, when the relay kept it
_DELIVERED_TO = ("To", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "X-Rcpt-To")


@dataclass(frozen=True)
class Phrases:
    """Subject words of other people's mail programs, from ``[<lang>.inbox]`` of templates/labels.toml."""

    out_of_office: tuple[str, ...] = ()
    bounce_notice: tuple[str, ...] = ()


def classify(raw: bytes, phrases: Phrases = Phrases()) -> Report:
    """What the mail ``raw`` is (see the module's docstring). Never raises on a malformed mail."""
    msg = message_from_bytes(raw, policy=compat32)
    own_id = _MSGID.findall(header(msg, "Message-ID"))
    key = (own_id[0] if own_id else "sha256:" + hashlib.sha256(raw).hexdigest())[:KEY_MAX]
    base = Report(
        key=key,
        kind=Kind.PERSONAL,
        date=date_of(msg),
        sender=(addresses(msg, "From") or [""])[0],
        subject=header(msg, "Subject"),
        verp_candidates=tuple(dict.fromkeys(addresses(msg, *_DELIVERED_TO))),
    )
    report_type = (msg.get_param("report-type", header=("Content-Type")) or "") if msg.is_multipart() else ""
    report_type = str(report_type).lower()
    if msg.get_content_type() == "multipart/report" and report_type == "delivery-status":
        return _dsn(msg, base)
    if msg.get_content_type() == "multipart/report" and report_type == "feedback-report":
        return _complaint(msg, base)
    if _looks_like_notice(msg, base, phrases):
        return _notice(msg, base)
    subject_token = _UNSUBSCRIBE.search(base.subject)
    if subject_token:
        return _replace(base, kind=Kind.UNSUBSCRIBE, token=subject_token.group(1))
    if _is_auto_reply(msg, base.subject, phrases):
        return _replace(base, kind=Kind.AUTO_REPLY)
    for text in text_parts(msg):
        if body_token := _UNSUBSCRIBE.search(text[:20_000]):
            return _replace(base, kind=Kind.UNSUBSCRIBE, token=body_token.group(1))
    return base


_MSGID = re.compile(r"<[^<>\s]+>")
KEY_MAX = 300  # the key as stored (tables.inbox_events.message_key) and compared: cut here, once


def _dsn(msg: Message, base: Report) -> Report:
    originals = original_headers(msg)
    return _replace(
        base,
        kind=Kind.DSN,
        recipients=dsn_recipients(msg),
        original_message_ids=original_message_ids(msg, originals),
        verp_candidates=_with_return_paths(base, originals),
    )


def _complaint(msg: Message, base: Report) -> Report:
    """ARF: the complained-of address is Original-Rcpt-To, else the original mail's To."""
    fields = feedback_fields(msg)
    originals = original_headers(msg)
    rcpt = bare_address(header(fields, "Original-Rcpt-To")) if fields is not None else ""
    if "@" not in rcpt:
        rcpt = next((a for o in originals for a in addresses(o, "To")), "")
    feedback = header(fields, "Feedback-Type").lower() if fields is not None else ""
    mail_from = addresses(fields, "Original-Mail-From") if fields is not None else []
    user_agent = header(fields, "User-Agent") if fields is not None else ""
    text = one_line(f"feedback {feedback or 'abuse'}{f' from {user_agent}' if user_agent else ''}")
    recipients = (Recipient(rcpt, Severity.HARD, "", text),) if "@" in rcpt else ()
    return _replace(
        base,
        kind=Kind.COMPLAINT,
        recipients=recipients,
        original_message_ids=original_message_ids(msg, originals),
        verp_candidates=tuple(dict.fromkeys((*mail_from, *_with_return_paths(base, originals)))),
        diagnostic=text,
    )


def _looks_like_notice(msg: Message, base: Report, phrases: Phrases) -> bool:
    local = base.sender.partition("@")[0]
    subject = base.subject.casefold()
    return (
        local in _DAEMONS
        or bool(msg.get("X-Failed-Recipients"))
        or any(p.casefold() in subject for p in phrases.bounce_notice if p)
    )


def _notice(msg: Message, base: Report) -> Report:
    """A plain-text bounce: flufl.bounce (Mailman's detectors) guesses the addresses."""
    from .notice import guess_failures

    texts = list(text_parts(msg))
    originals = original_headers(msg)
    recipients = guess_failures(msg, texts)
    return _replace(
        base,
        kind=Kind.NOTICE,
        recipients=recipients,
        original_message_ids=original_message_ids(msg, originals),
        verp_candidates=_with_return_paths(base, originals),
        diagnostic=first_status(" ".join(texts)),
    )


def _is_auto_reply(msg: Message, subject: str, phrases: Phrases) -> bool:
    """RFC 3834 Auto-Submitted (anything but "no"), X-Autoreply, X-Autorespond, Precedence:
    auto_reply, or an out-of-office subject of the catalogue."""
    submitted = header(msg, "Auto-Submitted").lower()
    if submitted and submitted != "no":
        return True
    if msg.get("X-Autoreply") is not None or msg.get("X-Autorespond") is not None:
        return True
    if header(msg, "Precedence").lower() == "auto_reply":
        return True
    folded = subject.casefold()
    return any(p.casefold() in folded for p in phrases.out_of_office if p)


def _with_return_paths(base: Report, originals: list[Message]) -> tuple[str, ...]:
    """The report's own recipients, then the original mail's Return-Path (its envelope sender)."""
    paths = [a for o in originals for a in addresses(o, "Return-Path")]
    return tuple(dict.fromkeys((*base.verp_candidates, *paths)))


def _replace(report: Report, **changes: object) -> Report:
    from dataclasses import replace

    return replace(report, **changes)  # type: ignore[arg-type]


__all__ = ["Phrases", "classify"]
