"""Schedules: the editor's local time → one absolute UTC instant, stored in ``tables.schedules``.

``tables.schedules`` is the source of truth (the scheduler process in ``scheduler.py`` fires the
rows through APScheduler). Local times are resolved in ``localtime.py``: a wall-clock time that
happens twice (the autumn DST night) or never (the spring night) is refused, never guessed.
A schedule is for one segment, for ``all`` (every member, at ``[newsletter] timezone``) or for
``general`` (the members in no segment, at that zone too).

States: scheduled → running → done | failed; scheduled → held (missed by more than the
staleness window) | cancelled; running → cancelled (stops after the message in flight).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from .clock import Clock, SystemClock
from .config import Config
from .localtime import fmt_local, parse_at, to_utc, zone
from .localtime import resolve_at as resolve_at  # re-exported: callers import times from here
from .model import ALL, GENERAL, NewsletterError, RefusedError, Segment
from .store.db import engine_for
from .store.tables import ACTIVE_SCHEDULE_STATES, schedules

BERLIN = "Europe/Berlin"
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


# ───────────────────────────── the schedules table ─────────────────────────────


def resolve_issue(issue: str | Path, config: Config) -> Path:
    """ISSUE as typed (see content.resolve_issue_path), refused when it holds no issue.md."""
    from .content import resolve_issue_path

    path = resolve_issue_path(issue, config)
    if not (path / "issue.md").is_file():
        raise RefusedError(f"{path}: no issue here (no issue.md); check the path or `newsletter new SLUG`")
    return path.resolve()


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


def list_schedules(config: Config, issue_slug: str | None = None) -> list[ScheduleInfo]:
    query = select(schedules).order_by(schedules.c.at_utc, schedules.c.id)
    if issue_slug is not None:
        query = query.where(schedules.c.issue == issue_slug)
    with engine_for(config.database_url).connect() as conn:
        return [_row(r) for r in conn.execute(query)]


def describe_schedules(config: Config, issue_slug: str) -> list[ScheduleInfo]:
    """Every schedule of one issue (any state), earliest first; ``str(info)`` is one status line."""
    return list_schedules(config, issue_slug)


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


@dataclass(frozen=True)
class Request:
    """What ``newsletter schedule`` was asked, before it is checked."""

    issue: str
    segment: str
    at: str
    tz: str | None = None
    per_member_timezone: bool = False


def create_schedule(config: Config, request: Request, *, clock: Clock | None = None) -> list[ScheduleInfo]:
    """Check and store a schedule (one row, or one per member zone); refuses with RefusedError."""
    clock = clock or SystemClock()
    segment = schedule_segment(config, request.segment)
    zone_name = request.tz or segment.timezone
    zone(zone_name)
    local = parse_at(request.at)
    issue_path = resolve_issue(request.issue, config)
    slug = issue_path.name
    if request.per_member_timezone:
        if local.tzinfo is not None:
            raise RefusedError(
                "--per-member-timezone takes a wall-clock time without offset, e.g. 2026-12-01T09:00"
            )
        zones = member_zones(config, segment.id, segment.timezone)
        plan: list[tuple[str, str | None, datetime]] = [(z, z, to_utc(local, z)) for z in zones]
    else:
        plan = [(zone_name, None, to_utc(local, zone_name))]
    now = clock.now()
    for zone_name_, _, instant in plan:
        if instant <= now:
            raise RefusedError(
                f"{fmt_local(instant, zone_name_)} ({instant:%Y-%m-%d %H:%M} UTC) is in the past "
                f"(now {fmt_local(now, zone_name_)}); give a later --at"
            )
    _check_preflight(config, issue_path, request.issue)
    engine = engine_for(config.database_url)
    ids = _store(engine, slug, segment.id, str(issue_path), plan, now)
    return [info for info in (get_schedule(engine, i) for i in ids) if info]


def _store(
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


def schedule_segment(config: Config, segment_id: str) -> Segment:
    """The segment of ``--to``; ``all`` and ``general`` have the default zone of newsletter.toml."""
    if "," in segment_id:
        raise RefusedError("schedule one segment per command (each has its own local time): --to poland")
    name = segment_id.strip().lower()
    if name in (ALL, GENERAL):
        return Segment(id=name, names={}, timezone=config.timezone)
    try:
        return config.segment(name)
    except NewsletterError as exc:
        raise RefusedError(
            f"{exc}; or --to all (every member) or --to general (the members in no segment)"
        ) from None


def overlapping(config: Config, info: ScheduleInfo) -> list[ScheduleInfo]:
    """Other active schedules of the issue that address the same members as ``info``: ``all``
    overlaps every schedule (each member still gets the issue once, from the first to fire)."""
    return [
        other
        for other in list_schedules(config, info.issue)
        if other.state in ACTIVE and other.segment != info.segment and ALL in (other.segment, info.segment)
    ]


def _check_preflight(config: Config, issue_path: Path, shown: str) -> None:
    from . import preflight  # imported late: rendering is not needed to list or cancel schedules

    errors = [p for p in preflight.check_issue(issue_path, config) if p.severity == "error"]
    if errors:
        raise preflight.PreflightRefused(
            errors, f"not scheduled: {shown} fails the pre-flight check; fix it (`newsletter check {shown}`)"
        )


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


def member_zones(config: Config, segment_id: str, default_zone: str) -> list[str]:
    """Distinct time zones of the segment's members (members without one count as ``default_zone``)."""
    zones = sorted({m_zone for _, m_zone in _segment_members(config, segment_id, default_zone)})
    if not zones:
        raise RefusedError(f"{config.subscribers}: no member in {segment_id}; nothing to schedule")
    for name in zones:
        zone(name)
    return zones


def members_in_zone(
    config: Config,
    segment_id: str,
    default_zone: str,
    zone_name: str,
    scheduled_zones: Collection[str] | None = None,
) -> frozenset[str]:
    """Addresses of the segment's members whose zone is ``zone_name`` (read at fire time).

    The job of the segment's own zone also takes members whose zone has no job of its own
    (``scheduled_zones``: the zones scheduled for this issue and segment): someone who joined or
    moved after scheduling is mailed at the segment's local time instead of not at all."""
    return frozenset(
        addr
        for addr, m_zone in _segment_members(config, segment_id, default_zone)
        if m_zone == zone_name
        or (scheduled_zones is not None and zone_name == default_zone and m_zone not in scheduled_zones)
    )


def scheduled_zones(config: Config, issue_slug: str, segment_id: str) -> frozenset[str]:
    """Member zones that have a (not cancelled) per-member-timezone job for this issue and segment."""
    return frozenset(
        info.member_timezone
        for info in list_schedules(config, issue_slug)
        if info.segment == segment_id and info.member_timezone and info.state != "cancelled"
    )


def _segment_members(config: Config, segment_id: str, default_zone: str) -> list[tuple[str, str]]:
    """(address, zone) of the members the schedule addresses; a member without a zone of their
    own has the segment's, or for ``all`` the zone of their first segment (newsletter.toml order),
    else ``default_zone``."""
    from . import audience  # imported late so the CLI loads without it
    from .audience.targets import member_in

    report = audience.read_members(config.subscribers, config)
    return [
        (m.address, m.timezone or _home_zone(config, m.segments, segment_id, default_zone))
        for m in report.members
        if member_in((segment_id,), m) and getattr(m, "subscribed", True)
    ]


def _home_zone(config: Config, member_segments: Collection[str], segment_id: str, default_zone: str) -> str:
    if segment_id == ALL:
        for segment in config.segments.values():
            if segment.id in member_segments:
                return segment.timezone
    return default_zone


def audience_of(config: Config, info: ScheduleInfo) -> frozenset[str]:
    """The addresses the schedule would mail when it fires (read from the member list now)."""
    segment = schedule_segment(config, info.segment)
    if info.member_timezone:
        zones = scheduled_zones(config, info.issue, segment.id)
        return members_in_zone(config, segment.id, segment.timezone, info.member_timezone, zones)
    return frozenset(addr for addr, _ in _segment_members(config, segment.id, segment.timezone))


def waiting_schedules(config: Config, issue_slug: str) -> list[ScheduleInfo]:
    """The issue's schedules that will still send (scheduled, held, running), earliest first."""
    return [info for info in list_schedules(config, issue_slug) if info.state in ACTIVE]


def settle_by_hand(
    config: Config, issue_slug: str, command: str, send_id: int | None, *, clock: Clock | None = None
) -> list[ScheduleInfo]:
    """After `newsletter send` by hand: scheduled/held schedules of the issue whose every member now
    has a finished ledger row (sent, bounced, suppressed, failed, unknown) → done, with ``command``
    in the message; the scheduler drops them. Those with members still to mail stay as they are."""
    from .store.ledger import OPEN_STATES, Ledger

    engine = engine_for(config.database_url)
    finished = {r.address for r in Ledger(engine).rows(issue_slug) if r.state not in OPEN_STATES}
    now = (clock or SystemClock()).now()
    message = f"{BY_HAND}{issue_slug} --to {command}` (send #{send_id}), {now:%Y-%m-%d %H:%M} UTC"
    settled = []
    for info in waiting_schedules(config, issue_slug):
        audience = audience_of(config, info) if info.state != "running" else frozenset()
        needless = bool(audience) and audience <= finished
        if needless and set_state(engine, info.id, "done", message, only_from=("scheduled", "held"), now=now):
            settled.append(get_schedule(engine, info.id) or info)
    return settled


def cancel_schedule(config: Config, schedule_id: int, *, clock: Clock | None = None) -> ScheduleInfo:
    """scheduled/held → cancelled; running → cancelled (the scheduler stops after the message in flight)."""
    clock = clock or SystemClock()
    engine = engine_for(config.database_url)
    info = get_schedule(engine, schedule_id)
    if info is None:
        raise NewsletterError(f"no schedule #{schedule_id}; see `newsletter schedule list`")
    now = clock.now()
    message = f"cancelled at {now:%Y-%m-%d %H:%M} UTC"
    if info.state == "running":
        message += "; the scheduler stops the send after the message in flight"
    if not set_state(engine, schedule_id, "cancelled", message, only_from=ACTIVE, now=now):
        raise NewsletterError(f"schedule #{schedule_id} is already {info.state}; nothing to cancel")
    return get_schedule(engine, schedule_id) or info
