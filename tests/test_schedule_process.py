"""Real `python -m newsletter scheduler` processes against the aiosmtpd rig (tests/smtp_sink.py).

Time: schedules due "while the scheduler was down" are created with a FakeClock set in the past
(no test waits for minutes); the ones that must fire live wait at most a few seconds.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import smtp_sink as rig

from newsletter.cli.schedule import format_table
from newsletter.clock import FakeClock
from newsletter.config import Config, load_config
from newsletter.edges import state_database
from newsletter.schedule.plans import Request, cancel_schedule, create_schedule
from newsletter.store.schedules import ScheduleInfo, list_schedules

REPO = Path(__file__).resolve().parent.parent
SLUG = "2022-03-laenderfokus"


@dataclass
class Scheduler:
    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, needle: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.proc.poll() is not None and needle not in self.text():
                raise AssertionError(
                    f"scheduler exited {self.proc.returncode} before {needle!r}:\n{self.text()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} in the scheduler log:\n{self.text()}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


@dataclass
class Rig:
    root: Path
    env: dict[str, str]
    sink: rig.SmtpSink
    stamps: list[float]
    members: list[str]
    started: list[Scheduler] = field(default_factory=list)

    def config(self) -> Config:
        return load_config(self.root, self.env)

    def scheduler(self, *extra_env: tuple[str, str]) -> Scheduler:
        log = self.root / f"scheduler-{len(self.started) + 1}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "newsletter", "scheduler", "--poll", "0.3"],
                cwd=self.root,
                env={**self.env, **dict(extra_env)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started = Scheduler(proc, log)
        self.started.append(started)
        return started

    def schedule(
        self, at: datetime, *, clock: FakeClock | None = None, segment: str = "poland"
    ) -> ScheduleInfo:
        config = self.config()
        zone = ZoneInfo(config.segment(segment).timezone)  # --at without offset: the segment's zone
        local = at.astimezone(zone).replace(tzinfo=None).isoformat(timespec="milliseconds")
        (info,) = create_schedule(config, Request(SLUG, segment, local), clock=clock)
        return info

    def row(self, schedule_id: int) -> ScheduleInfo:
        return next(s for s in list_schedules(state_database(self.config())) if s.id == schedule_id)

    def wait_state(self, schedule_id: int, states: tuple[str, ...], timeout: float = 20.0) -> ScheduleInfo:
        deadline = time.monotonic() + timeout
        while (row := self.row(schedule_id)).state not in states:
            if time.monotonic() > deadline:
                logs = "\n".join(s.text() for s in self.started)
                raise AssertionError(f"#{schedule_id} is {row.state} ({row.message}), not {states}:\n{logs}")
            time.sleep(0.05)
        return row


def _members(root: Path, count: int) -> list[str]:
    addresses = [f"member{i:05d}@example.org" for i in range(count)]
    lines = ["email,language,segments"] + [
        f"{a},{'de' if i % 2 else 'pl'},poland" for i, a in enumerate(addresses)
    ]
    lines.append("other@example.org,de,usa")
    (root / "subscribers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return addresses


@pytest.fixture
def make_rig(project: Path, example_issue: Path, tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    rigs: list[Rig] = []

    def make(members: int = 20, staleness_hours: float | None = None, **env: str) -> Rig:
        if staleness_hours is not None:
            toml = project / "newsletter.toml"
            text = toml.read_text(encoding="utf-8").replace(
                "staleness_hours = 6", f"staleness_hours = {staleness_hours}"
            )
            toml.write_text(text, encoding="utf-8")
        stamps: list[float] = []
        # drop_after is asked once per stored message: it stamps the arrival time and never drops.
        sink = rig.SmtpSink(
            spool=tmp_path / "received.jsonl", drop_after=lambda rec: bool(stamps.append(time.time()))
        )
        sink.start()
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")},
            "NEWSLETTER_DATABASE": f"sqlite:///{project / 'state.db'}",
            "NEWSLETTER_SUBSCRIBERS": str(project / "subscribers.csv"),
            "NEWSLETTER_OUTBOX": str(project / "outbox"),
            "NEWSLETTER_SMTP_HOST": sink.host,
            "NEWSLETTER_SMTP_PORT": str(sink.port),
            "NEWSLETTER_SMTP_SECURITY": "none",
            "NEWSLETTER_SECRET": "test-secret-for-unsubscribe-tokens-0123456789",
            "PYTHONPATH": str(REPO),
            **env,
        }
        made = Rig(project, full_env, sink, stamps, _members(project, members))
        rigs.append(made)
        return made

    yield make
    for made in rigs:
        for started in made.started:
            if started.proc.poll() is None:
                started.proc.kill()
                started.proc.wait()
        made.sink.stop()


def _assert_each_once(r: Rig) -> None:
    got = r.sink.received_by_address()
    assert {a: n for a, n in got.items() if n != 1} == {}
    assert sorted(got) == sorted(r.members)


def test_a_schedule_3s_ahead_fires_once_at_the_instant(make_rig) -> None:  # type: ignore[no-untyped-def]
    r = make_rig(members=20)
    s = r.scheduler()
    s.wait_log("scheduler started")
    at = datetime.now(UTC) + timedelta(seconds=3)
    info = r.schedule(at)
    r.sink.wait_for(20, timeout=15)
    done = r.wait_state(info.id, ("done",))
    assert min(r.stamps) >= at.timestamp()
    assert s.stop() == 0
    _assert_each_once(r)
    assert done.message is not None and done.message.startswith("audience 20: sent 20")
    log = s.text()
    assert f"start #{info.id}: {SLUG} to poland" in log and f"finish #{info.id}:" in log
    assert "scheduler stopped" in log


def test_due_while_the_scheduler_was_down_runs_once_at_startup(make_rig) -> None:  # type: ignore[no-untyped-def]
    r = make_rig(members=20)
    now = datetime.now(UTC)
    info = r.schedule(now - timedelta(seconds=5), clock=FakeClock(now - timedelta(seconds=10)))
    s = r.scheduler()
    s.wait_log("scheduler started")
    assert re.search(r"#1 was due \d+ s ago \(within the staleness window\): running it now", s.text())
    r.wait_state(info.id, ("done",))
    assert s.stop() == 0
    _assert_each_once(r)


def test_beyond_the_staleness_window_it_is_held_listed_and_nothing_sent(make_rig) -> None:  # type: ignore[no-untyped-def]
    r = make_rig(members=20, staleness_hours=0.0005)  # 1.8 s
    now = datetime.now(UTC)
    info = r.schedule(now - timedelta(seconds=5), clock=FakeClock(now - timedelta(seconds=10)))
    s = r.scheduler()
    s.wait_log("scheduler started")
    held = r.wait_state(info.id, ("held",))
    assert re.search(r"missed by \d+ s \(staleness window 0.0005 h\)", held.message or "")
    assert f"#{info.id} {SLUG} to poland held:" in s.text()
    listed = "\n".join(
        format_table(list_schedules(state_database(r.config())))
    )  # what `schedule list` prints
    assert " held " in listed and f"newsletter send {SLUG} --to poland" in listed
    assert s.stop() == 0
    assert len(r.sink.messages) == 0


def test_killed_mid_send_resumes_from_the_ledger(make_rig) -> None:  # type: ignore[no-untyped-def]
    r = make_rig(members=200)
    now = datetime.now(UTC)
    info = r.schedule(now - timedelta(seconds=1), clock=FakeClock(now - timedelta(seconds=5)))
    first = r.scheduler(("NEWSLETTER_CRASH_AT", "80"), ("NEWSLETTER_CRASH_POINT", "after_250"))
    assert first.proc.wait(30) == -signal.SIGKILL
    assert 70 <= len(r.sink.messages) < 200
    assert r.row(info.id).state == "running"
    second = r.scheduler()
    second.wait_log(f"resume #{info.id}")
    r.wait_state(info.id, ("done",), timeout=30)
    assert second.stop() == 0
    got = r.sink.received_by_address()
    assert sorted(got) == sorted(r.members)
    duplicates = sum(n - 1 for n in got.values())
    assert duplicates <= load_config(r.root, r.env).smtp.connections


def test_sigterm_pauses_the_send_and_the_next_start_completes_it(make_rig) -> None:  # type: ignore[no-untyped-def]
    r = make_rig(members=120, NEWSLETTER_RATE="60")
    now = datetime.now(UTC)
    info = r.schedule(now - timedelta(seconds=1), clock=FakeClock(now - timedelta(seconds=5)))
    first = r.scheduler()
    r.sink.wait_for(20, timeout=20)
    assert first.stop(signal.SIGTERM) == 0
    paused = r.row(info.id)
    assert paused.state == "running" and "paused by scheduler stop" in (paused.message or "")
    assert len(r.sink.messages) < 120
    second = r.scheduler()
    r.wait_state(info.id, ("done",), timeout=30)
    assert second.stop(signal.SIGINT) == 0
    _assert_each_once(r)


def test_two_schedulers_on_one_database(make_rig) -> None:  # type: ignore[no-untyped-def]
    r = make_rig(members=30)
    at = datetime.now(UTC) + timedelta(seconds=4)
    info = r.schedule(at)
    a, b = r.scheduler(), r.scheduler()
    deadline = time.monotonic() + 15
    while a.proc.poll() is None and b.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    loser, winner = (a, b) if a.proc.poll() is not None else (b, a)
    assert loser.proc.wait(5) != 0
    lines = loser.text().strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: another scheduler is already running on this database: holder ")
    winner.wait_log("scheduler started")
    r.wait_state(info.id, ("done",))
    assert winner.stop() == 0
    _assert_each_once(r)


def test_cancel_before_the_instant_sends_nothing(make_rig) -> None:  # type: ignore[no-untyped-def]
    r = make_rig(members=5)
    s = r.scheduler()
    s.wait_log("scheduler started")
    info = r.schedule(datetime.now(UTC) + timedelta(seconds=2.5))
    s.wait_log(f"picked up #{info.id}")
    cancel_schedule(r.config(), info.id)
    s.wait_log(f"cancelled #{info.id}")
    later = r.schedule(info.at_utc + timedelta(seconds=0.5), segment="usa")
    r.wait_state(later.id, ("done",))  # the later job ran, so the cancelled instant has passed
    assert s.stop() == 0
    assert sorted(r.sink.received_by_address()) == ["other@example.org"]
    assert r.row(info.id).state == "cancelled"


def test_per_member_timezone_jobs_each_send_to_their_zone(make_rig) -> None:  # type: ignore[no-untyped-def]
    r = make_rig(members=0)
    (r.root / "subscribers.csv").write_text(
        "email,language,segments,timezone\n"
        "ny1@example.org,en,usa,\n"
        "ny2@example.org,en,usa,America/New_York\n"
        "hfx1@example.org,en,usa,America/Halifax\n"
        "hfx2@example.org,en,usa|poland,America/Halifax\n"
        "pl@example.org,pl,poland,\n",
        encoding="utf-8",
    )
    now = datetime.now(UTC)
    # The same wall-clock time: 5 s ago in New York, 1 h 5 s ago in Halifax (both inside the window).
    wall = (now - timedelta(seconds=5)).astimezone(ZoneInfo("America/New_York")).replace(tzinfo=None)
    request = Request(SLUG, "usa", wall.isoformat(timespec="seconds"), per_member_timezone=True)
    jobs = create_schedule(r.config(), request, clock=FakeClock(now - timedelta(hours=2)))
    assert sorted(j.member_timezone or "" for j in jobs) == ["America/Halifax", "America/New_York"]
    s = r.scheduler()
    for job in jobs:
        r.wait_state(job.id, ("done",))
    assert s.stop() == 0
    got = r.sink.received_by_address()
    assert got == {"ny1@example.org": 1, "ny2@example.org": 1, "hfx1@example.org": 1, "hfx2@example.org": 1}
    log = s.text()
    assert "(members in America/Halifax)" in log and "(members in America/New_York)" in log
