"""The send ledger: one row per (issue, member address) in ``tables.deliveries``, plus the send
runs (``tables.sends``) and a per-issue lease (``tables.locks``).

Row states: ``pending → sending → sent | failed | bounced | unknown | suppressed``.
A row becomes ``sent`` only after the relay's 250 to the final dot, in its own commit; a
row is never created twice for one issue (unique (issue, address), insert-or-ignore), so
``--to poland`` and later ``--to usa`` mail members of both segments once.

SQLAlchemy Core only, dialect-neutral: SQLite (WAL) by default, PostgreSQL with the same code.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, or_, select, update

from ..audience.address import address_hash, canonical
from ..clock import SystemClock
from ..model import DeliveryState, EditionKey, RefusedError, SendState
from ..send.job import Row
from .leases import Lease, LeaseHeld, holder_is_dead, new_holder
from .tables import deliveries, sends, suppressions

LEASE_SECONDS = 60.0
_FAILED_STATES = (DeliveryState.FAILED, DeliveryState.UNKNOWN, DeliveryState.BOUNCED)  # `status --failed`


@dataclass(frozen=True)
class FailedRow:
    address: str
    state: str
    edition: str
    attempts: int
    last_code: int | None
    last_reply: str | None
    updated_at: datetime

    @property
    def reply_text(self) -> str:
        """The relay's reply with its code once: the stored reply usually starts with it already."""
        code, reply = str(self.last_code or ""), (self.last_reply or "").strip()
        if code and not reply.startswith(code):
            return f"{code} {reply}".strip()
        return reply


@dataclass(frozen=True)
class LedgerCounts:
    issue: str
    total: Mapping[str, int]  # state → rows
    by_edition: Mapping[str, Mapping[str, int]]  # "poland+usa.de" → state → rows
    by_segment: Mapping[str, Mapping[str, int]]  # "poland" → state → rows (a member of two counts in both)
    sends: tuple[Mapping[str, object], ...] = field(default=())  # the runs, oldest first

    @property
    def rows(self) -> int:
        return sum(self.total.values())

    def get(self, state: str) -> int:
        return self.total.get(state, 0)


class Ledger:
    def __init__(self, engine: Engine):
        self.engine = engine

    # ───────────────────────────── lease ─────────────────────────────

    def acquire(self, issue: str, holder: str, ttl: float = LEASE_SECONDS) -> None:
        """Take the issue's lease or refuse (exit 2) naming the running send."""
        try:
            self._lease(issue, holder, ttl).acquire()
        except LeaseHeld as held:
            raise RefusedError(
                f"issue '{issue}' is being sent by another process ({held.holder}); "
                "wait for it to finish or stop it first"
            ) from None

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
                _insert_ignore(conn, deliveries, values[start : start + 2000], ["issue", "address"])
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

    def latest_send(self, issue: str) -> Mapping[str, object] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(sends).where(sends.c.issue == issue).order_by(sends.c.id.desc()).limit(1)
            ).first()
        return dict(row._mapping) if row else None


_c = deliveries.c
_RECORD = (
    update(deliveries)
    .where(_c.id == bindparam("row_id"))
    .values(
        state=bindparam("state"),
        attempts=bindparam("attempts"),
        last_code=bindparam("code"),
        last_reply=bindparam("reply"),
        updated_at=bindparam("now"),
        claimed_by=None,
        next_attempt_at=bindparam("next_at"),
        message_id=func.coalesce(bindparam("message_id", type_=_c.message_id.type), _c.message_id),
        sent_at=func.coalesce(bindparam("sent_at", type_=_c.sent_at.type), _c.sent_at),
    )
)
_IS_SUPPRESSED = select(suppressions.c.address_hash).where(suppressions.c.address_hash == bindparam("h"))


class _Prepared:
    """A Core statement compiled once for a connection's dialect, executed as driver SQL with the
    columns' own bind processing (UtcDateTime etc.): the same rows as ``conn.execute`` without its
    per-call compile-cache and result set-up work (≈ 0.15 ms per statement on this machine)."""

    def __init__(self, stmt: Any, conn: Connection):
        compiled = stmt.compile(dialect=conn.dialect)
        self.conn, self.sql = conn, str(compiled)
        self.positional = bool(compiled.positional)
        self.names = list(compiled.positiontup or []) if self.positional else list(compiled.binds)
        self.defaults = {name: compiled.binds[name].value for name in compiled.binds}
        self.processors = {
            name: proc
            for name, bind in compiled.binds.items()
            if (proc := bind.type.bind_processor(conn.dialect)) is not None
        }

    def run(self, params: Mapping[str, Any]) -> Any:
        values = {}
        for name in self.names:
            value = params.get(name, self.defaults.get(name))
            proc = self.processors.get(name)
            values[name] = proc(value) if proc is not None and value is not None else value
        if self.positional:
            return self.conn.exec_driver_sql(self.sql, tuple(values[n] for n in self.names))
        return self.conn.exec_driver_sql(self.sql, values)


class LedgerSession:
    """The send loop's writer: claims, outcomes (one commit each) and suppression look-ups
    over one held connection with pre-built statements (≈ 0.1 ms per outcome on SQLite)."""

    def __init__(self, conn: Connection):
        self.conn = conn
        # the two statements run per message: compiled once for this dialect, run as driver SQL
        self._is_suppressed = _Prepared(_IS_SUPPRESSED, conn)
        self._record = _Prepared(_RECORD, conn)

    def close(self) -> None:
        self.conn.close()

    def claim(self, ids: Sequence[int], holder: str, now: datetime) -> list[int]:
        """Atomically move due pending rows to ``sending``; returns the ids this call claimed."""
        if not ids:
            return []
        due = or_(_c.next_attempt_at.is_(None), _c.next_attempt_at <= now)
        conn = self.conn
        with conn.begin():
            conn.execute(
                update(deliveries)
                .where(_c.id.in_(list(ids)), _c.state == DeliveryState.PENDING, due)
                .values(state=DeliveryState.SENDING, claimed_by=holder, updated_at=now)
            )
            rows = conn.execute(
                select(_c.id).where(
                    _c.id.in_(list(ids)), _c.state == DeliveryState.SENDING, _c.claimed_by == holder
                )
            )
            return sorted(r.id for r in rows)

    def is_suppressed(self, address: str) -> bool:
        with self.conn.begin():
            return self._is_suppressed.run({"h": address_hash(address)}).first() is not None

    def record(
        self,
        row_id: int,
        state: DeliveryState,
        *,
        now: datetime,
        code: int | None,
        reply: str,
        attempts: int,
        message_id: str | None = None,
        next_attempt_at: datetime | None = None,
        suppress: tuple[str, str] | None = None,
    ) -> None:
        """Write one outcome in its own commit; ``suppress=(address, source)`` adds the bounce to
        the suppression list in the same transaction."""
        params = {
            "row_id": row_id,
            "state": state,
            "attempts": attempts,
            "code": code,
            "reply": reply[:2000],
            "now": now,
            "next_at": next_attempt_at,
            "message_id": message_id,
            "sent_at": now if state == DeliveryState.SENT else None,
        }
        conn = self.conn
        with conn.begin():
            self._record.run(params)
            if suppress is not None:
                address, source = suppress
                entry = {
                    "address_hash": address_hash(address),
                    "address": canonical(address),
                    "reason": "bounced",
                    "source": source[:200],
                    "created_at": now,
                }
                _insert_ignore(conn, suppressions, [entry], ["address_hash"])


# ───────────────────────────── helpers ─────────────────────────────


def lease_name(issue: str) -> str:
    """The name of an issue's send lease in ``tables.locks``."""
    name = f"send:{issue}"
    if len(name) > 50:  # locks.name holds 50 characters: long slugs get a digest, never a clash
        name = f"send:{issue[:28]}:{hashlib.sha256(issue.encode()).hexdigest()[:16]}"
    return name


def holder_name() -> str:
    """``host:pid:random``: who holds a send's lease and claims its rows."""
    return new_holder()


def _count(conn: Connection, issue: str) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(deliveries).where(deliveries.c.issue == issue)
        ).scalar_one()
    )


def _insert_ignore(conn: Connection, table: object, rows: list[dict[str, object]], keys: list[str]) -> int:
    """INSERT … ON CONFLICT DO NOTHING on SQLite/PostgreSQL; select-then-insert elsewhere.
    Returns the number of rows inserted where the dialect tells (else 0 or more)."""
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        from sqlalchemy.dialects import postgresql, sqlite

        dialect_insert: Any = sqlite.insert if dialect == "sqlite" else postgresql.insert
        stmt = dialect_insert(table).on_conflict_do_nothing(index_elements=keys)
        result = conn.execute(stmt, rows)
        return max(result.rowcount, 0)
    cols = [table.c[k] for k in keys]  # type: ignore[attr-defined]
    fresh = []
    for row in rows:
        cond = and_(*(col == bindparam(f"k_{col.name}", row[col.name]) for col in cols))
        if conn.execute(select(cols[0]).where(cond)).first() is None:
            fresh.append(row)
    if fresh:
        conn.execute(insert(table), fresh)  # type: ignore[arg-type]
    return len(fresh)


__all__ = [
    "FailedRow",
    "Ledger",
    "LedgerCounts",
    "Row",
    "holder_name",
    "lease_name",
]
