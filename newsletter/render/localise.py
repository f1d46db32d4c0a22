"""Dates and times in the reader's language (Babel): ``24. März 2022``, ``March 24, 2022``, ``24 marca 2022``."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from babel.dates import format_date, format_time, get_timezone_location, get_timezone_name

from ..model import Event


def long_date(value: date, language: str) -> str:
    return format_date(value, "long", locale=language)


def _time(value: datetime, language: str) -> str:
    return format_time(value, "short", tzinfo=value.tzinfo, locale=language)


def _zone(value: datetime, language: str) -> str:
    name = get_timezone_name(value, "short", locale=language)
    if name.startswith(("+", "-", "GMT", "UTC")) and value.tzname():
        return value.tzname() or name
    return name


def event_when(event: Event, language: str, time_suffix: str = "") -> str:
    """``Donnerstag, 7. Juli 2022, 14:00–19:00 Uhr MESZ`` or ``30. Mai 2022, 09:00 – 3. Juni 2022, 17:00 Uhr MESZ``.

    Each time stays in the zone it was written in: an end in another zone is not converted into the
    start's (``10:00 Uhr MESZ (Berlin) – 18:00 Uhr PDT (Los Angeles)``; issue 10 item 14).
    """
    start, end, suffix = event.start, event.end, time_suffix  # "Uhr" after a German time ([de.mail])
    zone = _zone(start, language)
    if end is None:
        return _join(
            format_date(start, "full", locale=language) + ", " + _time(start, language), suffix, zone
        )
    if not same_zone(start, end) or _zone(end, language) != zone:
        return _each_in_its_zone(start, end, language, suffix)
    if end.date() == start.date():
        times = f"{_time(start, language)}–{_time(end, language)}"
        return _join(f"{format_date(start, 'full', locale=language)}, {times}", suffix, zone)
    first = f"{long_date(start.date(), language)}, {_time(start, language)}"
    last = f"{long_date(end.date(), language)}, {_time(end, language)}"
    return _join(f"{first} – {last}", suffix, zone)


def same_zone(start: datetime, end: datetime) -> bool:
    """Written in the same zone: the same IANA name, or the same fixed offset."""
    first, second = getattr(start.tzinfo, "key", None), getattr(end.tzinfo, "key", None)
    if first or second:
        return bool(first == second)
    return start.utcoffset() == end.utcoffset()


def zone_label(moment: datetime) -> str:
    """The zone as the editor wrote it: ``Europe/Berlin`` or ``+02:00``."""
    key = getattr(moment.tzinfo, "key", None)
    return str(key) if key else _offset(moment)


def _offset(moment: datetime) -> str:
    minutes = int((moment.utcoffset() or timedelta(0)).total_seconds() // 60)
    return f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _each_in_its_zone(start: datetime, end: datetime, language: str, suffix: str) -> str:
    cities = not same_zone(start, end)

    def moment(value: datetime, with_date: str) -> str:
        city = f"({_city(value, language)})" if cities else ""
        return " ".join(
            p for p in (with_date + _time(value, language), suffix, _zone(value, language), city) if p
        )

    if start.date() == end.date():
        return f"{format_date(start, 'full', locale=language)}, {moment(start, '')} – {moment(end, '')}"
    first = moment(start, f"{long_date(start.date(), language)}, ")
    return f"{first} – {moment(end, f'{long_date(end.date(), language)}, ')}"


def _city(value: datetime, language: str) -> str:
    """``Los Angeles`` for America/Los_Angeles (localised by CLDR), or the offset for a fixed one."""
    if getattr(value.tzinfo, "key", None):
        return str(get_timezone_location(value.tzinfo, locale=language, return_city=True))
    return f"UTC{_offset(value)}"


def _join(text: str, suffix: str, zone: str) -> str:
    return " ".join(part for part in (text, suffix, zone) if part)
