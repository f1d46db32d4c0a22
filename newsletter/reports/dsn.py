"""The per-recipient fields of an RFC 3464 delivery status notification and what each status means.

Only ``Action: failed`` with ``5.1.x`` (bad mailbox, bad domain: RFC 3463) is a hard bounce. Any
``X.7.x`` (security or policy: a blocklist, the sender's reputation, DMARC) is about the sender,
never the member: blocked. Every other failure — ``4.x.x``, ``5.2.2`` mailbox full, ``5.0.0``,
``5.4.x`` routing, no status at all — is soft. Servers that write ``5.0.0`` and put the real code in
the diagnostic (Exchange: ``550 5.1.10 RESOLVER.ADR.RecipientNotFound``) are read by that code.
"""

from __future__ import annotations

import re
from email.message import Message

from .model import Recipient, Severity
from .parts import bare_address, field_blocks, header, one_line, walk_outer

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_DONE = ("delivered", "relayed", "expanded")


def severity(action: str, status: str) -> Severity:
    """What one recipient's Action and Status mean for the member (see the module's docstring)."""
    action = action.strip().lower()
    if action in _DONE:
        return Severity.DELIVERED
    if action == "delayed":
        return Severity.DELAYED
    klass, subject, _ = (status.split(".") + ["", "", ""])[:3]
    if subject == "7":
        return Severity.BLOCKED
    if action == "failed" and klass == "5" and subject == "1":
        return Severity.HARD
    return Severity.SOFT


def status_of(status: str, diagnostic: str) -> str:
    """The enhanced status code: the Status field, or the diagnostic's more specific one when the
    field says only ``X.0.0`` (or nothing)."""
    given = _STATUS.search(status)
    code = ".".join(given.groups()) if given else ""
    if not code or code.endswith(".0.0"):
        better = _STATUS.search(diagnostic)
        if better and (not code or better.group(1) == code[0]):
            return ".".join(better.groups())
    return code


def dsn_recipients(msg: Message) -> tuple[Recipient, ...]:
    """Every recipient block of the report's ``message/delivery-status`` part(s)."""
    found: list[Recipient] = []
    for part in walk_outer(msg):
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in field_blocks(part):
            address = bare_address(header(block, "Final-Recipient") or header(block, "Original-Recipient"))
            if "@" not in address:
                continue  # the per-message block (Reporting-MTA, Arrival-Date …)
            diagnostic = one_line(
                header(block, "Diagnostic-Code").partition(";")[2] or header(block, "Diagnostic-Code")
            )
            status = status_of(header(block, "Status"), diagnostic)
            action = header(block, "Action")
            found.append(Recipient(address, severity(action, status), status, diagnostic or action.lower()))
    return tuple(found)


def feedback_fields(msg: Message) -> Message | None:
    """The ``message/feedback-report`` part's fields (RFC 5965), or None."""
    for part in walk_outer(msg):
        if part.get_content_type() == "message/feedback-report":
            blocks = field_blocks(part)
            return blocks[0] if blocks else None
    return None


def first_status(text: str) -> str:
    match = _STATUS.search(text)
    return ".".join(match.groups()) if match else ""


__all__ = ["dsn_recipients", "feedback_fields", "first_status", "severity", "status_of"]
