"""Due retries of any issue, sent by a running ``newsletter scheduler``.

A send whose last run ended ``waiting`` (``send --no-wait``, or a resumption like this one that
met new 4xx replies) is resumed when its pending rows fall due: through the one send path
(``send.run.run_send``, ``no_wait`` on, with the segments of the issue's sends) and only for the
addresses already in its ledger, so a resumption never adds members — a per-member-timezone job's
neighbours included. A paused or stopped send waits for a person; one with a live send lease
(a ``send`` waiting in its own process) is left to that process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func, select

from ..clock import Clock
from ..config import Config
from ..model import OPEN_STATES, DeliveryState, NewsletterError, SendState
from ..store.leases import is_alive
from ..store.ledger import lease_name
from ..store.tables import deliveries, sends

if TYPE_CHECKING:
    from ..send.protocols import SendParts
    from ..send.report import SendReport

log = logging.getLogger("newsletter.scheduler")
REST_SECONDS = 60.0  # after a resumption that could not start (relay down, issue broken): wait this long


@dataclass(frozen=True)
class DueRetries:
    issue: str
    segments: tuple[str, ...]  # every segment the issue was sent to, in first-sent order
    due: int  # pending rows due now
    addresses: frozenset[str]  # the issue's open rows: what a resumption may mail


def due_retries(engine: Engine, now: datetime, clock: Clock) -> list[DueRetries]:
    """Issues whose last send ended waiting and whose retries are due, with no live send lease."""
    c = deliveries.c
    is_due = (c.state == DeliveryState.PENDING) & c.next_attempt_at.is_not(None) & (c.next_attempt_at <= now)
    found = []
    with engine.connect() as conn:
        for issue, due in conn.execute(select(c.issue, func.count()).where(is_due).group_by(c.issue)).all():
            runs = conn.execute(
                select(sends.c.state, sends.c.segments).where(sends.c.issue == issue).order_by(sends.c.id)
            ).all()
            if not runs or runs[-1].state != SendState.WAITING or is_alive(engine, lease_name(issue), clock):
                continue
            segments = dict.fromkeys(seg for run in runs for seg in run.segments.split(",") if seg)
            open_rows = select(c.address).where(c.issue == issue, c.state.in_(OPEN_STATES))
            addresses = frozenset(r.address for r in conn.execute(open_rows))
            found.append(DueRetries(issue, tuple(segments), int(due), addresses))
    return found


class RetryPoller:
    """The scheduler's side: finds due retries on each poll and resumes each issue once at a time."""

    def __init__(self, config: Config, engine: Engine, clock: Clock, parts: SendParts):
        self.config, self.engine, self.clock, self.parts = config, engine, clock, parts
        self._running: set[str] = set()
        self._rest_until: dict[str, float] = {}
        self._guard = threading.Lock()

    def due(self) -> list[DueRetries]:
        """Issues to resume now: not being resumed already, not resting after a failed start."""
        now = self.clock.monotonic()
        found = due_retries(self.engine, self.clock.now(), self.clock)
        with self._guard:
            fresh = [
                d for d in found if d.issue not in self._running and self._rest_until.get(d.issue, 0) <= now
            ]
            self._running.update(d.issue for d in fresh)
        return fresh

    def run(self, item: DueRetries, should_stop: Callable[[], bool], issue_lock: threading.Lock) -> None:
        """Resume one issue's send (an APScheduler job); ``issue_lock`` is the scheduler's per-issue lock."""
        try:
            if not issue_lock.acquire(blocking=False):
                return  # a scheduled job of this issue is sending: it mails the due retries too
            try:
                self._resume(item, should_stop)
            finally:
                issue_lock.release()
        finally:
            with self._guard:
                self._running.discard(item.issue)

    def _resume(self, item: DueRetries, should_stop: Callable[[], bool]) -> None:
        from ..send.run import run_send
        from .service import describe_report

        log.info(
            "retry: %s: %d due retries (segments %s); resuming the send",
            item.issue,
            item.due,
            ",".join(item.segments),
        )
        try:
            report: SendReport = run_send(
                self.config,
                self.config.issues_dir / item.issue,
                item.segments,
                parts=self.parts,
                clock=self.clock,
                should_stop=should_stop,
                only_addresses=item.addresses,
                no_wait=True,
            )
        except Exception as exc:  # a refusal (lease taken, relay down …) or a bug: try again later
            (log.warning if isinstance(exc, NewsletterError) else log.exception)(
                "retry: %s: not resumed: %s; trying again in %g s", item.issue, exc, REST_SECONDS
            )
            with self._guard:
                self._rest_until[item.issue] = self.clock.monotonic() + REST_SECONDS
            return
        log.info("retry: %s: %s (%s)", item.issue, report.state, describe_report(report))
