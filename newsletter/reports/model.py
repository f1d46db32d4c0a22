"""The values the classifier hands to the inbox runner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Kind(StrEnum):
    DSN = "dsn"  # RFC 3464 delivery status notification
    COMPLAINT = "complaint"  # RFC 5965 ARF feedback report
    UNSUBSCRIBE = "unsubscribe"  # "unsubscribe <token>" in the subject or the body
    AUTO_REPLY = "auto-reply"  # RFC 3834 and friends, out-of-office subjects
    NOTICE = "notice"  # a plain-text bounce (Exchange, Exim, qmail …): a guess, never enough alone
    PERSONAL = "personal"  # everything else: a member's reply; left exactly where it is


class Severity(StrEnum):
    """What one recipient's status means for the member."""

    HARD = "hard"  # Action: failed with 5.1.x: the mailbox or domain does not exist
    SOFT = "soft"  # failed with 4.x.x, 5.2.2 (mailbox full) or another transient/ambiguous status
    DELAYED = "delayed"  # Action: delayed: the relay still tries; recorded only
    BLOCKED = "blocked"  # 5.7.x: policy/reputation, about the sender: never suppresses the member
    DELIVERED = "delivered"  # Action: delivered / relayed / expanded: nothing to do


@dataclass(frozen=True)
class Recipient:
    """One recipient a report speaks of (a DSN's per-recipient fields; a notice's guessed address)."""

    address: str  # lower-case, without angle brackets or "rfc822;"
    severity: Severity
    status: str  # "5.1.1", "4.2.2", or "" when the report gives none
    diagnostic: str  # the receiving server's words (Diagnostic-Code), one line, ≤ 500 characters


@dataclass(frozen=True)
class Report:
    key: str  # the mail's Message-ID (with <>), or "sha256:…" of its bytes when it has none
    kind: Kind
    date: datetime | None  # the report's Date header (UTC), None when missing or unreadable
    sender: str  # the From address, lower-case ("" when none)
    subject: str
    recipients: tuple[
        Recipient, ...
    ] = ()  # DSN recipients, a complaint's reported address, a notice's guesses
    original_message_ids: tuple[str, ...] = ()  # of the mail the report is about, with <>, best first
    verp_candidates: tuple[str, ...] = ()  # addresses the report was sent to (To, Delivered-To, …)
    token: str = ""  # UNSUBSCRIBE: the token as written (checked by the runner)
    diagnostic: str = ""  # a line for the record when there are no recipients (feedback type …)


__all__ = ["Kind", "Recipient", "Report", "Severity"]
