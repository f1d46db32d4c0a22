"""Reading the parts of a report with the standard library's parser (``compat32``: it never raises
on the malformed headers that real bounces carry): header values, addresses, the fields of a
``message/delivery-status`` or ``message/feedback-report`` part, and the original mail's Message-IDs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parsedate_to_datetime

_MSGID = re.compile(r"<[^<>\s@]+@[^<>\s]+>")
_QUOTED_MSGID = re.compile(r"(?im)^\s*message-id:\s*(<[^<>\s@]+@[^<>\s]+>)")
TEXT_LIMIT = 200_000  # characters of a text part looked at (a bounce quoting a 5 MB mail needs no more)


def header(msg: Message, name: str) -> str:
    """The header decoded to text (RFC 2047), one line; "" when absent or unreadable."""
    value = msg.get(name)
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except (UnicodeError, LookupError, ValueError, TypeError):
        text = str(value)
    return " ".join(text.split())


def addresses(msg: Message, *names: str) -> list[str]:
    """The mail addresses in these headers, lower-case, in order."""
    values = [str(v) for name in names for v in msg.get_all(name, [])]
    return [addr.strip().lower() for _, addr in getaddresses(values) if "@" in addr]


def date_of(msg: Message) -> datetime | None:
    try:
        when = parsedate_to_datetime(header(msg, "Date"))
    except (TypeError, ValueError, IndexError):
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def field_blocks(part: Message) -> list[Message]:
    """The header blocks of a ``message/delivery-status`` (or ``feedback-report``) part: the parser
    gives a list of Messages, or one, or — when it could not — the text, parsed here block by block."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    if isinstance(payload, Message):
        return [payload]
    raw = part.get_payload(decode=True)
    text = raw if isinstance(raw, bytes) else b""
    blocks = re.split(r"\r?\n\s*\r?\n", text.decode("utf-8", "replace").strip())
    return [HeaderParser().parsestr(block) for block in blocks if block.strip()]


def text_parts(msg: Message) -> Iterator[str]:
    """The decoded text/plain parts (and text/rfc822-headers), outside attached messages."""
    for part in walk_outer(msg):
        if part.get_content_type() in ("text/plain", "text/rfc822-headers"):
            yield decoded(part)


def walk_outer(msg: Message) -> Iterator[Message]:
    """Every part of the mail, without descending into an attached ``message/*``."""
    yield msg
    if msg.is_multipart() and msg.get_content_maintype() != "message":
        for part in msg.get_payload():  # type: ignore[union-attr]
            if isinstance(part, Message):
                yield from walk_outer(part)


def decoded(part: Message) -> str:
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return raw[: TEXT_LIMIT * 4].decode(charset, "replace")[:TEXT_LIMIT]
    except LookupError:
        return raw[: TEXT_LIMIT * 4].decode("utf-8", "replace")[:TEXT_LIMIT]


def original_headers(msg: Message) -> list[Message]:
    """The headers of the mail a report is about: attached ``message/rfc822`` parts and
    ``text/rfc822-headers`` parts (RFC 3462)."""
    found: list[Message] = []
    for part in walk_outer(msg):
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message):
                found.append(inner)
        elif kind == "text/rfc822-headers":
            found.append(HeaderParser().parsestr(decoded(part)))
    return found


def original_message_ids(msg: Message, originals: list[Message]) -> tuple[str, ...]:
    """The Message-IDs of the original mail: from its attached headers, then quoted in the text
    (qmail, Exim), then the report's In-Reply-To and References; the report's own id excluded."""
    own = header(msg, "Message-ID")
    ids: list[str] = [m for o in originals for m in _MSGID.findall(header(o, "Message-ID"))]
    for text in text_parts(msg):
        ids += _QUOTED_MSGID.findall(text)
    ids += _MSGID.findall(header(msg, "In-Reply-To"))
    ids += reversed(_MSGID.findall(header(msg, "References")))
    return tuple(dict.fromkeys(i for i in ids if i != own))


def bare_address(value: str) -> str:
    """``rfc822; <Anna@Example.com>`` → ``anna@example.com``."""
    _, _, addr = value.rpartition(";")
    return addr.strip().strip("<>").strip().lower()


def one_line(text: str, limit: int = 500) -> str:
    return " ".join(text.split())[:limit]


__all__ = [
    "addresses",
    "bare_address",
    "date_of",
    "decoded",
    "field_blocks",
    "header",
    "one_line",
    "original_headers",
    "original_message_ids",
    "text_parts",
    "walk_outer",
]
