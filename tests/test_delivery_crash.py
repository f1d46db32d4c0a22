"""Kill the sending process and run the same command again (FAULT-PLAN 1, 2, 4): nobody missed, duplicates bounded."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from delivery_rig import (
    assert_accounting,
    config_for,
    copy_issue,
    run_cli,
    set_sending,
    sink_env,
    states,
    write_members,
)
from smtp_sink import read_spool, smtp_sink_factory  # noqa: F401  (fixture)


def _received(sink) -> Counter[str]:
    return Counter(r.lower() for m in read_spool(sink.spool) for r in m.rcpt_tos)


@pytest.mark.parametrize(
    ("point", "max_duplicates"), [("before_send", 0), ("after_250", 1), ("after_commit", 0)]
)
def test_crash_hook_then_resume(project, project_env, smtp_sink_factory, point, max_duplicates):
    copy_issue(project)
    addresses = write_members(project, 300)
    set_sending(project, connections=1)
    sink = smtp_sink_factory(keep_data=False)
    env = sink_env(project_env, sink)
    crashed = run_cli(
        ["send", "2022-03-laenderfokus", "--to", "all", "--yes"],
        dict(env, NEWSLETTER_CRASH_AT="150", NEWSLETTER_CRASH_POINT=point),
        project,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    resumed = run_cli(["send", "2022-03-laenderfokus", "--to", "all", "--yes"], env, project)
    assert resumed.returncode == 0, resumed.stderr
    received = _received(sink)
    assert set(received) == set(addresses)
    assert sum(received.values()) - len(received) <= max_duplicates
    assert_accounting(received, config_for(project, env))


def _start_send(project, env) -> subprocess.Popen:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")} | env
    return subprocess.Popen(
        [sys.executable, "-m", "newsletter", "send", "2022-03-laenderfokus", "--to", "all", "--yes"],
        env=full_env,
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )


def _kill_when_received(proc: subprocess.Popen, sink, count: int, timeout: float = 90) -> None:
    """SIGKILL the send once the sink's spool holds ``count`` messages (polled, not timed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if sink.spool.exists() and sink.spool.read_bytes().count(b"\n") >= count:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the send finished before it could be killed"
    proc.kill()
    proc.wait()


@pytest.mark.slow
def test_kill_9_in_the_middle_then_the_same_command_again(project, project_env, smtp_sink_factory):
    copy_issue(project)
    addresses = write_members(project, 3000)
    set_sending(project, connections=4)
    sink = smtp_sink_factory(keep_data=False)
    env = sink_env(project_env, sink)
    _kill_when_received(_start_send(project, env), sink, random.randint(1000, 2500))
    before = _received(sink)
    assert 1000 <= len(before) < 3000
    assert (
        states(config_for(project, env)).get("sending", 0) <= 4 + 64
    )  # claimed rows left by the dead process
    resumed = run_cli(["send", "2022-03-laenderfokus", "--to", "all", "--yes"], env, project)
    assert resumed.returncode == 0, resumed.stderr
    received = _received(sink)
    assert set(received) == set(addresses)
    assert sum(received.values()) - len(received) <= 4  # at most one per connection
    assert_accounting(received, config_for(project, env))


@pytest.mark.slow
def test_repeated_kills_lose_nobody_and_duplicate_at_most_one_per_connection_each(
    project, project_env, smtp_sink_factory
):
    """FAULT-PLAN 3 (scaled to CI): five SIGKILLs at random points, a restart after each."""
    copy_issue(project)
    addresses = write_members(project, 3000)
    set_sending(project, connections=4)
    sink = smtp_sink_factory(keep_data=False)
    env = sink_env(project_env, sink)
    kills, target = 5, 0
    for _ in range(kills):
        target += random.randint(200, 450)
        _kill_when_received(_start_send(project, env), sink, target)
    resumed = run_cli(["send", "2022-03-laenderfokus", "--to", "all", "--yes"], env, project)
    assert resumed.returncode == 0, resumed.stderr
    received = _received(sink)
    assert set(received) == set(addresses)  # 0 missing
    assert sum(received.values()) - len(received) <= kills * 4  # ≤ 1 per connection per crash
    assert_accounting(received, config_for(project, env))
