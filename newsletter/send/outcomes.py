"""What happened to one message, in the engine's words: an ``Outcome`` and the ``Attempt`` behind it.

A transport (``smtp``) classifies each reply into an ``Outcome``; the send loop decides on it
(record, retry, back off, pause, stop). ``is_quota`` is the one reading of reply text the engine
does itself: a quota or throttling reply is about the whole send, not the member, and the loop
words its pause differently for it.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_QUOTA_WORDS = re.compile(r"throttl|quota|limit exceeded|rate limit|sending rate|exceeded .*limit", re.I)


class Outcome(enum.Enum):
    SENT = "sent"  # 250 to the final dot
    DEFER = "defer"  # 4xx: retry later with backoff
    RETRY = "retry"  # 421 "come back later": the connection backs off; the member's attempts are not spent
    LOST = "lost"  # no reply in time / connection lost before the final dot: the relay has nothing
    BOUNCE = "bounce"  # the mailbox or domain does not exist (5.1.x, "user unknown"): suppress
    FAILED = "failed"  # other permanent error for this message
    UNKNOWN = "unknown"  # connection lost after the final dot: the relay may have stored it
    PAUSE = "pause"  # quota, throttling, a refusal about the sender (5.7.x), relay unreachable: pause
    FATAL = "fatal"  # TLS or AUTH failure: stop, nothing changed


@dataclass(frozen=True)
class Attempt:
    """What happened to one message (or to a connection attempt)."""

    outcome: Outcome
    code: int | None
    reply: str
    stage: str  # connect, tls, auth, mail, rcpt, data, dot (or connection)
    timed_out: bool = False  # LOST because no reply came within the timeout (not a close)

    def describe(self) -> str:
        code = f"{self.code} " if self.code else ""
        return f"{code}{self.reply}".strip() + f" (at {self.stage})"


def enhanced_status(reply: str) -> str | None:
    match = _ENHANCED.search(reply)
    return match.group(0) if match else None


def is_quota(code: int, reply: str) -> bool:
    """Quota or throttling replies: not about the recipient, about the whole send."""
    status = enhanced_status(reply)
    if status == "5.4.5":
        return True
    if status is not None and status.split(".")[1] in ("1", "2"):
        return False  # x.1.x address / x.2.x mailbox status ("4.2.2 … over quota"): this recipient only
    if _QUOTA_WORDS.search(reply):
        return True
    return code == 421 and re.search(r"\brate\b", reply, re.I) is not None


__all__ = ["Attempt", "Outcome", "enhanced_status", "is_quota"]
