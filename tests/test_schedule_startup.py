"""Scheduler start-up against tables.schedules with a fake clock: run late-but-fresh, hold stale, resume running."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from newsletter.clock import FakeClock
from newsletter.config import Config
from newsletter.edges import state_database
from newsletter.schedule.service import SchedulerService, fire, job_id
from newsletter.store.db import engine_for
from newsletter.store.schedules import get_schedule, list_schedules
from newsletter.store.tables import schedules

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _row(
    config: Config, at: datetime, state: str = "scheduled", segment: str = "poland", issue: str = "i"
) -> int:
    with engine_for(config.database_url).begin() as conn:
        return conn.execute(
            insert(schedules).values(
                issue=issue, segment=segment, issue_path=None, member_timezone=None, at_utc=at,
                local_zone="Europe/Warsaw", state=state, message=None, created_at=NOW, updated_at=NOW,
            )
        ).inserted_primary_key[0]  # fmt: skip


def test_startup_holds_stale_runs_fresh_and_resumes_running(config: Config) -> None:
    assert config.staleness_hours == 6
    stale = _row(config, NOW - timedelta(hours=7), issue="a")
    fresh = _row(config, NOW - timedelta(hours=5), issue="b")
    future = _row(config, NOW + timedelta(days=2), issue="c")
    running = _row(config, NOW - timedelta(days=3), state="running", issue="d")
    done = _row(config, NOW - timedelta(days=3), state="done", issue="e")
    service = SchedulerService(config, clock=FakeClock(NOW))
    service.scheduler.start(paused=True)
    try:
        # a leftover job of the previous process whose row was cancelled meanwhile
        service.scheduler.add_job(fire, "date", run_date=NOW, args=[999, False], id=job_id(999))
        assert service.startup() == 3
        jobs = {job.id: job for job in service.scheduler.get_jobs()}
        assert set(jobs) == {job_id(fresh), job_id(future), job_id(running)}
        assert jobs[job_id(fresh)].trigger.run_date == NOW - timedelta(hours=5)
        assert jobs[job_id(fresh)].misfire_grace_time == 6 * 3600
        assert jobs[job_id(fresh)].coalesce is True and jobs[job_id(fresh)].max_instances == 1
        assert jobs[job_id(running)].args == (running, True)
        assert jobs[job_id(running)].misfire_grace_time is None  # an interrupted send always resumes
        engine = engine_for(config.database_url)
        held = get_schedule(engine, stale)
        assert held is not None and held.state == "held"
        assert "missed by 7.0 h (staleness window 6 h)" in (held.message or "")
        assert "newsletter send a --to poland" in (held.message or "")
        assert get_schedule(engine, done).state == "done"  # type: ignore[union-attr]
    finally:
        service.scheduler.shutdown(wait=False)


def test_jobs_survive_in_the_sqlalchemy_job_store(config: Config) -> None:
    future = _row(config, NOW + timedelta(hours=1))
    first = SchedulerService(config, clock=FakeClock(NOW))
    first.scheduler.start(paused=True)
    first.startup()
    first.scheduler.shutdown(wait=False)
    second = SchedulerService(config, clock=FakeClock(NOW))
    second.scheduler.start(paused=True)
    try:
        assert [job.id for job in second.scheduler.get_jobs()] == [job_id(future)]
    finally:
        second.scheduler.shutdown(wait=False)


def test_sync_picks_up_new_rows_and_cancellations(config: Config) -> None:
    clock = FakeClock(NOW)
    service = SchedulerService(config, clock=clock)
    service.scheduler.start(paused=True)
    try:
        service.startup()
        new = _row(config, NOW + timedelta(minutes=5))
        service.sync()
        assert [job.id for job in service.scheduler.get_jobs()] == [job_id(new)]
        with engine_for(config.database_url).begin() as conn:
            conn.execute(schedules.update().where(schedules.c.id == new).values(state="cancelled"))
        service.sync()
        assert service.scheduler.get_jobs() == []
        late = _row(config, NOW - timedelta(hours=6, minutes=1), segment="usa")
        service.sync()
        assert [s.state for s in list_schedules(state_database(config)) if s.id == late] == ["held"]
    finally:
        service.scheduler.shutdown(wait=False)


def test_a_double_fire_sends_once(config: Config) -> None:
    """run_job claims scheduled → running atomically: the second fire of a done row does nothing."""
    row = _row(config, NOW)
    service = SchedulerService(config, clock=FakeClock(NOW))
    calls: list[int] = []

    def fake_send(info, should_stop):  # type: ignore[no-untyped-def]
        calls.append(info.id)
        return type("R", (), {"state": "finished", "outcomes": {"sent": 3}, "audience": 3, "pending": 0})()

    service._send = fake_send  # type: ignore[method-assign]
    service.run_job(row)
    service.run_job(row)
    info = get_schedule(engine_for(config.database_url), row)
    assert calls == [row]
    assert info is not None and info.state == "done"
    assert info.message is not None and info.message.startswith("audience 3: sent 3 in ")


def test_a_scheduler_stopped_with_a_due_job_keeps_it_and_raises_nothing(config: Config) -> None:
    """APScheduler's last pass after shutdown() submitted due jobs to the stopped executor and raised
    JobLookupError in its thread (schedule/background.py); now the job stays for the next start."""
    due = _row(config, datetime.now(UTC) - timedelta(minutes=1))
    service = SchedulerService(config)
    service.scheduler.start(paused=True)
    service._add(due, datetime.now(UTC) - timedelta(minutes=1))
    service.scheduler.shutdown(wait=True)  # a thread exception fails the test (pyproject filterwarnings)
    again = SchedulerService(config)
    again.scheduler.start(paused=True)
    try:
        assert [job.id for job in again.scheduler.get_jobs()] == [job_id(due)]
    finally:
        again.scheduler.shutdown(wait=False)
