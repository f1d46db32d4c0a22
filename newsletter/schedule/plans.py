"""Schedules as the editor means them: ``--to SEGMENT --at LOCAL TIME`` → checked rows in the store.

The wall-clock time becomes one absolute UTC instant (``times``: a time that happens twice on the
autumn DST night, or never on the spring night, is refused, never guessed) and is stored as a row
of ``store.schedules``, one per segment, or one per member zone with ``--per-member-timezone``.
A schedule is for one segment, for ``all`` (every member, at ``[newsletter] timezone``) or for
``general`` (the members in no segment, at that zone too); the issue must pass the pre-flight
check. Also here: which members a schedule mails when it fires, and the schedules a send by hand
made needless (``settle_by_hand``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..clock import Clock, SystemClock
from ..config import Config
from ..edges import ledger, state_database
from ..model import ALL, GENERAL, OPEN_STATES, NewsletterError, RefusedError, Segment
from ..store.schedules import (
    ACTIVE,
    BY_HAND,
    ScheduleInfo,
    get_schedule,
    insert_schedules,
    list_schedules,
    set_state,
)
from ..zones import fmt_local
from .times import parse_at, to_utc, zone

BERLIN = "Europe/Berlin"


def resolve_issue(issue: str | Path, config: Config) -> Path:
    """ISSUE as typed (see content.resolve_issue_path), refused when it holds no issue.md."""
    from ..content import resolve_issue_path

    path = resolve_issue_path(issue, config)
    if not (path / "issue.md").is_file():
        raise RefusedError(f"{path}: no issue here (no issue.md); check the path or `newsletter new SLUG`")
    return path.resolve()


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
    engine = state_database(config)
    ids = insert_schedules(engine, slug, segment.id, str(issue_path), plan, now)
    return [info for info in (get_schedule(engine, i) for i in ids) if info]


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
        for other in list_schedules(state_database(config), info.issue)
        if other.state in ACTIVE and other.segment != info.segment and ALL in (other.segment, info.segment)
    ]


def _check_preflight(config: Config, issue_path: Path, shown: str) -> None:
    from .. import preflight  # imported late: rendering is not needed to list or cancel schedules

    checked = preflight.check_issue(issue_path, config)  # the files parsed once, each edition rendered once
    checked.passed(f"not scheduled: {shown} fails the pre-flight check; fix it (`newsletter check {shown}`)")


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
        for info in list_schedules(state_database(config), issue_slug)
        if info.segment == segment_id and info.member_timezone and info.state != "cancelled"
    )


def _segment_members(config: Config, segment_id: str, default_zone: str) -> list[tuple[str, str]]:
    """(address, zone) of the members the schedule addresses; a member without a zone of their
    own has the segment's, or for ``all`` the zone of their first segment (newsletter.toml order),
    else ``default_zone``."""
    from .. import (
        audience,  # imported late so the CLI loads without it
        edges,
    )
    from ..audience.signups import audience as signup_audience
    from ..audience.targets import member_in

    report = audience.read_members(config.subscribers, config)
    store = edges.subscriptions(config)  # confirmed sign-ups and readers' choices, as a send has them
    members = signup_audience(report, store, config).members
    return [
        (m.address, m.timezone or _home_zone(config, m.segments, segment_id, default_zone))
        for m in members
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
    return [info for info in list_schedules(state_database(config), issue_slug) if info.state in ACTIVE]


def settle_by_hand(
    config: Config, issue_slug: str, command: str, send_id: int | None, *, clock: Clock | None = None
) -> list[ScheduleInfo]:
    """After `newsletter send` by hand: scheduled/held schedules of the issue whose every member now
    has a finished ledger row (sent, bounced, suppressed, failed, unknown) → done, with ``command``
    in the message; the scheduler drops them. Those with members still to mail stay as they are."""
    engine = state_database(config)
    finished = {r.address for r in ledger(config).rows(issue_slug) if r.state not in OPEN_STATES}
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
    engine = state_database(config)
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
