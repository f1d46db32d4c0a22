"""A named lease in ``tables.locks``: at most one holder per database, renewed by a heartbeat.

The holder is ``host:pid:uuid``. A lease nobody renews expires (a killed process does not
block forever); on the same host a holder whose pid is gone is taken over at once.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from ..clock import Clock
from ..model import NewsletterError
from .tables import locks

DEFAULT_TTL = 30.0  # seconds a lease lives without a heartbeat


class LeaseHeld(NewsletterError):
    """Someone else holds the lease."""

    exit_code = 3

    def __init__(self, name: str, holder: str, expires_at: datetime):
        self.holder = holder
        super().__init__(
            f"another {name} is already running on this database: holder {holder}, lease until "
            f"{expires_at:%Y-%m-%d %H:%M:%S} UTC; stop it first, or wait for its lease to expire"
        )


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def holder_is_dead(holder: str) -> bool:
    """True only when the holder is on this host and its process no longer exists (or is a zombie)."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


@dataclass
class Lease:
    engine: Engine
    name: str
    clock: Clock
    ttl: float = DEFAULT_TTL
    holder: str = ""

    def __post_init__(self) -> None:
        self.holder = self.holder or new_holder()

    def _expiry(self) -> datetime:
        return self.clock.now() + timedelta(seconds=self.ttl)

    def acquire(self) -> None:
        """Take the lease or raise LeaseHeld naming the current holder."""
        for attempt in range(10):
            try:
                if self._try_acquire():
                    return
            except (IntegrityError, OperationalError):
                pass  # a concurrent starter wrote first (SQLite: stale snapshot); look again
            time.sleep(0.05 * (attempt + 1))
        current = self.current()
        raise LeaseHeld(
            self.name, current[0] if current else "unknown", current[1] if current else self.clock.now()
        )

    def _try_acquire(self) -> bool:
        with self.engine.begin() as conn:
            row = conn.execute(select(locks).where(locks.c.name == self.name)).first()
            if row is None:
                conn.execute(
                    insert(locks).values(name=self.name, holder=self.holder, expires_at=self._expiry())
                )
                return True
            if (
                row.holder != self.holder
                and row.expires_at > self.clock.now()
                and not holder_is_dead(row.holder)
            ):
                raise LeaseHeld(self.name, row.holder, row.expires_at)
            taken = conn.execute(
                update(locks)
                .where(locks.c.name == self.name, locks.c.holder == row.holder)
                .values(holder=self.holder, expires_at=self._expiry())
            ).rowcount
            return bool(taken)

    def renew(self) -> bool:
        """Extend our lease; False if it is no longer ours (it expired and someone took it)."""
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(locks)
                .where(locks.c.name == self.name, locks.c.holder == self.holder)
                .values(expires_at=self._expiry())
            ).rowcount
        return bool(moved)

    def release(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(locks).where(locks.c.name == self.name, locks.c.holder == self.holder))

    def current(self) -> tuple[str, datetime] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(locks.c.holder, locks.c.expires_at).where(locks.c.name == self.name)
            ).first()
        return (row.holder, row.expires_at) if row else None


def is_alive(engine: Engine, name: str, clock: Clock) -> bool:
    """Whether a live holder has the lease (for hints like "no scheduler is running")."""
    with engine.connect() as conn:
        row = conn.execute(select(locks.c.holder, locks.c.expires_at).where(locks.c.name == name)).first()
    return bool(row) and row.expires_at > clock.now() and not holder_is_dead(row.holder)  # type: ignore[union-attr]
