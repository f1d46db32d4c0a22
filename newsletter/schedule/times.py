"""The editor's wall-clock time → one absolute UTC instant, with zoneinfo only.

A local time that happens twice (the autumn DST night) or never (the spring night) is refused
with the candidate instants named, never guessed (``plans`` makes schedules of the result).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..model import RefusedError
from ..zones import fmt_local


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RefusedError(f"unknown time zone '{name}'; use an IANA name like Europe/Berlin") from None


def parse_at(text: str) -> datetime:
    """ISO 8601 date and time, with or without offset (``2026-12-01T09:00``, ``… 09:00+01:00``, ``…Z``)."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise RefusedError(
            f"--at '{text}' is not an ISO 8601 date and time; write e.g. 2026-12-01T09:00 "
            "(the segment's zone) or 2026-12-01T09:00+01:00"
        ) from None
    if len(text.strip()) <= 10:  # a bare date: midnight is almost never what the editor meant
        raise RefusedError(f"--at '{text}' has no time of day; write e.g. {text.strip()}T09:00")
    return parsed


def to_utc(local: datetime, zone_name: str) -> datetime:
    """A naive wall-clock time in ``zone_name`` → the one UTC instant it names.

    Refuses (RefusedError) times that occur twice or never on DST change nights; found by
    round-tripping both folds through UTC.
    """
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    tz = zone(zone_name)
    candidates: list[datetime] = []
    for fold in (0, 1):
        instant = local.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if instant.astimezone(tz).replace(tzinfo=None) == local and instant not in candidates:
            candidates.append(instant)
    if len(candidates) == 1:
        return candidates[0]
    shown = f"{local:%Y-%m-%d %H:%M}"
    if candidates:
        first, second = sorted(candidates)
        return _refuse_ambiguous(shown, zone_name, first, second)
    return _refuse_gap(local, shown, zone_name, tz)


def _offset(instant: datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).strftime("%Z, %z")


def _refuse_ambiguous(shown: str, zone_name: str, first: datetime, second: datetime) -> datetime:
    tz = ZoneInfo(zone_name)
    example = first.astimezone(tz).isoformat(timespec="minutes")
    raise RefusedError(
        f"{shown} is ambiguous in {zone_name} (the clocks go back that night): it is either "
        f"{first:%Y-%m-%d %H:%M} UTC ({_offset(first, tz)}) or {second:%Y-%m-%d %H:%M} UTC "
        f"({_offset(second, tz)}); give the offset, e.g. --at {example}"
    )


def _refuse_gap(local: datetime, shown: str, zone_name: str, tz: ZoneInfo) -> datetime:
    lo, hi = sorted(local.replace(tzinfo=tz, fold=f).astimezone(UTC) for f in (0, 1))
    after = hi.astimezone(tz).utcoffset()
    while hi - lo > timedelta(seconds=1):  # the transition lies between the two readings
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    change = hi.replace(microsecond=0)
    before, at = change - timedelta(minutes=1), change
    jump_from = change + (lo.astimezone(tz).utcoffset() or timedelta(0))  # wall clock just before
    raise RefusedError(
        f"{shown} does not exist in {zone_name} (the clocks jump from "
        f"{jump_from:%H:%M} to {at.astimezone(tz):%H:%M} that night); "
        f"nearest valid local times: {fmt_local(before, zone_name)} ({before:%H:%M} UTC) "
        f"or {fmt_local(at, zone_name)} ({at:%H:%M} UTC)"
    )


def resolve_at(text: str, zone_name: str) -> datetime:
    """``--at`` text → aware UTC instant (an explicit offset wins over ``zone_name``)."""
    return to_utc(parse_at(text), zone_name)
