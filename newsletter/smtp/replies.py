"""An SMTP reply → the ``Outcome`` the send loop acts on: by code, enhanced status and wording.

A 4xx is "later" (421: the connection backs off), a refusal about us (5.7.x, relaying, the
sender address, a refused MAIL FROM) pauses the send instead of bouncing every member, and only
a reply naming the mailbox or domain (5.1.x, "user unknown") makes a bounce that suppresses.
"""

from __future__ import annotations

import re

from ..send.outcomes import Outcome, enhanced_status, is_quota

_RELAY_DENIED = re.compile(
    r"relay(ing)? (access )?(denied|not permitted|prohibited)|unable to relay|authentication required"
    r"|not authenticated|sender address rejected",
    re.I,
)
# A plain 5xx (no enhanced status) that says the mailbox does not exist; "mailbox unavailable"
# alone is RFC 5321's stock text for any 550, policy refusals included, so it is not enough.
_NO_SUCH_MAILBOX = re.compile(
    r"user unknown|unknown (user|recipient|mailbox)|recipient unknown|no such (user|mailbox|recipient|address|account)"
    r"|(does not|doesn't|not) exist|invalid (recipient|mailbox)|mailbox not found|address not found",
    re.I,
)
_SENDER_STATUS = ("5.1.7", "5.1.8")  # bad sender mailbox / sender's system address: about us


def refuses_sender(code: int, reply: str) -> bool:
    """A permanent refusal about us, not the member: policy, reputation, relaying, authentication
    (5.7.x, e.g. "Unable to relay", "blocked using zen.spamhaus.org") or our sender address."""
    status = enhanced_status(reply) or ""
    return (
        status.startswith("5.7.")
        or status in _SENDER_STATUS
        or code == 530
        or bool(_RELAY_DENIED.search(reply))
    )


def names_dead_mailbox(reply: str) -> bool:
    """Only a status naming the mailbox or domain (5.1.x), or a plain 5xx saying the user is
    unknown, makes a bounce — the one outcome that suppresses the member for ever."""
    status = enhanced_status(reply)
    if status is not None and status.startswith("5.1."):
        return True
    return status in (None, "5.0.0") and bool(_NO_SUCH_MAILBOX.search(reply))


def classify(stage: str, code: int, reply: str) -> Outcome:
    """One SMTP reply at one stage of a transaction → what the send loop does about it."""
    if 200 <= code < 400:
        return Outcome.SENT
    if is_quota(code, reply):
        return Outcome.PAUSE
    if stage == "auth":
        return Outcome.FATAL
    if code == 421:
        return Outcome.RETRY
    if 400 <= code < 500:
        return Outcome.DEFER
    if stage == "mail" or refuses_sender(code, reply):
        return Outcome.PAUSE  # every member would be refused alike: never bounce or suppress them
    if names_dead_mailbox(reply):
        return Outcome.BOUNCE
    return Outcome.FAILED  # e.g. "552 5.2.2 Mailbox full": this member, this time; not suppressed


def reply_text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


__all__ = ["classify", "names_dead_mailbox", "refuses_sender", "reply_text"]
