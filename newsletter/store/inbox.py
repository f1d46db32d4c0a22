"""What ``newsletter inbox`` reads from and writes to the state database (issue 13): the ledger rows
a report may be about, each processed mail's events (``tables.inbox_events``), and — in the same
transaction as those events — the ledger rows a hard bounce marks ``bounced`` and the suppressions.

The events are the memory that makes every run idempotent: a mail whose key is recorded is never
acted on again (only moved, if a crash came between the commit and the move).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, select, update

from ..model import DeliveryState, EditionKey
from .db import insert_ignore
from .suppressions import Suppressions, suppression_row
from .tables import deliveries, inbox_events, suppressions


@dataclass(frozen=True)
class Delivery:
    """A ledger row as the inbox matches reports to it."""

    id: int
    issue: str
    address: str
    edition: str
    state: str
    sent_at: datetime | None
    message_id: str | None


@dataclass(frozen=True)
class Event:
    """One recipient of a processed mail and what was done (a row of ``tables.inbox_events``)."""

    message_key: str
    position: int
    kind: str
    severity: str
    address: str | None
    delivery_id: int | None
    issue: str | None
    status: str
    action: str
    diagnostic: str
    moved: bool
    reported_at: datetime | None


@dataclass(frozen=True)
class Changes:
    """What one processed mail changes, written in one transaction with its events."""

    events: tuple[Event, ...]
    bounced: tuple[tuple[int, str], ...] = ()  # (ledger row id, the report's words) → state bounced
    suppress: tuple[tuple[str, str, str], ...] = ()  # (address, reason, source)


_DELIVERY = (
    deliveries.c.id,
    deliveries.c.issue,
    deliveries.c.address,
    deliveries.c.edition,
    deliveries.c.state,
    deliveries.c.sent_at,
    deliveries.c.message_id,
)


class InboxBook:
    def __init__(self, engine: Engine):
        self.engine = engine

    # ───────────────────────────── matching ─────────────────────────────

    def delivery(self, row_id: int) -> Delivery | None:
        return self._one(deliveries.c.id == row_id)

    def by_message_id(self, message_id: str, row_id: int | None = None) -> Delivery | None:
        """The row that stores this Message-ID: by its key when the id names the row (``row_id``,
        no index needed on the send's hot path), else by a scan (rows sent before ids named rows)."""
        if row_id is not None:
            return self._one(and_(deliveries.c.id == row_id, deliveries.c.message_id == message_id))
        return self._one(deliveries.c.message_id == message_id)

    def latest_to(self, address: str, since: datetime) -> Delivery | None:
        """The newest delivery to ``address`` accepted by the relay since ``since``."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_DELIVERY)
                .where(deliveries.c.address == address, deliveries.c.sent_at >= since)
                .order_by(deliveries.c.sent_at.desc(), deliveries.c.id.desc())
                .limit(1)
            ).first()
        return Delivery(*row) if row else None

    def history(self, address: str) -> list[tuple[Delivery, frozenset[str]]]:
        """Every delivery the relay accepted for ``address``, oldest first, with the severities of
        the reports recorded about it (soft, hard, delayed, blocked …)."""
        c = deliveries.c
        with self.engine.connect() as conn:
            rows = [
                Delivery(*r)
                for r in conn.execute(
                    select(*_DELIVERY)
                    .where(c.address == address, c.sent_at.is_not(None))
                    .order_by(c.sent_at, c.id)
                )
            ]
            reported: dict[int, set[str]] = defaultdict(set)
            ids = [r.id for r in rows]
            for start in range(0, len(ids), 500):
                for delivery_id, severity in conn.execute(
                    select(inbox_events.c.delivery_id, inbox_events.c.severity).where(
                        inbox_events.c.delivery_id.in_(ids[start : start + 500])
                    )
                ):
                    reported[delivery_id].add(severity)
        return [(r, frozenset(reported.get(r.id, ()))) for r in rows]

    def _one(self, condition: object) -> Delivery | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_DELIVERY).where(condition).limit(1)).first()  # type: ignore[arg-type]
        return Delivery(*row) if row else None

    # ───────────────────────────── the record ─────────────────────────────

    def known(self) -> dict[str, bool]:
        """Every recorded mail's key → whether it is to be moved to the Processed folder."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(inbox_events.c.message_key, func.max(inbox_events.c.moved)).group_by(
                    inbox_events.c.message_key
                )
            )
            return {key: bool(moved) for key, moved in rows}

    def record(self, changes: Changes, now: datetime) -> None:
        """The events, the bounced rows and the suppressions of one mail, all or nothing. A mail
        recorded meanwhile by another run changes nothing (its events are already there)."""
        with self.engine.begin() as conn:
            values = [_event_values(e, now) for e in changes.events]
            if values:
                key = changes.events[0].message_key
                recorded = conn.execute(
                    select(inbox_events.c.message_key).where(inbox_events.c.message_key == key).limit(1)
                ).first()
                if recorded is not None:
                    return
                # not the count it returns: a driver may tell 0 for rows it did insert
                insert_ignore(conn, inbox_events, values, ["message_key", "position"])
            for row_id, reply in changes.bounced:
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id == row_id, deliveries.c.state == DeliveryState.SENT)
                    .values(
                        state=DeliveryState.BOUNCED, last_code=None, last_reply=reply[:2000], updated_at=now
                    )
                )
            rows = [
                suppression_row(address, reason, source, now) for address, reason, source in changes.suppress
            ]
            if rows:
                insert_ignore(conn, suppressions, rows, ["address_hash"])

    def suppressed(self, address: str) -> bool:
        return Suppressions(self.engine).contains(address)

    # ───────────────────────────── what the office sees ─────────────────────────────

    def events_of(self, issue: str) -> list[Event]:
        """The reports matched to this issue's deliveries, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(inbox_events)
                .where(inbox_events.c.issue == issue)
                .order_by(inbox_events.c.created_at.desc(), inbox_events.c.id.desc())
            )
            return [_event(dict(r._mapping)) for r in rows]

    def by_segment(self, issue: str) -> dict[str, dict[str, int]]:
        """Segment → severity → deliveries of the issue with such a report (one per delivery)."""
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    deliveries.c.edition, inbox_events.c.severity, func.count(func.distinct(deliveries.c.id))
                )
                .select_from(
                    inbox_events.join(deliveries, and_(deliveries.c.id == inbox_events.c.delivery_id))
                )
                .where(inbox_events.c.issue == issue)
                .group_by(deliveries.c.edition, inbox_events.c.severity)
            )
            for edition, severity, n in rows:
                for segment in EditionKey.parse(edition).segment_names:
                    counts[segment][severity] += n
                counts["overall"][severity] += n
        return {k: dict(v) for k, v in counts.items()}


def _event_values(e: Event, now: datetime) -> dict[str, object]:
    return {
        "message_key": e.message_key,
        "position": e.position,
        "kind": e.kind,
        "severity": e.severity,
        "address": e.address,
        "delivery_id": e.delivery_id,
        "issue": e.issue,
        "status": e.status[:20],
        "action": e.action[:300],
        "diagnostic": e.diagnostic,
        "moved": int(e.moved),
        "reported_at": e.reported_at,
        "created_at": now,
    }


def _event(m: Mapping[str, Any]) -> Event:
    return Event(
        message_key=str(m["message_key"]),
        position=int(m["position"]),
        kind=str(m["kind"]),
        severity=str(m["severity"]),
        address=m["address"],
        delivery_id=m["delivery_id"],
        issue=m["issue"],
        status=str(m["status"] or ""),
        action=str(m["action"]),
        diagnostic=str(m["diagnostic"] or ""),
        moved=bool(m["moved"]),
        reported_at=m["reported_at"],
    )


__all__ = ["Changes", "Delivery", "Event", "InboxBook"]
