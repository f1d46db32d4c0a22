"""The send loop's writer: claims, outcomes (one commit each) and suppression look-ups over one
held connection with statements compiled once (the engine's ``send.protocols.StoreSession``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, select, update

from ..audience.address import address_hash, canonical
from ..model import DeliveryState
from .db import insert_ignore
from .tables import deliveries, suppressions

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

    def commit(self) -> None:
        """Nothing staged: each outcome is committed by ``record`` itself."""

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
                insert_ignore(conn, suppressions, [entry], ["address_hash"])


__all__ = ["LedgerSession"]
