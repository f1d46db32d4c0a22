"""The scheduler process (``newsletter scheduler``): fires ``tables.schedules`` rows at their UTC instants.

APScheduler 3.11 does the firing (BackgroundScheduler, SQLAlchemyJobStore in the state
database, DateTrigger at the stored instant, explicit misfire grace = staleness window,
coalesce, max_instances=1); ``tables.schedules`` stays the source of truth: at start-up and every
poll the jobs are synced from it. A lease in ``tables.locks`` keeps a second scheduler out.
Each job calls ``send.run.run_send`` — the same path as ``newsletter send`` — so a double
fire is harmless and a crash mid-send resumes from the ledger when the job is re-run.
On every poll it also resumes sends whose retries fell due (``retries.py``), e.g. after a
``newsletter send --no-wait``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import and_, or_, select

from ..clock import Clock, SystemClock
from ..config import Config
from ..edges import send_parts, state_database
from ..model import NewsletterError, SendState
from ..store.leases import Lease
from ..store.schedules import ScheduleInfo, get_schedule, list_schedules, set_state
from ..store.tables import schedules
from .background import StoppingScheduler
from .plans import members_in_zone, schedule_segment, scheduled_zones
from .retries import RetryPoller

if TYPE_CHECKING:
    from ..send.report import SendReport

log = logging.getLogger("newsletter.scheduler")

LOCK_NAME = "scheduler"
JOB_TABLE = "apscheduler_jobs"

_service: SchedulerService | None = None


def fire(schedule_id: int, resume: bool = False) -> None:
    """The APScheduler job (stored by reference in the job store): run one schedule row."""
    service = _service
    if service is None:
        log.error("schedule #%d fired outside a running scheduler; ignored", schedule_id)
        return
    service.run_job(schedule_id, resume=resume)


def job_id(schedule_id: int) -> str:
    return f"schedule-{schedule_id}"


class SchedulerService:
    def __init__(
        self, config: Config, *, clock: Clock | None = None, poll: float = 2.0, lease_ttl: float = 30.0
    ):
        self.config = config
        self.clock = clock or SystemClock()
        self.poll = poll
        self.engine = state_database(config)
        self.parts = send_parts(config)  # every job of this process sends through these
        self.lease = Lease(self.engine, LOCK_NAME, self.clock, ttl=lease_ttl)
        self.staleness = timedelta(hours=config.staleness_hours)
        self.stop_event = threading.Event()
        self.lost_lease = False
        self._known: set[int] = set()
        self._cancelled: dict[int, threading.Event] = {}
        self._issue_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        grace = max(1, math.ceil(self.staleness.total_seconds()))
        self.scheduler = StoppingScheduler(
            jobstores={
                "default": SQLAlchemyJobStore(engine=self.engine, tablename=JOB_TABLE),
                "retries": MemoryJobStore(),  # found again from the ledger on every poll: never stored
            },
            # the inbox has a thread of its own: reading a slow mailbox never holds up a send
            executors={"default": ThreadPoolExecutor(2), "inbox": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace},
            timezone=UTC,
        )
        self.grace = grace
        self.retries = RetryPoller(config, self.engine, self.clock, self.parts)

    # ───────────────────────────── life cycle ─────────────────────────────

    def stop(self) -> None:
        """Ask the scheduler to stop; a send in flight pauses after its current message."""
        self.stop_event.set()

    def run(self) -> int:
        """Hold the lease and fire jobs until stop(); 0 on a clean stop, 1 if the lease was lost."""
        global _service
        self.lease.acquire()  # LeaseHeld: a second scheduler refuses to start
        _service = self
        try:
            self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
            self.scheduler.start(paused=True)
            pending = self.startup()
            self._add_inbox()
            self.scheduler.resume()
            log.info(
                "scheduler started (holder %s, database %s, staleness window %s h): %d schedule(s) pending",
                self.lease.holder,
                _safe_url(self.config.database_url),
                f"{self.config.staleness_hours:g}",
                pending,
            )
            self._loop()
        finally:
            log.info("scheduler stopping: waiting for the send in flight to pause")
            if self.scheduler.running:
                self.scheduler.shutdown(wait=True)
            if not self.lost_lease:
                self.lease.release()
            _service = None
        log.info("scheduler stopped")
        return 1 if self.lost_lease else 0

    def _loop(self) -> None:
        # The heartbeat must beat well within the lease's life even with a long --poll, or a second
        # scheduler takes the expired lease while this one still fires jobs.
        beat = min(self.poll, self.lease.ttl / 3)
        next_sync = time.monotonic() + self.poll
        while not self.stop_event.wait(beat):
            try:
                if not self.lease.renew():
                    log.error("scheduler lease lost (holder now %s); stopping", self.lease.current())
                    self.lost_lease = True
                    self.stop_event.set()
                    return
                if time.monotonic() >= next_sync:
                    next_sync = time.monotonic() + self.poll
                    self.sync()
                    self.send_due_retries()
            except Exception:  # a busy database must not kill the scheduler; try again next poll
                log.exception("scheduler poll failed; retrying")

    # ───────────────────────────── syncing from tables.schedules ─────────────────────────────

    def startup(self) -> int:
        """Reconcile the job store with tables.schedules: resume, run late-but-fresh, hold stale."""
        now = self.clock.now()
        wanted: set[str] = set()
        for info in list_schedules(self.engine):
            if info.state == "running":  # the previous scheduler died or stopped mid-send
                log.info(
                    "resume #%d: %s to %s was interrupted; resuming from the ledger",
                    info.id,
                    info.issue,
                    info.segment,
                )
                self._add(info.id, now, resume=True)
            elif info.state == "scheduled":
                if not self._add_or_hold(info, now):
                    continue
            else:
                continue
            wanted.add(job_id(info.id))
        for job in self.scheduler.get_jobs():
            if job.id not in wanted:
                self.scheduler.remove_job(job.id)
        return len(wanted)

    def sync(self) -> None:
        """Pick up rows added or cancelled since the last poll."""
        now = self.clock.now()
        known = list(self._known)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(schedules.c.id, schedules.c.state).where(
                    or_(
                        schedules.c.state.in_(("scheduled", "cancelled")),
                        and_(schedules.c.state == "done", schedules.c.id.in_(known)),
                    )
                )
            ).all()
        for row in rows:
            if row.state == "done":
                self._drop_if_by_hand(row.id)
            if row.state == "scheduled" and row.id not in self._known:
                info = get_schedule(self.engine, row.id)
                if info is not None and info.state == "scheduled" and self._add_or_hold(info, now):
                    log.info("picked up #%d: %s to %s at %s", info.id, info.issue, info.segment, info.when())
            elif row.state == "cancelled" and row.id in self._known:
                self._known.discard(row.id)
                self._cancelled.setdefault(row.id, threading.Event()).set()
                # already fired → JobLookupError: a running send stops after its message in flight
                with contextlib.suppress(JobLookupError):
                    self.scheduler.remove_job(job_id(row.id))
                log.info("cancelled #%d", row.id)

    def _drop_if_by_hand(self, schedule_id: int) -> None:
        """A schedule a `newsletter send` by hand made needless (done, sent by hand): never fire it."""
        info = get_schedule(self.engine, schedule_id)
        if info is None or not info.by_hand:
            return
        self._known.discard(schedule_id)
        with contextlib.suppress(JobLookupError):
            self.scheduler.remove_job(job_id(schedule_id))
        log.info("dropped #%d: sent by hand (%s)", schedule_id, info.message)

    def send_due_retries(self) -> None:
        """Resume, in the job pool, each send whose retries fell due (see retries.py)."""
        for item in self.retries.due():
            self.scheduler.add_job(
                self.retries.run,
                args=[item, self.stop_event.is_set, self._issue_lock(item.issue)],
                id=f"retry:{item.issue}",
                name=f"due retries of {item.issue}",
                jobstore="retries",
                replace_existing=True,
                misfire_grace_time=None,
            )

    # ───────────────────────────── the bounce mailbox (issue 13) ─────────────────────────────

    def _add_inbox(self) -> None:
        """With NEWSLETTER_INBOX set: read it now and every [inbox] inbox_minutes, in its own pool."""
        inbox = self.config.inbox
        if inbox is None or not inbox.url:
            return
        self.scheduler.add_job(
            self.read_inbox,
            IntervalTrigger(seconds=inbox.minutes * 60, timezone=UTC),
            id="inbox",
            name="read NEWSLETTER_INBOX",
            jobstore="retries",  # in memory: the interval comes from newsletter.toml at every start
            executor="inbox",
            next_run_time=datetime.now(UTC),
            replace_existing=True,
            misfire_grace_time=None,
        )
        log.info("inbox: reading %s every %s minute(s)", inbox.url, f"{inbox.minutes:g}")

    def read_inbox(self) -> None:
        """One pass over the bounce mailbox; a failure is logged and the next interval tries again."""
        from ..inbox.run import inbox_once

        assert self.config.inbox is not None
        try:
            result = inbox_once(
                self.config, echo=lambda line: log.info("inbox: %s", line), should_stop=self.stop_event.is_set
            )
        except Exception as exc:  # a mailbox that is down, a wrong password: the next interval tries again
            log.error("inbox: %s; trying again in %s minute(s)", exc, f"{self.config.inbox.minutes:g}")
            return
        log.info("%s", result.summary())

    def _add_or_hold(self, info: ScheduleInfo, now: datetime) -> bool:
        late = now - info.at_utc
        if late > self.staleness:
            self.hold(info, late)
            return False
        if late > timedelta(0):
            log.info("#%d was due %s ago (within the staleness window): running it now", info.id, _span(late))
        self._add(info.id, info.at_utc)
        return True

    def _add(self, schedule_id: int, run_date: datetime, *, resume: bool = False) -> None:
        self.scheduler.add_job(
            fire,
            trigger=DateTrigger(run_date=run_date, timezone=UTC),
            args=[schedule_id, resume],
            id=job_id(schedule_id),
            name=f"schedule #{schedule_id}",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None if resume else self.grace,
        )
        self._known.add(schedule_id)

    def hold(self, info: ScheduleInfo, late: timedelta) -> None:
        message = (
            f"held: due {info.at_utc:%Y-%m-%d %H:%M} UTC, missed by {_span(late)} (staleness window "
            f"{self.config.staleness_hours:g} h); send it with `newsletter send {info.issue} --to {info.segment}` "
            f"or `newsletter schedule cancel {info.id}` and schedule again"
        )
        if set_state(self.engine, info.id, "held", message, only_from=("scheduled",), now=self.clock.now()):
            log.warning("#%d %s to %s %s", info.id, info.issue, info.segment, message)
        self._known.add(info.id)

    def _on_missed(self, event: JobExecutionEvent) -> None:
        # APScheduler's own misfire check (e.g. the process was suspended): hold, never drop silently.
        if not event.job_id.startswith("schedule-"):
            return  # a due-retry job never misfires (no grace limit) and is found again anyway
        schedule_id = int(event.job_id.rpartition("-")[2])
        info = get_schedule(self.engine, schedule_id)
        if info is not None and info.state == "scheduled":
            self.hold(info, self.clock.now() - info.at_utc)

    # ───────────────────────────── running a job ─────────────────────────────

    def run_job(self, schedule_id: int, *, resume: bool = False) -> None:
        info = get_schedule(self.engine, schedule_id)
        now = self.clock.now()
        source = ("running",) if resume else ("scheduled",)
        if info is None or not set_state(
            self.engine,
            schedule_id,
            "running",
            f"started {now:%Y-%m-%d %H:%M:%S} UTC",
            only_from=source,
            now=now,
        ):
            log.info("#%d is %s; not sending", schedule_id, info.state if info else "gone")
            return
        cancel = self._cancelled.setdefault(schedule_id, threading.Event())
        with self._issue_lock(info.issue):  # one send per issue at a time in this process
            self._run_claimed(info, now, cancel)

    def _issue_lock(self, slug: str) -> threading.Lock:
        with self._locks_guard:
            return self._issue_locks.setdefault(slug, threading.Lock())

    def _run_claimed(self, info: ScheduleInfo, now: datetime, cancel: threading.Event) -> None:
        log.info(
            "start #%d: %s to %s%s (due %s UTC%s)",
            info.id,
            info.issue,
            info.segment,
            f" (members in {info.member_timezone})" if info.member_timezone else "",
            f"{info.at_utc:%Y-%m-%d %H:%M:%S}",
            f", {_span(now - info.at_utc)} late" if now - info.at_utc > timedelta(seconds=1) else "",
        )
        started = self.clock.monotonic()
        try:
            report = self._send(info, lambda: self.stop_event.is_set() or cancel.is_set())
        except NewsletterError as exc:
            self._finish(info, "failed", str(exc))
            return
        except Exception as exc:  # a bug must not kill the scheduler; the row says what happened
            log.exception("#%d crashed", info.id)
            self._finish(info, "failed", f"{type(exc).__name__}: {exc}")
            return
        summary = f"{describe_report(report)} in {self.clock.monotonic() - started:.1f} s"
        if cancel.is_set():
            log.info("finish #%d: cancelled while sending; stopped (%s)", info.id, summary)
        elif self.stop_event.is_set() and not report_finished(report):
            message = f"paused by scheduler stop ({summary}); resumes when the scheduler starts again"
            set_state(self.engine, info.id, "running", message, only_from=("running",), now=self.clock.now())
            log.info("pause #%d: %s", info.id, message)
        elif report_finished(report):
            self._finish(info, "done", summary)
        else:  # the send paused itself (error budget, quota …): a person has to look
            self._finish(
                info, "failed", f"{summary}; resume with `newsletter send {info.issue} --to {info.segment}`"
            )

    def _finish(self, info: ScheduleInfo, state: str, message: str) -> None:
        set_state(self.engine, info.id, state, message, only_from=("running",), now=self.clock.now())
        (log.info if state == "done" else log.error)(
            "finish #%d: %s to %s %s: %s", info.id, info.issue, info.segment, state, message
        )

    def _send(self, info: ScheduleInfo, should_stop: Callable[[], bool]) -> SendReport:
        from ..send.run import run_send  # the one send path

        only: frozenset[str] | None = None
        if info.member_timezone:
            segment = schedule_segment(self.config, info.segment)  # also all / general
            zones = scheduled_zones(self.config, info.issue, segment.id)
            only = members_in_zone(self.config, segment.id, segment.timezone, info.member_timezone, zones)
        issue_path = Path(info.issue_path or self.config.issues_dir / info.issue)
        return run_send(
            self.config,
            issue_path,
            (info.segment,),
            parts=self.parts,
            clock=self.clock,
            should_stop=should_stop,
            only_addresses=only,
        )


def describe_report(report: SendReport) -> str:
    """``audience 120: sent 118, failed 2`` from a send's report, for the log and the row."""
    parts = [f"{state} {n}" for state, n in sorted(report.outcomes.items()) if n]
    text = f"audience {report.audience}: " + (", ".join(parts) or "nothing left to send")
    if report.pending:
        text += f", pending {report.pending}"
    if report.state != SendState.FINISHED:
        text += f" ({report.state}{': ' + report.reason if report.reason else ''})"
    return text


def report_finished(report: SendReport) -> bool:
    """Whether the send reached its end; a paused/stopped one stays `running` and is resumed at the
    next start (harmless: the ledger skips everyone already sent)."""
    return report.state == SendState.FINISHED


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def _safe_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url
