"""Dates and times in the reader's language (Babel): ``24. März 2022``, ``March 24, 2022``, ``24 marca 2022``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from babel.dates import format_date, format_time, get_timezone_name

from .model import Event


def long_date(value: date, language: str) -> str:
    return format_date(value, "long", locale=language)


def _time(value: datetime, language: str) -> str:
    return format_time(value, "short", tzinfo=value.tzinfo, locale=language)


def _zone(value: datetime, language: str) -> str:
    name = get_timezone_name(value, "short", locale=language)
    if name.startswith(("+", "-", "GMT", "UTC")) and value.tzname():
        return value.tzname() or name
    return name


def event_when(event: Event, language: str, labels: Mapping[str, str]) -> str:
    """``Donnerstag, 7. Juli 2022, 14:00–19:00 Uhr MESZ`` or ``30. Mai 2022, 09:00 – 3. Juni 2022, 17:00 Uhr MESZ``."""
    start, end = event.start, event.end
    suffix = labels.get("time_suffix", "")
    zone = _zone(start, language)
    if end is None:
        return _join(
            format_date(start, "full", locale=language) + ", " + _time(start, language), suffix, zone
        )
    end = end.astimezone(start.tzinfo)
    if end.date() == start.date():
        times = f"{_time(start, language)}–{_time(end, language)}"
        return _join(f"{format_date(start, 'full', locale=language)}, {times}", suffix, zone)
    first = f"{long_date(start.date(), language)}, {_time(start, language)}"
    last = f"{long_date(end.date(), language)}, {_time(end, language)}"
    return _join(f"{first} – {last}", suffix, zone)


def _join(text: str, suffix: str, zone: str) -> str:
    return " ".join(part for part in (text, suffix, zone) if part)
