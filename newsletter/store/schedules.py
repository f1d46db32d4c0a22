"""The schedules table: rows ↔ ``ScheduleInfo``, and the one insert that refuses a duplicate.

The table is the source of truth for every schedule (``schedule.plans`` makes them,
``schedule.service`` fires them). At most one active schedule (scheduled, running, held) per
issue, segment and member zone: the check before the insert is for the message, the unique index
``uq_schedules_active`` is what keeps a second command racing this one out.

States: scheduled → running → done | failed; scheduled → held (missed by more than the
staleness window) | cancelled; running → cancelled (stops after the message in flight).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..model import RefusedError
from ..zones import fmt_local
from .tables import ACTIVE_SCHEDULE_STATES, schedules

ACTIVE = ACTIVE_SCHEDULE_STATES  # scheduled, running, held: at most one per issue, segment, zone
STATES = ("scheduled", "running", "done", "held", "cancelled", "failed")
BY_HAND = "by `newsletter send "  # message of a schedule made needless by a send by hand


@dataclass(frozen=True)
class ScheduleInfo:
    """One row of ``tables.schedules``."""

    id: int
    issue: str  # issue slug (folder name), as in the ledger
    segment: str
    at_utc: datetime  # aware UTC
    local_zone: str  # zone the editor's wall-clock time was meant in
    state: str
    message: str | None = None
    member_timezone: str | None = None  # set for --per-member-timezone jobs
    issue_path: str | None = None

    def local(self, zone: str | None = None) -> datetime:
        return self.at_utc.astimezone(ZoneInfo(zone or self.local_zone))

    def when(self) -> str:
        """``2026-12-01 09:00 CET Europe/Warsaw (08:00 UTC)``."""
        return (
            f"{fmt_local(self.at_utc, self.local_zone)} {self.local_zone} ({self.at_utc:%Y-%m-%d %H:%M} UTC)"
        )

    @property
    def by_hand(self) -> bool:
        """Done because a `newsletter send` by hand reached all its members (see settle_by_hand)."""
        return self.state == "done" and (self.message or "").startswith(BY_HAND)

    @property
    def shown_state(self) -> str:
        return "done (sent by hand)" if self.by_hand else self.state

    def short(self) -> str:
        """``#1 poland at 2027-07-15 09:00 CEST Europe/Warsaw``, for warnings naming schedules."""
        zone = f" [members in {self.member_timezone}]" if self.member_timezone else ""
        return (
            f"#{self.id} {self.segment}{zone} at {fmt_local(self.at_utc, self.local_zone)} {self.local_zone}"
        )

    def __str__(self) -> str:
        zone = f" [members in {self.member_timezone}]" if self.member_timezone else ""
        note = f" — {self.message}" if self.message else ""
        return f"#{self.id} {self.segment}{zone}: {self.when()} {self.shown_state}{note}"


def _row(r: object) -> ScheduleInfo:
    m = r._mapping  # type: ignore[attr-defined]
    return ScheduleInfo(
        id=m["id"],
        issue=m["issue"],
        segment=m["segment"],
        at_utc=m["at_utc"],
        local_zone=m["local_zone"],
        state=m["state"],
        message=m["message"],
        member_timezone=m["member_timezone"],
        issue_path=m["issue_path"],
    )


def list_schedules(engine: Engine, issue_slug: str | None = None) -> list[ScheduleInfo]:
    query = select(schedules).order_by(schedules.c.at_utc, schedules.c.id)
    if issue_slug is not None:
        query = query.where(schedules.c.issue == issue_slug)
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(query)]


def describe_schedules(engine: Engine, issue_slug: str) -> list[ScheduleInfo]:
    """Every schedule of one issue (any state), earliest first; ``str(info)`` is one status line."""
    return list_schedules(engine, issue_slug)


def get_schedule(engine: Engine, schedule_id: int) -> ScheduleInfo | None:
    with engine.connect() as conn:
        row = conn.execute(select(schedules).where(schedules.c.id == schedule_id)).first()
    return _row(row) if row else None


def set_state(
    engine: Engine,
    schedule_id: int,
    state: str,
    message: str | None,
    *,
    only_from: Sequence[str] = (),
    now: datetime,
) -> bool:
    """Move a row to ``state``; with ``only_from`` only if it is in one of those states. True if it moved."""
    stmt = update(schedules).where(schedules.c.id == schedule_id)
    if only_from:
        stmt = stmt.where(schedules.c.state.in_(only_from))
    with engine.begin() as conn:
        moved = conn.execute(stmt.values(state=state, message=message, updated_at=now)).rowcount
    return bool(moved)


def insert_schedules(
    engine: Engine,
    slug: str,
    segment_id: str,
    issue_path: str,
    plan: Sequence[tuple[str, str | None, datetime]],
    now: datetime,
) -> list[int]:
    """Insert the plan's rows in one transaction. The check before is for the message; the unique
    index uq_schedules_active is what keeps a second command racing this one out."""
    try:
        with engine.begin() as conn:
            _refuse_duplicate(conn, slug, segment_id)
            return [
                conn.execute(
                    insert(schedules).values(
                        issue=slug,
                        segment=segment_id,
                        issue_path=issue_path,
                        member_timezone=member_zone,
                        at_utc=instant,
                        local_zone=zone_name_,
                        state="scheduled",
                        message=None,
                        created_at=now,
                        updated_at=now,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
                for zone_name_, member_zone, instant in plan
            ]
    except IntegrityError:
        with engine.connect() as conn:  # the other command committed first: say which it stored
            _refuse_duplicate(conn, slug, segment_id)
        raise RefusedError(
            f"{slug} was scheduled for {segment_id} by another command at the same moment; "
            "see `newsletter schedule list`"
        ) from None


def _refuse_duplicate(conn: object, slug: str, segment_id: str) -> None:
    rows = conn.execute(  # type: ignore[attr-defined]
        select(schedules.c.id, schedules.c.state, schedules.c.at_utc)
        .where(schedules.c.issue == slug, schedules.c.segment == segment_id, schedules.c.state.in_(ACTIVE))
        .order_by(schedules.c.id)
    ).all()
    if rows:
        ids = " ".join(str(r.id) for r in rows)
        raise RefusedError(
            f"{slug} is already scheduled for {segment_id} (#{rows[0].id}, {rows[0].state}, "
            f"{rows[0].at_utc:%Y-%m-%d %H:%M} UTC); to replace it: `newsletter schedule cancel {ids}`"
        )


__all__ = [
    "ACTIVE",
    "BY_HAND",
    "STATES",
    "ScheduleInfo",
    "describe_schedules",
    "get_schedule",
    "insert_schedules",
    "list_schedules",
    "set_state",
]
