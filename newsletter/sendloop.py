"""The send loop: one coordinator thread owns the ledger, N worker threads own one SMTP
connection each.

The coordinator claims rows (``pending → sending``), checks the suppression list right
before each message, paces the rate, hands one job to an idle worker and writes each
outcome in its own commit before that worker gets its next job — so at most one message
per connection can have been accepted by the relay but not yet recorded (the duplicate
window after a ``kill -9``). Workers personalise and send; they never touch the database.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import os
import selectors
import signal
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .clock import Clock
from .config import SmtpSettings
from .ledger import Ledger, LedgerSession, Row
from .model import ConfigError, Member
from .smtp import Attempt, Connection, Outcome, Transport, TransportError
from .smtpmux import MuxConnection

if TYPE_CHECKING:
    from .compose import MessageTemplate

log = logging.getLogger("newsletter.delivery")
CLAIM_BATCH = 64
HEARTBEAT_SECONDS = 10.0
IDLE_RECONNECT_SECONDS = 30.0  # relays time idle connections out (Postfix: 300 s, 10 s under stress)


@dataclass(frozen=True)
class Progress:
    """Handed to the ``progress`` callback after every outcome."""

    total: int  # messages this run set out to send
    done: int  # rows finished (sent, bounced, failed, unknown, suppressed)
    sent: int
    failed: int  # failed + bounced + unknown
    deferred: int  # 4xx replies waiting for a retry
    elapsed: float  # seconds
    paused: str | None = None


@dataclass(frozen=True)
class LoopResult:
    state: str  # finished | paused | stopped
    reason: str | None
    outcomes: Mapping[str, int]  # final row states written this run → count
    attempts: int
    reconnects: int


@dataclass
class Job:
    row: Row
    member: Member
    template: MessageTemplate
    message: tuple[str, str, str | None, bytes] | None = None  # built by the coordinator just before sending


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


def compose(template: MessageTemplate, member: Member) -> tuple[str, str, str | None, bytes]:
    """(envelope from, recipient, message id, bytes) for one member; the bytes have CRLF line ends."""
    message = template.personalise(member)
    return message.envelope_from, message.recipient, message.message_id, message.data


@dataclass
class _Slot:
    """One connection of the send and the job it carries."""

    mux: MuxConnection | None = None
    job: Job | None = None
    events: int = 0  # what the selector watches for it
    used: float = 0.0  # clock.monotonic() when its connection last finished a message (or opened)

    def idle(self) -> bool:
        return self.job is None and (self.mux is None or not self.mux.busy)


class _Throttle:
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
class _State:
    ready: deque[int] = field(default_factory=deque)  # due row ids, not yet claimed
    waiting: list[tuple[datetime, int]] = field(default_factory=list)  # (next attempt, id) heap
    claimed: deque[int] = field(default_factory=deque)
    outcomes: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    dispatched: int = 0
    deferred: int = 0
    failures_in_a_row: int = 0
    stop: tuple[str, str] | None = None


class SendLoop:
    def __init__(
        self,
        *,
        ledger: Ledger,
        issue: str,
        holder: str,
        transport: Transport,
        first_connection: Connection | None,
        settings: SmtpSettings,
        clock: Clock,
        jobs: Mapping[int, Job],
        crash: CrashHook = CrashHook(),
        progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool | str | None] | None = None,
    ):
        self.ledger, self.issue, self.holder = ledger, issue, holder
        self.transport, self.settings, self.clock = transport, settings, clock
        self.jobs, self.crash, self.progress, self.should_stop = jobs, crash, progress, should_stop
        count = max(1, min(settings.connections, len(jobs) or 1))
        self.slots = [_Slot() for _ in range(count)]
        if first_connection is not None:
            self.slots[0].mux = MuxConnection(first_connection, settings.timeout)  # type: ignore[arg-type]
            self.slots[0].used = clock.monotonic()
        self.selector = selectors.DefaultSelector()
        self.reconnects = 0
        self.s = _State()
        now = clock.now()
        for row_id, job in jobs.items():
            at = job.row.next_attempt_at
            if at is None or at <= now:
                self.s.ready.append(row_id)
            else:
                heapq.heappush(self.s.waiting, (at, row_id))
        self.throttle = _Throttle(settings.rate, clock)
        self._started = time.monotonic()
        self._beat = time.monotonic()

    def run(self) -> LoopResult:
        session = self.ledger.session()
        try:
            while True:
                self._housekeeping()
                self._fill(session)
                busy = [slot for slot in self.slots if not slot.idle()]
                if not busy:
                    if self.s.stop is not None or not (self.s.ready or self.s.claimed or self.s.waiting):
                        break
                    self._wait_for_retry()
                    continue
                self._poll(session, busy)
        finally:
            for slot in self.slots:
                self._drop(slot)
            self.selector.close()
            session.close()
            self.ledger.release_claims(self.issue, self.holder, self.clock.now())
        state, reason = self.s.stop or ("finished", None)
        return LoopResult(state, reason, dict(self.s.outcomes), self.s.attempts, self.reconnects)

    # ── connections ──

    def _fill(self, session: LedgerSession) -> None:
        for slot in list(self.slots):
            if self.s.stop is not None or not slot.idle():
                continue
            job = self._next_job(session)
            if job is None:
                return
            self.throttle.pace()
            self.s.dispatched += 1
            self.crash.check(self.s.dispatched, "before_send")
            failed = self._start(slot, job)
            if failed is not None and not self._shrink(slot, job, failed):
                self._handle(session, job, failed)

    def _shrink(self, slot: _Slot, job: Job, failed: Attempt) -> bool:
        """A connection the relay refuses while others of this send are open (typically
        ``421 … maximum number of concurrent connections``) is not an unreachable relay: go on
        with one connection fewer and give the job to another one, instead of pausing the send."""
        if failed.stage != "connect" or failed.outcome is not Outcome.PAUSE:
            return False
        if not any(s.mux is not None and not s.mux.closed for s in self.slots if s is not slot):
            return False
        log.warning(
            "the relay refused one more connection (%s); going on with %d", failed.reply, len(self.slots) - 1
        )
        self._drop(slot)
        self.slots.remove(slot)
        self.s.claimed.appendleft(job.row.id)
        return True

    def _start(self, slot: _Slot, job: Job) -> Attempt | None:
        mux = slot.mux
        idle = self.clock.monotonic() - slot.used > IDLE_RECONNECT_SECONDS  # e.g. after a retry backoff
        if mux is not None and (mux.closed or mux.sent >= self.transport.per_connection or idle):
            self._drop(slot)
        if slot.mux is None:
            try:
                conn = self.transport.connect()
            except TransportError as exc:
                return Attempt(exc.attempt.outcome, exc.attempt.code, str(exc), exc.attempt.stage)
            slot.mux = MuxConnection(conn, self.settings.timeout)  # type: ignore[arg-type]
            self.reconnects += 1
        slot.used = self.clock.monotonic()
        assert job.message is not None
        envelope_from, recipient, _message_id, data = job.message
        slot.job = job
        slot.mux.start(envelope_from, recipient, data, time.monotonic(), crlf=True)  # compose made it CRLF
        return None

    def _poll(self, session: LedgerSession, busy: list[_Slot]) -> None:
        now = time.monotonic()
        for slot in self.slots:
            self._watch(slot)
        deadline = min(slot.mux.deadline for slot in busy if slot.mux is not None)
        for key, _events in self.selector.select(max(0.0, deadline - now) + 0.01):
            slot = key.data
            if slot.mux is not None and not slot.mux.closed:
                self._finish(session, slot, slot.mux.step(time.monotonic()))
        now = time.monotonic()
        for slot in busy:
            if slot.mux is not None and not slot.mux.closed:
                self._finish(session, slot, slot.mux.expired(now))
            elif slot.job is not None:  # closed under a job without an outcome (should not happen)
                self._finish(session, slot, Attempt(Outcome.RETRY, None, "connection closed", "connection"))

    def _finish(self, session: LedgerSession, slot: _Slot, attempt: Attempt | None) -> None:
        if attempt is None or slot.job is None:
            return
        job, slot.job = slot.job, None
        slot.used = self.clock.monotonic()
        if slot.mux is not None and slot.mux.closed:
            self._unwatch(slot)
            slot.mux = None
        self._handle(session, job, attempt)

    def _watch(self, slot: _Slot) -> None:
        mux = slot.mux
        wanted = 0
        if mux is not None and not mux.closed and mux.busy:
            wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if mux.wants_write else 0)
        if wanted == slot.events:
            return
        if slot.events and wanted:
            self.selector.modify(mux.sock, wanted, slot)  # type: ignore[union-attr]
        elif wanted:
            self.selector.register(mux.sock, wanted, slot)  # type: ignore[union-attr]
        else:
            self._unwatch(slot)
            return
        slot.events = wanted

    def _unwatch(self, slot: _Slot) -> None:
        if slot.events and slot.mux is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.selector.unregister(slot.mux.sock)
        slot.events = 0

    def _drop(self, slot: _Slot) -> None:
        self._unwatch(slot)
        if slot.mux is not None:
            slot.mux.close()
            slot.mux = None

    # ── dispatching ──

    def _next_job(self, session: LedgerSession) -> Job | None:
        while True:
            if not self.s.claimed:
                self._claim(session)
                if not self.s.claimed:
                    return None
            row_id = self.s.claimed.popleft()
            job = self.jobs[row_id]
            if session.is_suppressed(job.row.address):
                self._write(session, job, "suppressed", None, "on the suppression list", job.row.attempts)
                continue
            try:
                job.message = compose(job.template, job.member)
            except ConfigError as exc:  # the configuration (e.g. the DKIM key), not this member
                self._write(
                    session, job, "pending", None, f"message could not be built: {exc}", job.row.attempts
                )
                if self.s.stop is None:
                    self.s.stop = (
                        "stopped",
                        f"{exc}; nothing more was sent — fix it and run the same command again",
                    )
                return None
            except Exception as exc:  # one broken member row must not stop the send
                log.exception("cannot build the message for %s", job.row.address)
                reply = f"message could not be built: {exc}"
                self._write(session, job, "failed", None, reply, job.row.attempts)
                continue
            return job

    def _claim(self, session: LedgerSession) -> None:
        now = self.clock.now()
        while self.s.waiting and self.s.waiting[0][0] <= now:
            self.s.ready.append(heapq.heappop(self.s.waiting)[1])
        batch = [self.s.ready.popleft() for _ in range(min(CLAIM_BATCH, len(self.s.ready)))]
        if batch:
            self.s.claimed.extend(session.claim(batch, self.holder, now))

    def _wait_for_retry(self) -> None:
        if self.s.ready or self.s.claimed or not self.s.waiting:
            return
        wait = (self.s.waiting[0][0] - self.clock.now()).total_seconds()
        self.clock.sleep(min(max(wait, 0.0), 5.0))

    def _housekeeping(self) -> None:
        asked = self.should_stop() if self.s.stop is None and self.should_stop is not None else None
        if asked:  # a str says why, e.g. "stopped by SIGTERM; run the same command again to continue"
            default = "stopped on request; run the same command again to continue"
            self.s.stop = ("stopped", asked if isinstance(asked, str) else default)
        if time.monotonic() - self._beat > HEARTBEAT_SECONDS:
            self._beat = time.monotonic()
            if not self.ledger.heartbeat(self.issue, self.holder) and self.s.stop is None:
                # another process took the expired lease and recovers our rows: never mail in parallel
                self.s.stop = (
                    "stopped",
                    "lost the send lease (this process stalled and another send of the issue took over); "
                    "check `newsletter status`, then run the same command again if needed",
                )

    # ── outcomes ──

    def _handle(self, session: LedgerSession, job: Job, attempt: Attempt) -> None:
        s = self.s
        message_id = job.message[2] if job.message else None
        outcome, tries = attempt.outcome, job.row.attempts + 1
        if outcome is Outcome.PAUSE and _transient(attempt) and not self.throttle.throttled():
            self._write(session, job, "pending", attempt, attempt.describe(), job.row.attempts)
            s.ready.appendleft(job.row.id)  # again, at the lower rate
            return
        if outcome in (Outcome.PAUSE, Outcome.FATAL):
            self._write(session, job, "pending", attempt, attempt.describe(), job.row.attempts)
            if s.stop is None:
                state = "paused" if outcome is Outcome.PAUSE else "stopped"
                s.stop = (state, _stop_reason(outcome, attempt))
            return
        s.attempts += 1
        if outcome is Outcome.SENT:
            self.crash.check(s.dispatched, "after_250")
            self._write(session, job, "sent", attempt, attempt.reply, tries, message_id)
            self.crash.check(s.dispatched, "after_commit")
            self.throttle.sent()
            s.failures_in_a_row = 0
        elif self._retryable(outcome) and tries < self.settings.max_attempts:
            self._defer(session, job, attempt, tries, message_id)
        else:
            state = {Outcome.BOUNCE: "bounced", Outcome.UNKNOWN: "unknown"}.get(outcome, "failed")
            self._write(session, job, state, attempt, attempt.describe(), tries, message_id)
            s.failures_in_a_row += 1
            if s.failures_in_a_row >= self.settings.error_budget and s.stop is None:
                s.stop = (
                    "paused",
                    f"{s.failures_in_a_row} failures in a row (last: {attempt.describe()}); "
                    "check the relay and the list, then run the same command again",
                )
        self._report()

    def _retryable(self, outcome: Outcome) -> bool:
        # resend_unknown = true: a message whose 250 was lost is sent again (may duplicate, never lost)
        return outcome in (Outcome.DEFER, Outcome.RETRY) or (
            outcome is Outcome.UNKNOWN and self.settings.resend_unknown
        )

    def _defer(
        self, session: LedgerSession, job: Job, attempt: Attempt, tries: int, message_id: str | None
    ) -> None:
        backoff = self.settings.retry_backoff or (60.0,)
        delay = 0.0 if attempt.outcome is Outcome.RETRY else backoff[min(tries - 1, len(backoff) - 1)]
        at = self.clock.now() + timedelta(seconds=delay)
        job.row = Row(job.row.id, job.row.address, job.row.edition, "pending", tries, at)
        self._write(session, job, "pending", attempt, attempt.describe(), tries, message_id, next_at=at)
        self.s.deferred += 1
        if delay <= 0:
            self.s.ready.appendleft(job.row.id)
        else:
            heapq.heappush(self.s.waiting, (at, job.row.id))

    def _write(
        self,
        session: LedgerSession,
        job: Job,
        state: str,
        attempt: Attempt | None,
        reply: str,
        tries: int,
        message_id: str | None = None,
        next_at: datetime | None = None,
    ) -> None:
        session.record(
            job.row.id,
            state,
            now=self.clock.now(),
            code=attempt.code if attempt else None,
            reply=reply,
            attempts=tries,
            message_id=message_id,
            next_attempt_at=next_at,
            suppress=(job.row.address, f"smtp {attempt.describe()}")
            if state == "bounced" and attempt
            else None,
        )
        if state != "pending":
            self.s.outcomes[state] += 1

    def _report(self) -> None:
        if self.progress is None:
            return
        o = self.s.outcomes
        self.progress(
            Progress(
                total=len(self.jobs),
                done=sum(o.values()),
                sent=o["sent"],
                failed=o["failed"] + o["bounced"] + o["unknown"],
                deferred=self.s.deferred,
                elapsed=time.monotonic() - self._started,
            )
        )


def _transient(attempt: Attempt) -> bool:
    """A 4xx throttling reply (not a 5xx quota, not an unreachable relay): slow down, don't stop."""
    return attempt.code is not None and 400 <= attempt.code < 500 and attempt.stage != "connect"


def _stop_reason(outcome: Outcome, attempt: Attempt) -> str:
    if outcome is Outcome.FATAL:
        return attempt.reply if attempt.stage in ("tls", "auth") else attempt.describe()
    if attempt.stage == "connect":
        return f"{attempt.reply}; the send is paused — run the same command again when the relay is back"
    return (
        f"the relay asked us to stop: {attempt.describe()}; the send is paused with everyone else still "
        "pending — run the same command again later (e.g. tomorrow for a daily quota)"
    )
