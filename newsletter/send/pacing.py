"""When the send loop may send: the rate, a connection's patience with a relay that says "later",
and the words for a relay that makes the send stop.

A relay's "not now" is about the relay, never about a member: a ``421`` (come back later) backs
the connection off (1, 2, 4 … 32 s, on the injected clock) and a relay gone silent before the
final dot pauses the send after a few such events in a row — the members stay pending with
their attempts unspent. Only the member's own replies (4xx deferrals, 5xx refusals) spend attempts.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from ..clock import Clock
from .outcomes import Attempt, Outcome, is_quota

log = logging.getLogger("newsletter.delivery")

RELAY_BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # s before a connection reopens after 421s in a row
RELAY_SILENCE_LIMIT = 3  # timeouts / lost connections before the dot in a row (any connection) → pause


class Throttle:
    """The send's rate: the configured one, halved whenever the relay answers a transient
    throttling reply (``454 … Throttling``, ``421 … rate``); paces steadily, never in bursts."""

    GIVE_UP = 20  # throttling replies in a row (no 250 between them) that pause the send

    def __init__(self, rate: float | None, clock: Clock):
        self.rate, self.clock = rate, clock
        self.recent: deque[float] = deque()
        self.in_a_row = 0
        self.last_cut = float("-inf")
        self.next_slot = clock.monotonic()

    def sent(self) -> None:
        now = self.clock.monotonic()
        self.recent.append(now)
        while self.recent and self.recent[0] <= now - 1.0:
            self.recent.popleft()
        self.in_a_row = 0

    def throttled(self) -> bool:
        """Slow down; True when throttling goes on regardless (pause the send)."""
        self.in_a_row += 1
        now = self.clock.monotonic()
        if now - self.last_cut >= 1.0:
            observed = sum(1 for t in self.recent if t > now - 1.0) or (self.rate or 2.0)
            self.rate = max(0.5, min(observed, self.rate or observed) / 2)
            self.last_cut = now
            log.warning("the relay throttles: slowing down to %.1f messages/s", self.rate)
        return self.in_a_row >= self.GIVE_UP

    def pace(self) -> None:
        if not self.rate:
            return
        now = self.clock.monotonic()
        if self.next_slot > now:
            self.clock.sleep(self.next_slot - now)
            now = self.next_slot
        self.next_slot = max(self.next_slot, now) + 1.0 / self.rate


@dataclass
class Backoff:
    """One connection's wait after ``421`` replies in a row (no 250 between them)."""

    streak: int = 0
    not_before: float = 0.0  # clock.monotonic() before which the connection is not reopened

    def wait(self, now: float) -> bool:
        """Back off once more; False when the series is used up (the relay keeps refusing)."""
        if self.streak >= len(RELAY_BACKOFF):
            return False
        self.not_before = now + RELAY_BACKOFF[self.streak]
        self.streak += 1
        return True

    def reset(self) -> None:
        self.streak = 0


def transient(attempt: Attempt) -> bool:
    """A 4xx throttling reply (not a 5xx quota, not an unreachable relay): slow down, don't stop."""
    return attempt.code is not None and 400 <= attempt.code < 500 and attempt.stage != "connect"


def stop_reason(outcome: Outcome, attempt: Attempt) -> str:
    """Why a PAUSE or FATAL reply stopped the send, and what to do."""
    if outcome is Outcome.FATAL:
        return attempt.reply if attempt.stage in ("tls", "auth") else attempt.describe()
    if attempt.stage == "connect":
        return f"{attempt.reply}; the send is paused — run the same command again when the relay is back"
    if attempt.code is not None and attempt.code >= 500 and not is_quota(attempt.code, attempt.reply):
        return (
            f"the relay refuses mail from us: {attempt.describe()}; a refusal about the sender (policy, "
            "reputation, relaying or login), so nobody was marked bounced or suppressed and everyone not "
            "yet mailed is still pending — fix the cause (relay login, SPF/DKIM, a blocklist entry), "
            "then run the same command again"
        )
    return (
        f"the relay asked us to stop: {attempt.describe()}; the send is paused with everyone else still "
        "pending — run the same command again later (e.g. tomorrow for a daily quota)"
    )


def relay_silent_reason(attempt: Attempt, times: int) -> str:
    return (
        f"the relay stopped answering: {attempt.describe()}, {times} times in a row; nothing was marked "
        "failed and everyone not yet mailed is still pending — check the relay, then run the same "
        "command again"
    )


def waiting_reason(n: int, until: datetime | None) -> str:
    """Why a ``no_wait`` run ends: members whose retries are due later."""
    return (
        f"{n} member(s) wait for a retry until {until:%Y-%m-%d %H:%M} UTC; run the same command again "
        "then, or leave them to a running `newsletter scheduler`"
    )


def relay_busy_reason(attempt: Attempt) -> str:
    waits = ", ".join(f"{s:g}" for s in RELAY_BACKOFF[:3])
    return (
        f"the relay keeps answering {attempt.describe()}: {len(RELAY_BACKOFF) + 1} times in a row on a new "
        f"connection, waiting {waits} … {RELAY_BACKOFF[-1]:g} s between them; no member's attempts were "
        "spent and everyone not yet mailed is still pending — run the same command again later"
    )
