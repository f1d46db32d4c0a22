"""Local wall-clock time → one UTC instant; DST nights refused with the candidates named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsletter.model import RefusedError
from newsletter.schedule.times import parse_at, resolve_at, to_utc


@pytest.mark.parametrize(
    ("day", "warsaw", "new_york"),
    [
        ("2026-07-15", "2026-07-15T07:00:00+00:00", "2026-07-15T13:00:00+00:00"),  # summer
        ("2026-01-15", "2026-01-15T08:00:00+00:00", "2026-01-15T14:00:00+00:00"),  # winter
        ("2026-12-01", "2026-12-01T08:00:00+00:00", "2026-12-01T14:00:00+00:00"),
    ],
)
def test_nine_in_warsaw_and_new_york(day: str, warsaw: str, new_york: str) -> None:
    assert resolve_at(f"{day}T09:00", "Europe/Warsaw").isoformat() == warsaw
    assert resolve_at(f"{day}T09:00", "America/New_York").isoformat() == new_york


def test_between_the_two_dst_changes_new_york_is_one_hour_closer() -> None:
    # 2026-03-08 the USA moved to summer time, Europe only on 2026-03-29: 09:00 NY = 13:00Z.
    assert resolve_at("2026-03-15T09:00", "America/New_York") == datetime(2026, 3, 15, 13, 0, tzinfo=UTC)
    assert resolve_at("2026-03-15T09:00", "Europe/Warsaw") == datetime(2026, 3, 15, 8, 0, tzinfo=UTC)


def test_ambiguous_berlin_autumn_night_names_both_instants() -> None:
    with pytest.raises(RefusedError) as err:
        resolve_at("2026-10-25T02:30", "Europe/Berlin")
    message = str(err.value)
    assert "ambiguous in Europe/Berlin" in message
    assert "2026-10-25 00:30 UTC" in message and "CEST" in message
    assert "2026-10-25 01:30 UTC" in message and "CET" in message
    assert "--at 2026-10-25T02:30+02:00" in message
    assert "\n" not in message


def test_nonexistent_new_york_spring_night_names_nearest_valid_times() -> None:
    with pytest.raises(RefusedError) as err:
        resolve_at("2026-03-08T02:30", "America/New_York")
    message = str(err.value)
    assert "does not exist in America/New_York" in message
    assert "from 02:00 to 03:00" in message
    assert "2026-03-08 01:59 EST (06:59 UTC)" in message
    assert "2026-03-08 03:00 EDT (07:00 UTC)" in message


def test_berlin_spring_gap_and_new_york_autumn_overlap() -> None:
    with pytest.raises(RefusedError, match="does not exist in Europe/Berlin"):
        to_utc(datetime(2026, 3, 29, 2, 30), "Europe/Berlin")
    with pytest.raises(RefusedError, match=r"05:30 UTC .* 06:30 UTC"):
        to_utc(datetime(2026, 11, 1, 1, 30), "America/New_York")


def test_an_explicit_offset_settles_the_ambiguity() -> None:
    assert resolve_at("2026-10-25T02:30+02:00", "Europe/Berlin") == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert resolve_at("2026-10-25T02:30+01:00", "Europe/Berlin") == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert resolve_at("2026-10-25T02:30Z", "Europe/Berlin") == datetime(2026, 10, 25, 2, 30, tzinfo=UTC)


def test_the_hour_around_the_change_is_fine() -> None:
    assert resolve_at("2026-10-25T03:00", "Europe/Berlin") == datetime(2026, 10, 25, 2, 0, tzinfo=UTC)
    assert resolve_at("2026-10-25T01:59", "Europe/Berlin") == datetime(2026, 10, 24, 23, 59, tzinfo=UTC)


@pytest.mark.parametrize("text", ["tomorrow", "2026-13-01T09:00", "09:00", "2026-12-01"])
def test_unreadable_at_is_refused(text: str) -> None:
    with pytest.raises(RefusedError, match="--at"):
        parse_at(text)


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(RefusedError, match="unknown time zone 'Mars/Olympus'"):
        resolve_at("2026-12-01T09:00", "Mars/Olympus")
