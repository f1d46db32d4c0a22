"""What goes into the send loop and what comes out of it: a ledger row and a member's job, the
progress handed to the display, the loop's result, and the crash hook of the fault tests."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ..model import DeliveryState, Member, SendState

if TYPE_CHECKING:
    from ..mail.compose import ComposedMessage, MessageTemplate


@dataclass(frozen=True)
class Row:
    """What the send loop needs of one ledger row (``store.ledger`` reads them)."""

    id: int
    address: str
    edition: str
    state: str  # a DeliveryState value, as stored
    attempts: int
    next_attempt_at: datetime | None


@dataclass(frozen=True)
class Progress:
    """Handed to the ``progress`` callback after every outcome."""

    total: int  # messages this run set out to send
    done: int  # rows finished (sent, bounced, failed, unknown, suppressed)
    sent: int
    failed: int  # failed + bounced + unknown
    deferred: int  # 4xx replies so far that were put back for a retry (a running total)
    elapsed: float  # seconds
    paused: str | None = None
    waiting: int = 0  # members now waiting for a retry that is due later
    waiting_next: datetime | None = None  # when the first of them is due (UTC)
    waiting_until: datetime | None = None  # when the last of them is due (UTC)
    idle: bool = False  # nothing in flight: the send waits for those retries

    @classmethod
    def of(
        cls,
        total: int,
        outcomes: Mapping[DeliveryState, int],
        deferred: int,
        elapsed: float,
        waiting: list[tuple[datetime, int]],  # the loop's heap of (due, row id)
        latest_due: datetime | None,
        idle: bool,
    ) -> Progress:
        o = outcomes
        return cls(
            total=total,
            done=sum(o.values()),
            sent=o.get(DeliveryState.SENT, 0),
            failed=sum(
                o.get(s, 0) for s in (DeliveryState.FAILED, DeliveryState.BOUNCED, DeliveryState.UNKNOWN)
            ),
            deferred=deferred,
            elapsed=elapsed,
            waiting=len(waiting),
            waiting_next=waiting[0][0] if waiting else None,
            waiting_until=latest_due if waiting else None,
            idle=idle,
        )


@dataclass(frozen=True)
class LoopResult:
    state: SendState  # finished | paused | stopped | waiting (no_wait: only retries due later are left)
    reason: str | None
    outcomes: Mapping[DeliveryState, int]  # final row states written this run → count
    attempts: int
    reconnects: int


@dataclass
class Job:
    row: Row
    member: Member
    template: MessageTemplate
    message: ComposedMessage | None = None  # composed by the loop just before sending
    lost: int = 0  # connections lost under this member in this run (not counted as its attempts)


@dataclass(frozen=True)
class CrashHook:
    """NEWSLETTER_CRASH_AT / NEWSLETTER_CRASH_POINT: SIGKILL ourselves at message n (tests)."""

    at: int = 0
    point: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CrashHook:
        at = env.get("NEWSLETTER_CRASH_AT", "")
        return cls(int(at) if at.isdigit() else 0, env.get("NEWSLETTER_CRASH_POINT", ""))

    def check(self, n: int, point: str) -> None:
        if self.at and n == self.at and point == self.point:
            os.kill(os.getpid(), signal.SIGKILL)
