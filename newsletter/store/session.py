"""The send loop's writer: claims, outcomes (one commit per poll cycle) and suppression look-ups over
one held connection with statements compiled once (the engine's ``send.protocols.StoreSession``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, literal, or_, select, union_all, update

from ..audience.address import address_hash
from ..audience.signups import Choice
from ..model import DeliveryState
from .db import insert_ignore
from .suppressions import suppression_row
from .tables import deliveries, preferences, suppressions

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
        edition=func.coalesce(bindparam("edition", type_=_c.edition.type), _c.edition),
        message_id=func.coalesce(bindparam("message_id", type_=_c.message_id.type), _c.message_id),
        sent_at=func.coalesce(bindparam("sent_at", type_=_c.sent_at.type), _c.sent_at),
    )
)
# Right before a member's message, one statement: suppressed? (kind 1) and the reader's current
# choice of language and segments (kind 2), both by the address's hash (primary keys).
_p = preferences.c
_RECHECK = union_all(
    select(literal(1).label("kind"), literal("").label("language"), literal("").label("segments")).where(
        suppressions.c.address_hash == bindparam("h")
    ),
    select(literal(2), _p.language, _p.segments).where(_p.address_hash == bindparam("h")),
)
SUPPRESSED = "suppressed"
# A claim takes up to CLAIM_SLOTS rows by id; shorter batches repeat their first id (the statement
# is compiled once, for a fixed number of parameters)
CLAIM_SLOTS = 64
_IDS = [bindparam(f"id{i}", type_=_c.id.type) for i in range(CLAIM_SLOTS)]
_NOW = bindparam("now", type_=_c.updated_at.type)
_CLAIM = (
    update(deliveries)
    .where(
        _c.id.in_(_IDS),
        _c.state == DeliveryState.PENDING,
        or_(_c.next_attempt_at.is_(None), _c.next_attempt_at <= _NOW),
    )
    .values(state=DeliveryState.SENDING, claimed_by=bindparam("holder"), updated_at=_NOW)
)
_CLAIMED = select(_c.id).where(
    _c.id.in_(_IDS), _c.state == DeliveryState.SENDING, _c.claimed_by == bindparam("holder")
)


class _Prepared:
    """A Core statement compiled once for a connection's dialect and run on the driver's own cursor
    with the columns' bind processing (UtcDateTime etc.): the same rows as ``conn.execute``
    without SQLAlchemy's per-call compile-cache, event and result set-up work (most of the
    ≈ 0.1 ms a statement cost there)."""

    def __init__(self, stmt: Any, conn: Connection):
        compiled = stmt.compile(dialect=conn.dialect)
        self.sql = str(compiled)
        self.positional = bool(compiled.positional)
        self.names = list(compiled.positiontup or []) if self.positional else list(compiled.binds)
        processors = {name: bind.type.bind_processor(conn.dialect) for name, bind in compiled.binds.items()}
        # (name, bind processor, default) in the driver's order, worked out once
        self.plan = [(name, processors[name], compiled.binds[name].value) for name in self.names]

    def run(self, cursor: Any, params: Mapping[str, Any]) -> Any:
        values = []
        for name, proc, default in self.plan:
            value = params.get(name, default)
            values.append(proc(value) if proc is not None and value is not None else value)
        if self.positional:
            return cursor.execute(self.sql, values)
        return cursor.execute(self.sql, dict(zip(self.names, values, strict=True)))


class LedgerSession:
    """The send loop's writer over one held connection (the engine's ``StoreSession``).

    ``record`` writes an outcome into the open transaction and ``commit`` ends it: the loop
    commits once per poll cycle, before any connection gets its next message, so the replies of
    one cycle share one commit (≈ 0.1 ms on SQLite, the largest ledger cost per message) while a
    ``sent`` row is still only written after its 250. The statements of the hot path (claims,
    outcomes, suppression look-ups) go straight to the driver's cursor; a bounce's suppression
    entry (rare) goes through SQLAlchemy, whose commit ends the same driver transaction."""

    def __init__(self, conn: Connection):
        self.conn = conn
        driver = conn.connection.dbapi_connection  # SQLAlchemy's pooled driver connection
        assert driver is not None
        self._driver = driver
        self._cursor = self._driver.cursor()
        self._recheck = _Prepared(_RECHECK, conn)
        self._record = _Prepared(_RECORD, conn)
        self._claim, self._claimed = _Prepared(_CLAIM, conn), _Prepared(_CLAIMED, conn)
        self._open = False  # statements ran on the cursor since the last commit

    def commit(self) -> None:
        """Make every outcome recorded since the last commit durable."""
        if self._open:
            self._driver.commit()
            self._open = False

    def close(self) -> None:
        """Commit what was recorded (each is a reply the relay gave), then hand the connection back."""
        try:
            self.commit()
        finally:
            self._cursor.close()
            self.conn.close()

    def claim(self, ids: Sequence[int], holder: str, now: datetime) -> list[int]:
        """Atomically move due pending rows to ``sending``; returns the ids this call claimed.
        Committed at once, with the outcomes recorded before it (earlier is always safe)."""
        claimed: list[int] = []
        for start in range(0, len(ids), CLAIM_SLOTS):
            chunk = list(ids[start : start + CLAIM_SLOTS])
            params: dict[str, object] = {"holder": holder, "now": now}
            params.update((f"id{i}", chunk[i] if i < len(chunk) else chunk[0]) for i in range(CLAIM_SLOTS))
            self._claim.run(self._cursor, params)
            claimed += (row[0] for row in self._claimed.run(self._cursor, params).fetchall())
        self._open = True
        self.commit()
        return sorted(claimed)

    def recheck(self, address: str) -> str | Choice | None:
        """Read right before the member's message: ``SUPPRESSED`` if an unsubscribe was committed,
        else the reader's current choice (the preference page), else None."""
        self._open = True
        rows = self._recheck.run(self._cursor, {"h": address_hash(address)}).fetchall()
        if any(row[0] == 1 for row in rows):
            return SUPPRESSED
        for _kind, language, segments in rows:
            return Choice(language, frozenset(s for s in segments.split("|") if s))
        return None

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
        edition: str | None = None,
    ) -> None:
        """Write one outcome (durable at the next ``commit``); ``suppress=(address, source)`` adds
        the bounce to the suppression list in the same transaction and commits at once."""
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
            "edition": edition,
        }
        self._record.run(self._cursor, params)
        self._open = True
        if suppress is not None:
            address, source = suppress
            entry = suppression_row(address, "bounced", source, now)
            with self.conn.begin():  # the same driver transaction, committed with the outcome
                insert_ignore(self.conn, suppressions, [entry], ["address_hash"])
            self._open = False


__all__ = ["LedgerSession"]
