"""The send loop: one thread owns the ledger and drives N non-blocking SMTP connections
(``slots``; the connections come from the transport, see ``protocols``) through one selector.

It claims rows (``pending → sending``), checks the suppression list and the member's current
choice of language and segments right before each message (``retarget``: another edition, rendered
at send start),
paces the rate (``pacing``), starts one transaction per idle connection and commits each outcome
before that connection gets its next message (one commit per poll cycle for every connection that
answered in it), so at most one message per connection can have been accepted by the relay but
not yet recorded (the duplicate window after a ``kill -9``). A relay's "not now" (421, silence
before the dot) leaves the member pending with its attempts unspent; retries due later are
waited for, or with ``no_wait`` left in the ledger.
"""

from __future__ import annotations

import gc
import heapq
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..clock import Clock
from ..config import SmtpSettings
from ..model import ConfigError, DeliveryState, SendState
from .job import CrashHook, Job, LoopResult, Progress, Row
from .outcomes import Attempt, Outcome
from .pacing import (
    RELAY_SILENCE_LIMIT,
    Throttle,
    relay_busy_reason,
    relay_silent_reason,
    stop_reason,
    transient,
    waiting_reason,
)
from .protocols import Connection, Store, StoreSession, Transport
from .retarget import LEFT, Retarget
from .slots import Connections, Slot

log = logging.getLogger("newsletter.delivery")
_FINAL = {Outcome.BOUNCE: DeliveryState.BOUNCED, Outcome.UNKNOWN: DeliveryState.UNKNOWN}  # else failed
CLAIM_BATCH = 64
HEARTBEAT_SECONDS = 10.0


@dataclass
class _State:
    ready: deque[int] = field(default_factory=deque)  # due row ids, not yet claimed
    waiting: list[tuple[datetime, int]] = field(default_factory=list)  # (next attempt, id) heap
    latest_due: datetime | None = None  # the last due time in ``waiting``
    claimed: deque[int] = field(default_factory=deque)
    outcomes: Counter[DeliveryState] = field(default_factory=Counter)
    attempts: int = 0
    dispatched: int = 0
    deferred: int = 0
    failures_in_a_row: int = 0
    silent_in_a_row: int = 0  # timeouts / lost connections before the dot with no reply between
    stop: tuple[SendState, str] | None = None
    uncommitted: list[int] = field(default_factory=list)  # 250s recorded since the last commit (crash hook)
    reports: list[Progress] = field(default_factory=list)  # handed to ``progress`` after the commit


class SendLoop:
    def __init__(
        self,
        *,
        ledger: Store,
        issue: str,
        holder: str,
        transport: Transport,
        first_connection: Connection | None,
        settings: SmtpSettings,
        clock: Clock,
        jobs: Mapping[int, Job],
        crash: CrashHook | None = None,
        progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool | str | None] | None = None,
        no_wait: bool = False,
        retarget: Retarget | None = None,
    ):
        self.ledger, self.issue, self.holder, self.no_wait = ledger, issue, holder, no_wait
        self.retarget = retarget
        self.transport, self.settings, self.clock = transport, settings, clock
        self.jobs, self.progress, self.should_stop = jobs, progress, should_stop
        self.crash = crash or CrashHook()
        count = max(1, min(settings.connections, len(jobs) or 1))
        self.conns = Connections(transport, settings, clock, count, first_connection)
        self.s = _State()
        now = clock.now()
        for row_id, job in jobs.items():
            at = job.row.next_attempt_at
            if at is None or at <= now:
                self.s.ready.append(row_id)
            else:
                self._wait_for(at, row_id)
        self.throttle = Throttle(settings.rate, clock)
        self._started = time.monotonic()
        self._beat = time.monotonic()

    def run(self) -> LoopResult:
        session = self.ledger.session()
        # the run's jobs, members and templates live until its end: keep the cyclic garbage
        # collector from walking them again and again (≈ 8 % of the loop's CPU at 20,000 members)
        gc.freeze()
        try:
            self._report(idle=not self.s.ready)  # at once: a resumed send says what it waits for
            self._deliver()
            while True:
                self._commit(session)  # every outcome so far is durable before any next message
                self._housekeeping()
                self._fill(session)
                busy = self.conns.busy()
                if not busy:
                    s = self.s
                    if s.stop is not None or not (s.ready or s.claimed or s.waiting):
                        break
                    if self.no_wait and not (s.ready or s.claimed):
                        s.stop = (SendState.WAITING, waiting_reason(len(s.waiting), s.latest_due))
                        break
                    self._commit(session)
                    self._idle()
                    continue
                self._poll(session, busy)
        finally:
            gc.unfreeze()
            self.conns.close()
            session.close()
            self.ledger.release_claims(self.issue, self.holder, self.clock.now())
        state, reason = self.s.stop or (SendState.FINISHED, None)
        return LoopResult(state, reason, dict(self.s.outcomes), self.s.attempts, self.conns.reconnects)

    def _commit(self, session: StoreSession) -> None:
        """End the session's transaction; only then the progress callback (which may itself write
        to the database, e.g. an unsubscribe) and the heartbeat run, never under its write lock."""
        session.commit()
        for n in self.s.uncommitted:
            self.crash.check(n, "after_commit")
        self.s.uncommitted.clear()
        self._deliver()

    def _deliver(self) -> None:
        reports, self.s.reports, progress = self.s.reports, [], self.progress
        if progress is not None:
            for report in reports:
                progress(report)

    # ── connections ──

    def _fill(self, session: StoreSession) -> None:
        now = self.clock.monotonic()
        for slot in list(self.conns.slots):
            if self.s.stop is not None or not slot.idle() or now < slot.backoff.not_before:
                continue
            job = self._next_job(session)
            if job is None:
                return
            if self.throttle.rate:
                self._commit(session)  # a paced send never sleeps in an open transaction
                self.throttle.pace()
            self.s.dispatched += 1
            self.crash.check(self.s.dispatched, "before_send")
            failed = self.conns.start(slot, job)
            if failed is not None and not self._shrink(slot, job, failed):
                self._handle(session, job, failed, slot)

    def _shrink(self, slot: Slot, job: Job, failed: Attempt) -> bool:
        """A connection the relay refuses while others of this send are open (typically
        ``421 … maximum number of concurrent connections``) is not an unreachable relay: go on
        with one connection fewer and give the job to another one, instead of pausing the send."""
        if failed.stage != "connect" or failed.outcome is not Outcome.PAUSE:
            return False
        if not self.conns.others_open(slot):
            return False
        log.warning(
            "the relay refused one more connection (%s); going on with %d",
            failed.reply,
            len(self.conns.slots) - 1,
        )
        self.conns.retire(slot)
        self.s.claimed.appendleft(job.row.id)
        return True

    def _poll(self, session: StoreSession, busy: list[Slot]) -> None:
        wake_in = None
        if (self.s.ready or self.s.claimed) and len(busy) < len(self.conns.slots):  # one backs off
            wake_in = self.conns.next_reopen() - self.clock.monotonic()
        for slot, job, attempt in self.conns.poll(busy, wake_in):
            self._handle(session, job, attempt, slot)

    # ── dispatching ──

    def _next_job(self, session: StoreSession) -> Job | None:
        while True:
            if not self.s.claimed:
                self._claim(session)
                if not self.s.claimed:
                    return None
            row_id = self.s.claimed.popleft()
            job = self.jobs[row_id]
            found = session.recheck(job.row.address)  # an unsubscribe or a new choice counts from now
            if found is not None:
                why = "on the suppression list" if isinstance(found, str) else self._retarget(job, found)
                if why is not None:
                    self._write(session, job, DeliveryState.SUPPRESSED, None, why, job.row.attempts)
                    continue
            try:
                job.message = job.template.personalise(job.member, delivery_id=job.row.id)
            except ConfigError as exc:  # the configuration (e.g. the DKIM key), not this member
                self._write(
                    session,
                    job,
                    DeliveryState.PENDING,
                    None,
                    f"message could not be built: {exc}",
                    job.row.attempts,
                )
                if self.s.stop is None:
                    self.s.stop = (
                        SendState.STOPPED,
                        f"{exc}; nothing more was sent — fix it and run the same command again",
                    )
                return None
            except Exception as exc:  # one broken member row must not stop the send
                log.exception("cannot build the message for %s", job.row.address)
                reply = f"message could not be built: {exc}"
                self._write(session, job, DeliveryState.FAILED, None, reply, job.row.attempts)
                continue
            return job

    def _retarget(self, job: Job, choice: object) -> str | None:
        """The member's current choice decides the edition (rendered at send start); a reason when
        it takes the member out of this send's segments."""
        if self.retarget is None or self.retarget(job, choice) is not LEFT:
            return None
        return "left the segments of this send on the preference page"

    def _claim(self, session: StoreSession) -> None:
        now = self.clock.now()
        while self.s.waiting and self.s.waiting[0][0] <= now:
            self.s.ready.append(heapq.heappop(self.s.waiting)[1])
        if not self.s.waiting:
            self.s.latest_due = None
        batch = [self.s.ready.popleft() for _ in range(min(CLAIM_BATCH, len(self.s.ready)))]
        if batch:
            self.s.claimed.extend(session.claim(batch, self.holder, now))

    def _wait_for(self, at: datetime, row_id: int) -> None:
        heapq.heappush(self.s.waiting, (at, row_id))
        if self.s.latest_due is None or at > self.s.latest_due:
            self.s.latest_due = at

    def _idle(self) -> None:
        """Nothing in flight: sleep until a backed-off connection may reopen or a retry is due."""
        if self.s.ready or self.s.claimed:  # due work, and every connection backs off after a 421
            wait = min(slot.backoff.not_before for slot in self.conns.slots) - self.clock.monotonic()
        else:
            wait = (self.s.waiting[0][0] - self.clock.now()).total_seconds()
            self._report(idle=True)
            self._deliver()
        if wait > 0:
            self.clock.sleep(min(wait, 5.0))

    def _housekeeping(self) -> None:
        asked = self.should_stop() if self.s.stop is None and self.should_stop is not None else None
        if asked:  # a str says why, e.g. "stopped by SIGTERM; run the same command again to continue"
            default = "stopped on request; run the same command again to continue"
            self.s.stop = (SendState.STOPPED, asked if isinstance(asked, str) else default)
        if time.monotonic() - self._beat > HEARTBEAT_SECONDS:
            self._beat = time.monotonic()
            if not self.ledger.heartbeat(self.issue, self.holder) and self.s.stop is None:
                # another process took the expired lease and recovers our rows: never mail in parallel
                self.s.stop = (
                    SendState.STOPPED,
                    "lost the send lease (this process stalled and another send of the issue took over); "
                    "check `newsletter status`, then run the same command again if needed",
                )

    # ── outcomes ──

    def _handle(self, session: StoreSession, job: Job, attempt: Attempt, slot: Slot) -> None:
        s = self.s
        message_id = job.message.message_id if job.message else None
        outcome, tries = attempt.outcome, job.row.attempts + 1
        if attempt.code is not None:
            s.silent_in_a_row = 0  # the relay answers
        if outcome in (Outcome.RETRY, Outcome.LOST) and self._not_now(session, job, attempt, slot):
            return
        if outcome is Outcome.PAUSE and transient(attempt) and not self.throttle.throttled():
            self._write(session, job, DeliveryState.PENDING, attempt, attempt.describe(), job.row.attempts)
            s.ready.appendleft(job.row.id)  # again, at the lower rate
            return
        if outcome in (Outcome.PAUSE, Outcome.FATAL):
            self._write(session, job, DeliveryState.PENDING, attempt, attempt.describe(), job.row.attempts)
            if s.stop is None:
                state = SendState.PAUSED if outcome is Outcome.PAUSE else SendState.STOPPED
                s.stop = (state, stop_reason(outcome, attempt))
            return
        s.attempts += 1
        if outcome is Outcome.SENT:
            self.crash.check(s.dispatched, "after_250")
            self._write(session, job, DeliveryState.SENT, attempt, attempt.reply, tries, message_id)
            s.uncommitted.append(s.dispatched)
            self.throttle.sent()
            s.failures_in_a_row = 0
            slot.delivered += 1
            slot.backoff.reset()
        elif self._retryable(outcome) and tries < self.settings.max_attempts:
            self._defer(session, job, attempt, tries, message_id)
        else:
            final = _FINAL.get(outcome, DeliveryState.FAILED)
            self._write(session, job, final, attempt, attempt.describe(), tries, message_id)
            s.failures_in_a_row += 1
            if s.failures_in_a_row >= self.settings.error_budget and s.stop is None:
                s.stop = (
                    SendState.PAUSED,
                    f"{s.failures_in_a_row} failures in a row (last: {attempt.describe()}); "
                    "check the relay and the list, then run the same command again",
                )
        self._report()

    def _not_now(self, session: StoreSession, job: Job, attempt: Attempt, slot: Slot) -> bool:
        """A 421, or a relay gone silent before the dot: about the relay, not the member, which
        stays pending with its attempts unspent. False: count it after all (see below)."""
        s = self.s
        if attempt.outcome is Outcome.LOST:
            job.lost += 1
            if job.lost > RELAY_SILENCE_LIMIT:
                return False  # lost under this member again and again while others go through
            if attempt.timed_out or not slot.delivered:  # a close after some 250s: a silent cap
                s.silent_in_a_row += 1
        self._write(session, job, DeliveryState.PENDING, attempt, attempt.describe(), job.row.attempts)
        s.ready.appendleft(job.row.id)
        if s.stop is None and attempt.outcome is Outcome.LOST and s.silent_in_a_row >= RELAY_SILENCE_LIMIT:
            s.stop = (SendState.PAUSED, relay_silent_reason(attempt, s.silent_in_a_row))
        elif s.stop is None and attempt.outcome is Outcome.RETRY:
            self._back_off(slot, attempt)
        self._report()
        return True

    def _back_off(self, slot: Slot, attempt: Attempt) -> None:
        """421 "come back later": this connection reopens after 1, 2, 4 … s; when the series is
        used up the send goes on without it, or pauses if it was the last one."""
        if slot.delivered and attempt.stage == "mail":
            return  # the relay's per-connection cap ("421 … too many messages"): reopen at once
        if slot.backoff.wait(self.clock.monotonic()):
            log.info("the relay said %s; this connection waits", attempt.describe())
            return
        if len(self.conns.slots) > 1:
            log.warning(
                "the relay keeps answering %s; going on with %d",
                attempt.describe(),
                len(self.conns.slots) - 1,
            )
            self.conns.retire(slot)
            return
        self.s.stop = (SendState.PAUSED, relay_busy_reason(attempt))

    def _retryable(self, outcome: Outcome) -> bool:
        # resend_unknown = true: a message whose 250 was lost is sent again (may duplicate, never lost)
        return outcome in (Outcome.DEFER, Outcome.RETRY, Outcome.LOST) or (
            outcome is Outcome.UNKNOWN and self.settings.resend_unknown
        )

    def _defer(
        self, session: StoreSession, job: Job, attempt: Attempt, tries: int, message_id: str | None
    ) -> None:
        backoff = self.settings.retry_backoff or (60.0,)
        now_again = attempt.outcome in (Outcome.RETRY, Outcome.LOST)
        delay = 0.0 if now_again else backoff[min(tries - 1, len(backoff) - 1)]
        at = self.clock.now() + timedelta(seconds=delay)
        job.row = Row(job.row.id, job.row.address, job.row.edition, DeliveryState.PENDING, tries, at)
        self._write(
            session, job, DeliveryState.PENDING, attempt, attempt.describe(), tries, message_id, next_at=at
        )
        self.s.deferred += 1
        if delay <= 0:
            self.s.ready.appendleft(job.row.id)
        else:
            self._wait_for(at, job.row.id)

    def _write(
        self,
        session: StoreSession,
        job: Job,
        state: DeliveryState,
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
            if state == DeliveryState.BOUNCED and attempt
            else None,
            edition=job.row.edition,
        )
        if state != DeliveryState.PENDING:
            self.s.outcomes[state] += 1

    def _report(self, *, idle: bool = False) -> None:
        """Queue the progress after an outcome; ``_deliver`` hands it over once it is committed."""
        if self.progress is None:
            return
        s, elapsed = self.s, time.monotonic() - self._started
        s.reports.append(
            Progress.of(len(self.jobs), s.outcomes, s.deferred, elapsed, s.waiting, s.latest_due, idle)
        )


__all__ = ["CrashHook", "Job", "LoopResult", "Progress", "SendLoop"]
