"""Issue 10, item 22: waiting for retries is visible, can be left to the scheduler, and ends the
run on request.

Before: while greylisted members waited for their retry the progress said
``0/500 0/s -:--:-- retrying 500`` (and still ``retrying 500`` with all sent at the end); a second
run after a kill printed nothing for 120 s; there was no way to end a run and let the retries go
out later.
"""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from delivery_rig import (
    SLUG,
    assert_accounting,
    config_for,
    copy_issue,
    run_cli,
    set_sending,
    sink_env,
    states,
    write_members,
)
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)
from sqlalchemy import select

from newsletter.cli.progress import plain_line
from newsletter.send.loop import Progress
from newsletter.store.db import engine_for
from newsletter.store.ledger import Ledger
from newsletter.store.tables import deliveries

REPO = Path(__file__).resolve().parent.parent
ZONE = "Europe/Berlin"  # the operator's local time in these tests (TZ of the subprocess)


@pytest.fixture
def issue(project):
    return copy_issue(project)


def _local_minutes(start: datetime, end: datetime) -> set[str]:
    """Every HH:MM (local time) between two instants."""
    zone, out, t = ZoneInfo(ZONE), set(), start
    while t <= end + timedelta(minutes=1):
        out.add(f"{t.astimezone(zone):%H:%M}")
        t += timedelta(seconds=30)
    return out


def _progress_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("sent ")]


def test_plain_progress_says_how_many_wait_for_a_retry_and_until_when(
    project, project_env, issue, smtp_sink_factory
):
    addresses = write_members(project, 30)
    set_sending(project, retry_backoff=[2])  # long enough that all wait together, even under load
    sink = smtp_sink_factory(greylist_seconds=0.5, keep_data=False)  # every first RCPT: 450
    env = sink_env(project_env, sink, TZ=ZONE)
    before = datetime.now(UTC)
    result = run_cli(["send", SLUG, "--to", "all", "--yes"], env, project)
    after = datetime.now(UTC)
    assert result.returncode == 0, result.stderr
    lines = _progress_lines(result.stdout)
    waiting = [re.search(r"waiting for retry: (\d+) until (\d\d:\d\d)", line) for line in lines]
    counts = [int(m.group(1)) for m in waiting if m]
    assert 30 in counts, lines  # all 30 wait, and the line says so …
    assert {m.group(2) for m in waiting if m} <= _local_minutes(before, after + timedelta(seconds=2))
    assert (
        lines[-1].startswith("sent 30, done 30/30, failed 0") and "waiting" not in lines[-1]
    )  # … then drops
    assert f"{SLUG}: sent 30, bounced 0, failed 0, unknown 0, suppressed 0, pending 0 " in result.stdout
    config = config_for(project, env)
    assert set(sink.received_by_address()) == set(addresses) and states(config) == {"sent": 30}
    assert_accounting(sink.received_by_address(), config)


def test_the_progress_line_drops_the_waiting_count_once_they_are_sent():
    due = datetime(2026, 11, 21, 8, 1, tzinfo=UTC)
    waiting = Progress(
        total=500, done=0, sent=0, failed=0, deferred=500, elapsed=3.0, waiting=500, waiting_until=due
    )
    line = plain_line(waiting, ZoneInfo(ZONE))
    assert line == "sent 0, done 0/500, failed 0, waiting for retry: 500 until 09:01, 0/s"
    done = Progress(total=500, done=500, sent=500, failed=0, deferred=500, elapsed=65.0)
    assert plain_line(done, ZoneInfo(ZONE)) == "sent 500, done 500/500, failed 0, 8/s"


def test_no_wait_ends_at_once_with_exit_1_and_the_due_times_in_the_ledger(
    project, project_env, issue, smtp_sink_factory
):
    write_members(project, 20)
    set_sending(project, retry_backoff=[600])
    sink = smtp_sink_factory(greylist_seconds=3600, keep_data=False)
    env = sink_env(project_env, sink, TZ=ZONE)
    before = datetime.now(UTC)
    started = time.monotonic()
    result = run_cli(["send", SLUG, "--to", "all", "--yes", "--no-wait"], env, project)
    after = datetime.now(UTC)
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < 30  # not 600 s
    assert f"{SLUG}: sent 0, bounced 0, failed 0, unknown 0, suppressed 0, pending 20 " in result.stdout
    waiting = [line for line in result.stderr.splitlines() if line.startswith("waiting: ")]
    assert len(waiting) == 1, result.stderr
    match = re.fullmatch(
        r"waiting: 20 member\(s\) wait for a retry until (\d\d:\d\d) \(local time\); "
        r"run `newsletter send 2022-03-laenderfokus --to all` again then, "
        r"or leave them to a running `newsletter scheduler`",
        waiting[0],
    )
    assert match, waiting[0]
    assert match.group(1) in _local_minutes(before + timedelta(seconds=600), after + timedelta(seconds=600))
    config = config_for(project, env)
    assert states(config) == {"pending": 20}
    with engine_for(config.database_url).connect() as conn:
        rows = conn.execute(select(deliveries.c.attempts, deliveries.c.next_attempt_at)).all()
    assert {r.attempts for r in rows} == {1}
    assert all(
        before + timedelta(seconds=599) <= r.next_attempt_at <= after + timedelta(seconds=601) for r in rows
    )
    latest = Ledger(engine_for(config.database_url)).latest_send(SLUG)
    assert latest is not None and latest["state"] == "waiting"
    assert_accounting(sink.received_by_address(), config)

    # a second run (no --no-wait) says at once that it waits, and until when
    full = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")} | env
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "send", SLUG, "--to", "all", "--yes"],
        env=full,
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        first = _first_line_with(proc, "waiting for retry: 20 until ", timeout=20)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert first is not None and first.split("until ")[1][:5] == match.group(1)


def _first_line_with(proc: subprocess.Popen, needle: str, timeout: float) -> str | None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(max(0.0, deadline - time.monotonic())):
                return None
            line = proc.stdout.readline()
            if not line:
                return None
            if needle in line:
                return line.strip()
    return None


def test_a_running_scheduler_sends_the_due_retries_of_a_no_wait_send(
    project, project_env, issue, smtp_sink_factory
):
    addresses = write_members(project, 20)
    set_sending(project, retry_backoff=[1.5])
    sink = smtp_sink_factory(greylist_seconds=1, keep_data=False)
    env = sink_env(project_env, sink, TZ=ZONE)
    first = run_cli(["send", SLUG, "--to", "poland,usa", "--yes", "--no-wait"], env, project)
    assert first.returncode == 1 and "waiting: 20 member(s)" in first.stderr, first.stderr
    assert not sink.messages
    log = project / "scheduler.log"
    full = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")} | env
    full["PYTHONPATH"] = str(REPO)
    with log.open("wb") as out:
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "newsletter", "scheduler", "--poll", "0.3"],
            cwd=project,
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        sink.wait_for(20, timeout=30)
        config = config_for(project, env)
        deadline = time.monotonic() + 15
        while states(config) != {"sent": 20} and time.monotonic() < deadline:
            time.sleep(0.05)
        text = log.read_text(encoding="utf-8")
        while "retry: " + SLUG + ": finished" not in text and time.monotonic() < deadline:
            time.sleep(0.05)
            text = log.read_text(encoding="utf-8")
    finally:
        scheduler.send_signal(signal.SIGTERM)
        code = scheduler.wait(20)
    text = log.read_text(encoding="utf-8")
    assert code == 0, text
    assert f"retry: {SLUG}: 20 due retries (segments poland,usa); resuming the send" in text
    assert f"retry: {SLUG}: finished (audience 20: sent 20)" in text
    received = sink.received_by_address()
    assert set(received) == set(addresses) and max(received.values()) == 1
    assert states(config) == {"sent": 20}
    assert_accounting(received, config)


def test_on_a_terminal_the_bar_says_who_waits_and_forgets_them_once_sent(
    project, project_env, issue, smtp_sink_factory
):
    """The rich bar said ``retrying 500`` while they waited and still at the end with all sent."""
    import pty

    write_members(project, 12)
    set_sending(project, retry_backoff=[2])  # long enough that all wait together, even under load
    sink = smtp_sink_factory(greylist_seconds=0.5, keep_data=False)
    env = sink_env(project_env, sink, TZ=ZONE, COLUMNS="160", TERM="xterm")
    full = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")} | env
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "send", SLUG, "--to", "all", "--yes"],
        env=full,
        cwd=project,
        stdout=terminal,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    os.close(terminal)
    screen = bytearray()
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    os.close(controller)
    assert proc.wait(60) == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode("utf-8", "replace"))
    frames = [f.strip() for f in re.split(r"[\r\n]+", text) if f.strip().startswith("sending")]
    assert any("waiting for retry: 12 until " in f for f in frames), frames
    assert "12/12" in frames[-1] and "waiting" not in frames[-1] and "retrying" not in frames[-1], frames[-1]
    assert_accounting(sink.received_by_address(), config_for(project, env))
