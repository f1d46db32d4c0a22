"""SIGTERM (timeout, systemd, kill) and Ctrl-C stop a send cleanly; a SIGKILLed send shows as
interrupted (issue 10, item 21). Real `python -m newsletter send` processes, real signals, the
aiosmtpd rig answering DATA slowly so the signal lands mid-send."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter

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
from smtp_sink import read_spool, smtp_sink_factory  # noqa: F401  (fixture)
from sqlalchemy import select

from newsletter.store.db import engine_for
from newsletter.store.tables import locks, sends

RESUME = ["send", SLUG, "--to", "all", "--yes"]


def _received(sink) -> Counter[str]:
    return Counter(r.lower() for m in read_spool(sink.spool) for r in m.rcpt_tos)


def _start(project, env) -> subprocess.Popen[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")} | env
    return subprocess.Popen(
        [sys.executable, "-m", "newsletter", *RESUME],
        env=full,
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _wait_for_spool(proc: subprocess.Popen[str], sink, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if sink.spool.exists() and sink.spool.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"the send ended ({proc.poll()}) or stalled before {count} messages")


def _sends(config) -> list[tuple[str, str | None]]:
    with engine_for(config.database_url).connect() as conn:
        return [(r.state, r.reason) for r in conn.execute(select(sends).order_by(sends.c.id))]


def _locks(config) -> list[str]:
    with engine_for(config.database_url).connect() as conn:
        return [r.holder for r in conn.execute(select(locks))]


@pytest.mark.parametrize(
    ("sig", "code", "name"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT (Ctrl-C)")]
)
def test_a_signal_mid_send_finishes_the_messages_in_flight_records_stopped_and_resumes(
    project, project_env, smtp_sink_factory, sig: int, code: int, name: str
) -> None:
    copy_issue(project)
    addresses = write_members(project, 40)
    set_sending(project, connections=2)
    sink = smtp_sink_factory(delays={"DATA": 0.1})
    env = sink_env(project_env, sink)
    proc = _start(project, env)
    _wait_for_spool(proc, sink, 6)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    reason = f"stopped by {name}; run the same command again to continue"
    assert f"{name} received: finishing the messages in flight, then stopping (again to abort)" in err
    summary = re.search(rf"^{SLUG}: sent (\d+), .* pending (\d+) \(40 members addressed", out, re.M)
    assert summary, out
    sent, pending = int(summary[1]), int(summary[2])
    assert sent >= 6 and pending > 0 and sent + pending == 40
    assert f"stopped: {reason}" in err.splitlines()
    config = config_for(project, env)
    before = _received(sink)
    assert len(before) == sent == states(config)["sent"]  # every message the relay took is recorded
    assert_accounting(before, config)
    assert _sends(config) == [("stopped", reason)]
    assert _locks(config) == []  # the lease is released: nobody waits for a dead pid
    status = run_cli(["status", SLUG], env, project)
    assert re.search(rf"^last send: stopped \(all, [\d: -]+ UTC\): {re.escape(reason)}$", status.stdout, re.M)

    resumed = run_cli(RESUME, env, project)
    assert resumed.returncode == 0, resumed.stderr
    received = _received(sink)
    assert sorted(received) == sorted(addresses) and set(received.values()) == {1}  # 0 duplicates
    assert_accounting(received, config)


def test_a_sigkilled_send_shows_as_interrupted_with_the_command_that_resumes_it(
    project, project_env, smtp_sink_factory
) -> None:
    copy_issue(project)
    addresses = write_members(project, 40)
    set_sending(project, connections=2)
    sink = smtp_sink_factory(delays={"DATA": 0.1})
    env = sink_env(project_env, sink)
    proc = _start(project, env)
    _wait_for_spool(proc, sink, 6)
    proc.kill()
    proc.wait()
    config = config_for(project, env)
    (holder,) = _locks(config)  # what the attacker saw: a lock naming a dead pid
    assert holder.startswith(f"{socket.gethostname()}:{proc.pid}:")
    status = run_cli(["status", SLUG], env, project)
    assert status.returncode == 0, status.stderr
    assert re.search(
        rf"^last send: interrupted \(all, [\d: -]+ UTC\): the sending process \({re.escape(holder)}\) is "
        rf"gone without finishing; run `newsletter send {SLUG} --to all` to continue$",
        status.stdout,
        re.M,
    ), status.stdout
    assert [s for s, _ in _sends(config)] == ["running"]  # status only reads

    resumed = run_cli(RESUME, env, project)
    assert resumed.returncode == 0, resumed.stderr
    received = _received(sink)
    assert sorted(received) == sorted(addresses)
    assert sum(received.values()) - len(received) <= 2  # at most one per connection
    (first, second) = _sends(config)
    assert first == ("interrupted", "the sending process was gone without finishing; resumed by send #2")
    assert second == ("finished", None)
    assert "last send: finished" in run_cli(["status", SLUG], env, project).stdout
