"""The scheduler's lease in tables.locks: one holder, expiry, takeover of a dead holder's lease."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from newsletter.clock import FakeClock
from newsletter.config import Config
from newsletter.store.db import engine_for
from newsletter.store.leases import Lease, LeaseHeld, holder_is_dead, is_alive


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_second_holder_is_refused_with_the_holders_name(config: Config) -> None:
    engine = engine_for(config.database_url)
    clock = FakeClock(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    first = Lease(engine, "scheduler", clock, ttl=30)
    first.acquire()
    second = Lease(engine, "scheduler", clock, ttl=30)
    with pytest.raises(LeaseHeld) as err:
        second.acquire()
    assert first.holder in str(err.value)
    assert "already running" in str(err.value)
    assert is_alive(engine, "scheduler", clock)
    first.release()
    second.acquire()
    assert second.current()[0] == second.holder


def test_an_expired_lease_is_taken_over_and_the_old_holder_notices(config: Config) -> None:
    engine = engine_for(config.database_url)
    clock = FakeClock(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    first = Lease(engine, "scheduler", clock, ttl=30)
    first.acquire()
    clock.advance(20)
    assert first.renew()  # heartbeat: 30 s from now again
    clock.advance(25)
    with pytest.raises(LeaseHeld):
        Lease(engine, "scheduler", clock, ttl=30).acquire()
    clock.advance(10)  # 35 s without a heartbeat: expired
    assert not is_alive(engine, "scheduler", clock)
    second = Lease(engine, "scheduler", clock, ttl=30)
    second.acquire()
    assert not first.renew()
    first.release()  # must not delete the new holder's lease
    assert second.current()[0] == second.holder


def test_a_dead_holder_on_this_host_is_taken_over_at_once(config: Config) -> None:
    engine = engine_for(config.database_url)
    clock = FakeClock(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    ghost = f"{socket.gethostname()}:{_dead_pid()}:deadbeef"
    assert holder_is_dead(ghost)
    Lease(engine, "scheduler", clock, ttl=3600, holder=ghost).acquire()
    fresh = Lease(engine, "scheduler", clock, ttl=30)
    fresh.acquire()
    assert fresh.current()[0] == fresh.holder


def test_a_holder_on_another_host_is_only_taken_over_after_expiry(config: Config) -> None:
    engine = engine_for(config.database_url)
    clock = FakeClock(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    remote = f"other-host.example:{_dead_pid()}:cafe"
    assert not holder_is_dead(remote)
    Lease(engine, "scheduler", clock, ttl=60, holder=remote).acquire()
    with pytest.raises(LeaseHeld, match="other-host.example"):
        Lease(engine, "scheduler", clock).acquire()
    clock.advance(61)
    Lease(engine, "scheduler", clock).acquire()


def test_a_long_poll_still_keeps_the_lease_alive(config: Config) -> None:
    """--poll longer than the lease's life: the heartbeat must not wait for the next poll."""
    import threading
    import time

    from newsletter.clock import SystemClock
    from newsletter.schedule.service import LOCK_NAME, SchedulerService

    service = SchedulerService(config, poll=30.0, lease_ttl=0.6)
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(service.run()), daemon=True)
    thread.start()
    try:
        engine = engine_for(config.database_url)
        deadline = time.monotonic() + 5
        while not is_alive(engine, LOCK_NAME, SystemClock()):
            assert time.monotonic() < deadline, "the scheduler did not take the lease"
            time.sleep(0.02)
        time.sleep(1.5)  # 2.5 lease lives
        with pytest.raises(LeaseHeld):
            Lease(engine, LOCK_NAME, SystemClock(), ttl=0.6).acquire()
    finally:
        service.stop()
        thread.join(10)
    assert result == [0]
