"""IANA time zone names: a case-insensitive lookup, the "did you mean" for a typo, a local time shown.

One helper for every place a person writes a zone — the member list's ``timezone`` column,
an article's event times and the segments of ``newsletter.toml`` — so a typo such as
``America/Los_Angles`` gets the same suggestion everywhere.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import datetime
from functools import cache, lru_cache
from zoneinfo import ZoneInfo


@cache
def _zones() -> Mapping[str, str]:
    """Lower-case name → the IANA spelling (``europe/berlin`` → ``Europe/Berlin``)."""
    from zoneinfo import available_timezones

    return {name.lower(): name for name in sorted(available_timezones())}


@cache
def _cities() -> Mapping[str, str]:
    """Lower-case city → its zone (``los_angeles`` → ``America/Los_Angeles``); regions first win."""
    cities: dict[str, str] = {}
    for name in _zones().values():
        if "/" in name and not name.startswith(("Etc/", "SystemV/")):
            cities.setdefault(name.rpartition("/")[2].lower(), name)
    return cities


def find_zone(name: str) -> str | None:
    """The IANA spelling of ``name`` in any case, or None when there is no such zone."""
    return _zones().get(name.strip().lower())


@lru_cache(maxsize=512)
def suggest_zone(name: str) -> str | None:
    """The zone a typo probably meant (``America/Los_Angles`` → ``America/Los_Angeles``), or None."""
    typed = name.strip().lower().replace(" ", "_")
    if not typed or len(typed) > 64:  # no zone name is that long; spare difflib the work
        return None
    if typed in _zones():
        return _zones()[typed]
    if "/" not in typed and typed in _cities():  # "Berlin", "Los Angeles"
        return _cities()[typed]
    close = difflib.get_close_matches(typed, list(_zones()), n=1, cutoff=0.75)
    if not close and "/" not in typed:
        city = difflib.get_close_matches(typed, list(_cities()), n=1, cutoff=0.75)
        return _cities()[city[0]] if city else None
    return _zones()[close[0]] if close else None


def did_you_mean(name: str) -> str:
    """`` (did you mean 'America/Los_Angeles'?)`` to append to an "unknown time zone" message, or ""."""
    suggestion = suggest_zone(name)
    return f" (did you mean '{suggestion}'?)" if suggestion and suggestion != name else ""


def fmt_local(instant: datetime, zone_name: str) -> str:
    """An instant as the wall clock of a zone shows it: ``2026-12-01 09:00 CET``."""
    return instant.astimezone(ZoneInfo(zone_name)).strftime("%Y-%m-%d %H:%M %Z")


__all__ = ["did_you_mean", "find_zone", "fmt_local", "suggest_zone"]
