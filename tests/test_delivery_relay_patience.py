"""Issue 10, items 5 and 6: a relay that goes silent, or says 421 "come back later", is about the
relay, not the members: nobody's attempts are spent, the send backs off and then pauses with
everyone still pending, and says why.

Before: with NEWSLETTER_SMTP_TIMEOUT=3 a relay silent after EHLO left 52 members ``failed``; a 421
to every MAIL opened 307 connections in 0.5 s and failed 51 members after 5 attempts each.
FAULT-PLAN #9 (421 + close after every 100th message) and #10/#11 (drop or hang after the final
dot → unknown) stay as they were: see test_delivery_send.py.
"""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

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
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)
from sqlalchemy import func, select

from newsletter.clock import FakeClock
from newsletter.edges import send_parts
from newsletter.send.run import run_send
from newsletter.store.db import engine_for
from newsletter.store.tables import deliveries

SHUTTING_DOWN = "421 4.3.2 Service not available, closing transmission channel"


class WaitsBetweenConnections(FakeClock):
    """A fake clock that notes how long the send slept before each new batch of connections."""

    def __init__(self, sink):
        super().__init__()
        self.sink, self.by_connections = sink, Counter()

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self.by_connections[self.sink.stats.connections] += seconds

    def waits(self) -> list[float]:
        return [round(s, 6) for _n, s in sorted(self.by_connections.items()) if s > 0]


@pytest.fixture
def issue(project):
    return copy_issue(project)


def _max_attempts(config) -> int:
    with engine_for(config.database_url).connect() as conn:
        return int(conn.execute(select(func.max(deliveries.c.attempts))).scalar_one() or 0)


def test_a_relay_silent_after_ehlo_pauses_with_everyone_pending(
    project, project_env, issue, smtp_sink_factory
):
    write_members(project, 52)
    sink = smtp_sink_factory(delays={"MAIL": 3600}, keep_data=False)
    env = sink_env(project_env, sink, NEWSLETTER_SMTP_TIMEOUT="1")
    started = time.monotonic()
    result = run_cli(["send", SLUG, "--to", "all", "--yes"], env, project, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert f"{SLUG}: sent 0, bounced 0, failed 0, unknown 0, suppressed 0, pending 52 " in result.stdout
    paused = [line for line in result.stderr.splitlines() if line.startswith("paused: ")]
    assert len(paused) == 1 and "the relay stopped answering" in paused[0], result.stderr
    assert "no reply within 1 s" in paused[0] and "still pending" in paused[0]
    config = config_for(project, env)
    assert states(config) == {"pending": 52} and _max_attempts(config) == 0
    assert sink.stats.connections <= 4 + 3  # bounded: it gave up after a few silent connections …
    assert elapsed < 30  # … instead of 52 members × 5 attempts × the timeout
    assert_accounting(sink.received_by_address(), config)


def test_one_silent_connection_costs_the_member_nothing(project, project_env, issue, smtp_sink_factory):
    """A connection that goes silent before the dot (a relay restarting) is not the member's
    fault: with max_attempts = 1 the member is still sent, on the next connection."""
    addresses = write_members(project, 40)
    set_sending(project, connections=1, max_attempts=1, timeout=1)
    sink = smtp_sink_factory(silent_connections={1}, keep_data=False)
    config = config_for(project, sink_env(project_env, sink))
    report = run_send(config, issue, ["all"], clock=FakeClock(), parts=send_parts(config))
    assert report.state == "finished", report.reason
    assert report.outcomes == {"sent": 40} and report.exit_code == 0
    assert sink.stats.connections == 2
    received = sink.received_by_address()
    assert set(received) == set(addresses) and max(received.values()) == 1
    assert_accounting(received, config)


def test_421_to_every_mail_backs_off_then_pauses_with_everyone_pending(
    project, project_env, issue, smtp_sink_factory
):
    write_members(project, 51)
    sink = smtp_sink_factory(replies={"MAIL": SHUTTING_DOWN}, keep_data=False)
    config = config_for(project, sink_env(project_env, sink))
    clock = WaitsBetweenConnections(sink)
    report = run_send(config, issue, ["all"], clock=clock, parts=send_parts(config))
    assert report.state == "paused" and report.exit_code == 1
    assert SHUTTING_DOWN in report.reason and "still pending" in report.reason
    assert states(config) == {"pending": 51} and _max_attempts(config) == 0
    assert clock.waits() == [1, 2, 4, 8, 16, 32]  # growing, on the injected clock
    assert sink.stats.connections <= 4 * 7  # was 307 connections in 0.5 s
    assert sink.stats.replies["421"] == sink.stats.connections
    assert_accounting(sink.received_by_address(), config)


def test_421_for_a_while_then_the_relay_accepts_everyone_once(project, project_env, issue, smtp_sink_factory):
    addresses = write_members(project, 60)
    set_sending(project, max_attempts=1)  # a 421 must not spend the only attempt
    sink = smtp_sink_factory(replies={"MAIL": SHUTTING_DOWN}, keep_data=False)
    config = config_for(project, sink_env(project_env, sink))

    class RelayBackAfterThreeSeconds(FakeClock):
        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            if sum(self.slept) >= 3:
                sink.script.replies = {}

    clock = RelayBackAfterThreeSeconds()
    report = run_send(config, issue, ["all"], clock=clock, parts=send_parts(config))
    assert report.state == "finished", report.reason
    assert report.outcomes == {"sent": 60} and report.exit_code == 0
    assert sum(clock.slept) == 1 + 2  # it backed off twice, then the relay took everyone
    received = sink.received_by_address()
    assert set(received) == set(addresses) and max(received.values()) == 1
    assert_accounting(received, config)
