"""What a send returns: the ``SendReport`` of a run (or a dry run), a proof's ``TestResult``, and
the ledger's answers the report carries (``FailedRow``, ``LedgerCounts``; ``store.ledger`` makes them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ..model import DeliveryState, Problem, SendState

# rows that ended without the message being delivered; `--retry-failed` sends them again
NOT_DELIVERED = (DeliveryState.FAILED, DeliveryState.UNKNOWN)


@dataclass(frozen=True)
class FailedRow:
    address: str
    state: str
    edition: str
    attempts: int
    last_code: int | None
    last_reply: str | None
    updated_at: datetime

    @property
    def reply_text(self) -> str:
        """The relay's reply with its code once: the stored reply usually starts with it already."""
        code, reply = str(self.last_code or ""), (self.last_reply or "").strip()
        if code and not reply.startswith(code):
            return f"{code} {reply}".strip()
        return reply


@dataclass(frozen=True)
class LedgerCounts:
    issue: str
    total: Mapping[str, int]  # state → rows
    by_edition: Mapping[str, Mapping[str, int]]  # "poland+usa.de" → state → rows
    by_segment: Mapping[str, Mapping[str, int]]  # "poland" → state → rows (a member of two counts in both)
    sends: tuple[Mapping[str, object], ...] = field(default=())  # the runs, oldest first

    @property
    def rows(self) -> int:
        return sum(self.total.values())

    def get(self, state: str) -> int:
        return self.total.get(state, 0)


@dataclass(frozen=True)
class PlannedMessage:
    address: str
    edition: str  # str(EditionKey), as the ledger stores it
    status: str  # "send", "retry", or the ledger state that means nothing goes out (sent, suppressed …)


@dataclass(frozen=True)
class SendReport:
    issue: str
    segments: tuple[str, ...]
    state: SendState  # finished | paused | stopped | waiting (--no-wait, retries due later) | dry-run
    reason: str | None
    audience: int  # members addressed by this run
    editions: Mapping[str, int]  # edition key → members of this run
    outcomes: Mapping[
        DeliveryState, int
    ]  # states written this run (sent, bounced, failed, unknown, suppressed)
    pending: int  # rows of this run still pending (deferred retries, paused)
    rejected: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()
    failures: tuple[FailedRow, ...] = ()  # failed / unknown / bounced rows of this run's audience
    plan: tuple[PlannedMessage, ...] = ()  # dry run only
    counts: LedgerCounts | None = None
    attempts: int = 0
    elapsed: float = 0.0
    send_id: int | None = None
    # valid members in none of the segments named and not mailed by an earlier run, by their
    # segment key ("usa", "general" = in no segment): what `--to` leaves out (issue 10, item 7)
    left_out: Mapping[str, int] = field(default_factory=dict)
    retry_until: datetime | None = None  # the last due retry among the pending rows (UTC)

    @property
    def sent(self) -> int:
        return self.outcomes.get(DeliveryState.SENT, 0)

    @property
    def exit_code(self) -> int:
        if self.state == SendState.DRY_RUN:
            return 0
        trouble = self.pending or any(f.state in NOT_DELIVERED for f in self.failures)
        return 0 if self.state == SendState.FINISHED and not trouble else 1


@dataclass(frozen=True)
class TestResult:
    address: str
    accepted: bool
    reply: str


__all__ = ["NOT_DELIVERED", "FailedRow", "LedgerCounts", "PlannedMessage", "SendReport", "TestResult"]
