"""The send ledger: one row per (issue, member address) in ``tables.deliveries``, plus the send
runs (``tables.sends``) and a per-issue lease (``tables.locks``).

Row states: ``pending → sending → sent | failed | bounced | unknown | suppressed``.
A row becomes ``sent`` only after the relay's 250 to the final dot, in its own commit; a
row is never created twice for one issue (unique (issue, address), insert-or-ignore), so
``--to poland`` and later ``--to usa`` mail members of both segments once. The send loop's
hot path (claims, one commit per outcome) is ``session.LedgerSession``; the values it hands out
(``Row``, ``FailedRow``, ``LedgerCounts``) are the engine's (``send.job``, ``send.report``); ``Ledger``
is the engine's ``send.protocols.Store``, approvals (``approvals``) included.

SQLAlchemy Core only, dialect-neutral: SQLite (WAL) by default, PostgreSQL with the same code.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, Engine, func, insert, select, update

from ..approval import Approval
from ..clock import SystemClock
from ..model import DeliveryState, EditionKey, RefusedError, SendState
from ..send.job import Row
from ..send.report import FailedRow, LedgerCounts
from . import approvals
from .db import insert_ignore
from .leases import Lease, LeaseHeld, holder_is_dead, new_holder
from .session import LedgerSession
from .tables import deliveries, sends

LEASE_SECONDS = 60.0
_FAILED_STATES = (DeliveryState.FAILED, DeliveryState.UNKNOWN, DeliveryState.BOUNCED)  # `status --failed`


class Ledger:
    def __init__(self, engine: Engine):
        self.engine = engine

    # ───────────────────────────── lease ─────────────────────────────

    def acquire(self, issue: str, holder: str | None = None, ttl: float = LEASE_SECONDS) -> str:
        """Take the issue's lease (as ``holder``, default a new ``host:pid:…`` name) or refuse
        (exit 2) naming the running send; returns the holder, who also claims the rows."""
        holder = holder or new_holder()
        try:
            self._lease(issue, holder, ttl).acquire()
        except LeaseHeld as held:
            raise RefusedError(
                f"issue '{issue}' is being sent by another process ({held.holder}); "
                "wait for it to finish or stop it first"
            ) from None
        return holder

    def heartbeat(self, issue: str, holder: str, ttl: float = LEASE_SECONDS) -> bool:
        """Extend the lease; False if it is no longer ours (it expired and another send took it)."""
        return self._lease(issue, holder, ttl).renew()

    def release(self, issue: str, holder: str) -> None:
        self._lease(issue, holder, LEASE_SECONDS).release()

    def dead_holder(self, issue: str) -> str | None:
        """For a send marked ``running``: its lease holder (``host:pid:…``; "" when the lease is
        gone) if that process no longer runs or its lease expired; None while it is alive."""
        current = self._lease(issue, "status", LEASE_SECONDS).current()
        if current is None:
            return ""
        holder, expires_at = current
        if holder_is_dead(holder) or expires_at <= SystemClock().now():
            return holder
        return None

    def _lease(self, issue: str, holder: str, ttl: float) -> Lease:
        return Lease(self.engine, lease_name(issue), SystemClock(), ttl, holder)

    # ───────────────────────────── runs ─────────────────────────────

    def start_send(self, issue: str, segments: Sequence[str], now: datetime) -> int:
        """A new run; earlier runs of the issue still marked ``running`` are dead (we hold the
        issue's lease) and become ``interrupted``, so the history never says running for ever."""
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(sends).values(
                    issue=issue,
                    segments=",".join(segments),
                    state=SendState.RUNNING,
                    created_at=now,
                    updated_at=now,
                )
            )
            send_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            conn.execute(
                update(sends)
                .where(sends.c.issue == issue, sends.c.state == SendState.RUNNING, sends.c.id != send_id)
                .values(
                    state=SendState.INTERRUPTED,
                    reason=f"the sending process was gone without finishing; resumed by send #{send_id}",
                    updated_at=now,
                )
            )
            return send_id

    def finish_send(self, send_id: int, state: SendState, reason: str | None, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(sends).where(sends.c.id == send_id).values(state=state, reason=reason, updated_at=now)
            )

    # ───────────────────────────── audience ─────────────────────────────

    def freeze(
        self, issue: str, send_id: int, rows: Iterable[tuple[str, str, int, str]], now: datetime
    ) -> int:
        """Insert (address, edition, csv line, state) rows not yet in the ledger; returns rows added."""
        values = [
            {
                "issue": issue,
                "address": address,
                "send_id": send_id,
                "edition": edition,
                "member_line": line,
                "state": state,
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
            for address, edition, line, state in rows
        ]
        if not values:
            return 0
        with self.engine.begin() as conn:
            before = _count(conn, issue)
            for start in range(0, len(values), 2000):
                insert_ignore(conn, deliveries, values[start : start + 2000], ["issue", "address"])
            return _count(conn, issue) - before

    def recover(self, issue: str, now: datetime) -> int:
        """Rows left ``sending`` by a dead process (we hold the lease) go back to ``pending``."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(deliveries)
                .where(deliveries.c.issue == issue, deliveries.c.state == DeliveryState.SENDING)
                .values(state=DeliveryState.PENDING, claimed_by=None, updated_at=now)
            ).rowcount

    def reopen_failed(
        self,
        issue: str,
        addresses: Iterable[str] | None,
        now: datetime,
        states: Sequence[DeliveryState] = (DeliveryState.FAILED, DeliveryState.UNKNOWN),
    ) -> int:
        """``--retry-failed``: failed/unknown rows (of these addresses) become pending again."""
        wanted = None if addresses is None else set(addresses)
        with self.engine.begin() as conn:
            ids = [
                r.id
                for r in conn.execute(
                    select(deliveries.c.id, deliveries.c.address).where(
                        deliveries.c.issue == issue, deliveries.c.state.in_(list(states))
                    )
                )
                if wanted is None or r.address in wanted
            ]
            for start in range(0, len(ids), 500):
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id.in_(ids[start : start + 500]))
                    .values(state=DeliveryState.PENDING, attempts=0, next_attempt_at=None, updated_at=now)
                )
        return len(ids)

    def rows(self, issue: str) -> list[Row]:
        c = deliveries.c
        with self.engine.connect() as conn:
            result = conn.execute(
                select(c.id, c.address, c.edition, c.state, c.attempts, c.next_attempt_at)
                .where(c.issue == issue)
                .order_by(c.id)
            )
            return [Row(*r) for r in result]

    # ───────────────────────────── the loop ─────────────────────────────

    def session(self) -> LedgerSession:
        """One held connection for the send loop's hot path (single thread; close() it)."""
        return LedgerSession(self.engine.connect())

    def release_claims(self, issue: str, holder: str, now: datetime) -> int:
        """Rows claimed but never attempted (paused/stopped) go back to ``pending``."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.issue == issue,
                    deliveries.c.state == DeliveryState.SENDING,
                    deliveries.c.claimed_by == holder,
                )
                .values(state=DeliveryState.PENDING, claimed_by=None, updated_at=now)
            ).rowcount

    # ───────────────────────────── reports ─────────────────────────────

    def counts(self, issue: str) -> LedgerCounts:
        c = deliveries.c
        total: dict[str, int] = defaultdict(int)
        by_edition: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        by_segment: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        with self.engine.connect() as conn:
            grouped = conn.execute(
                select(c.edition, c.state, func.count()).where(c.issue == issue).group_by(c.edition, c.state)
            )
            for edition, state, n in grouped:
                total[state] += n
                by_edition[edition][state] += n
                for segment in EditionKey.parse(edition).segment_names:
                    by_segment[segment][state] += n
            runs = conn.execute(select(sends).where(sends.c.issue == issue).order_by(sends.c.id))
            run_rows = tuple(dict(r._mapping) for r in runs)
        return LedgerCounts(
            issue=issue,
            total=dict(total),
            by_edition={k: dict(v) for k, v in by_edition.items()},
            by_segment={k: dict(v) for k, v in by_segment.items()},
            sends=run_rows,
        )

    def failed(self, issue: str, states: Sequence[DeliveryState] = _FAILED_STATES) -> list[FailedRow]:
        c = deliveries.c
        with self.engine.connect() as conn:
            result = conn.execute(
                select(c.address, c.state, c.edition, c.attempts, c.last_code, c.last_reply, c.updated_at)
                .where(c.issue == issue, c.state.in_(list(states)))
                .order_by(c.state, c.address)
            )
            return [FailedRow(*r) for r in result]

    def latest_approval(self, issue: str) -> Approval | None:
        return approvals.latest(self.engine, issue)

    def record_approval(self, approval: Approval) -> None:
        approvals.record(self.engine, approval)

    def latest_send(self, issue: str) -> Mapping[str, object] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(sends).where(sends.c.issue == issue).order_by(sends.c.id.desc()).limit(1)
            ).first()
        return dict(row._mapping) if row else None


# ───────────────────────────── helpers ─────────────────────────────


def lease_name(issue: str) -> str:
    """The name of an issue's send lease in ``tables.locks``."""
    name = f"send:{issue}"
    if len(name) > 50:  # locks.name holds 50 characters: long slugs get a digest, never a clash
        name = f"send:{issue[:28]}:{hashlib.sha256(issue.encode()).hexdigest()[:16]}"
    return name


def _count(conn: Connection, issue: str) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(deliveries).where(deliveries.c.issue == issue)
        ).scalar_one()
    )


__all__ = ["Ledger", "lease_name"]
