"""Plain-text bounce notices (Exchange, Exim, qmail, …): flufl.bounce guesses the failed addresses.
A guess never suppresses anyone by itself: the runner acts only when the VERP token or the original
Message-ID names the same address."""

from __future__ import annotations

import re
from email.message import Message

from flufl.bounce import all_failures

from .dsn import first_status
from .model import Recipient, Severity
from .parts import one_line


def guess_failures(msg: Message, texts: list[str]) -> tuple[Recipient, ...]:
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector tripping over a malformed mail: no guess
        return ()
    found = [(a, Severity.HARD) for a in sorted(permanent)] + [
        (a, Severity.SOFT) for a in sorted(temporary) if a not in permanent
    ]
    recipients = []
    for raw, severity in found:
        address = (
            (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)).strip("<> ").lower()
        )
        if "@" not in address:
            continue
        line = _line_about(address, texts)
        status = first_status(line) or first_status(" ".join(texts))
        if severity is Severity.HARD and status and not status.startswith("5.1."):
            severity = Severity.BLOCKED if status.split(".")[1] == "7" else Severity.SOFT
        recipients.append(Recipient(address, severity, status, line))
    return tuple(recipients)


def _line_about(address: str, texts: list[str]) -> str:
    """The notice's line that gives the reason: the first with a status code after the address."""
    joined = "\n".join(texts)
    at = joined.lower().find(address)
    tail = joined[at:] if at >= 0 else joined
    for line in tail.splitlines()[:12]:
        if re.search(r"\b[45]\d\d\b|\b[45]\.\d", line):
            return one_line(line)
    return one_line(tail.splitlines()[0] if tail.strip() else "")


__all__ = ["guess_failures"]
