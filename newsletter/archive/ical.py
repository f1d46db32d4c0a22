"""iCalendar (RFC 5545) files for event blocks: ``{public_url}/{slug}/{article}.ics``.

Written by hand (no dependency): CRLF line ends, lines folded at 75 octets without splitting a
UTF-8 character, TEXT values escaped. Times keep their zone: an event given in an IANA zone
(``2022-05-30T09:00 Europe/Berlin``) gets ``DTSTART;TZID=Europe/Berlin:20220530T090000`` and a
VTIMEZONE built from the zone database for the years around the event; fixed offsets and UTC are
written as UTC (``…Z``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from ..model import Event

CRLF = "\r\n"


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    event: Event
    stamp: datetime  # DTSTAMP (aware); the issue date keeps builds reproducible
    description: str = ""
    url: str | None = None


def calendar(events: list[CalendarEvent], prodid: str) -> str:
    """A complete VCALENDAR with one VEVENT per event and the VTIMEZONEs they reference."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{_text(prodid)}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    zones: dict[str, tuple[ZoneInfo, datetime, datetime]] = {}
    for item in events:
        for moment in (item.event.start, item.event.end):
            if moment is not None and (zone := _zone(moment.tzinfo)) is not None:
                first, last = zones.get(zone.key, (zone, moment, moment))[1:]
                zones[zone.key] = (zone, min(first, moment), max(last, moment))
    for zone, first, last in zones.values():
        lines += vtimezone(zone, first, last)
    for item in events:
        lines += _vevent(item)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + CRLF for line in lines)


def _vevent(item: CalendarEvent) -> list[str]:
    event = item.event
    lines = [
        "BEGIN:VEVENT",
        f"UID:{_text(item.uid)}",
        f"DTSTAMP:{item.stamp.astimezone(UTC):%Y%m%dT%H%M%SZ}",
        date_time("DTSTART", event.start),
    ]
    if event.end is not None:
        lines.append(date_time("DTEND", event.end))
    lines.append(f"SUMMARY:{_text(event.title)}")
    if event.location:
        lines.append(f"LOCATION:{_text(event.location)}")
    if item.description:
        lines.append(f"DESCRIPTION:{_text(item.description)}")
    if item.url:
        lines.append(f"URL:{item.url}")
    lines.append("END:VEVENT")
    return lines


def date_time(name: str, moment: datetime) -> str:
    """``DTSTART;TZID=Europe/Berlin:20220530T090000`` or ``DTSTART:20220530T070000Z``."""
    if moment.tzinfo is None:
        raise ValueError(f"{name}: event times must be zone-aware")
    zone = _zone(moment.tzinfo)
    if zone is None:
        return f"{name}:{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return f"{name};TZID={zone.key}:{moment.astimezone(zone):%Y%m%dT%H%M%S}"


def _zone(tz: tzinfo | None) -> ZoneInfo | None:
    """The IANA zone of an aware datetime, or None for UTC and fixed offsets (written as ``Z``)."""
    if isinstance(tz, ZoneInfo) and tz.key not in ("UTC", "Etc/UTC", "Etc/GMT", "GMT"):
        return tz
    return None


def vtimezone(zone: ZoneInfo, first: datetime, last: datetime) -> list[str]:
    """VTIMEZONE with one observance per offset change from Jan 1 before ``first`` to the year after ``last``."""
    begin = datetime(first.astimezone(zone).year, 1, 1, tzinfo=UTC)
    stop = datetime(last.astimezone(zone).year + 1, 12, 31, tzinfo=UTC)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{zone.key}"]
    before = begin - timedelta(days=1)
    lines += _observance(zone, begin, before.astimezone(zone).utcoffset(), start_of_range=True)
    for moment in _transitions(zone, begin, stop):
        lines += _observance(zone, moment, (moment - timedelta(seconds=1)).astimezone(zone).utcoffset())
    lines.append("END:VTIMEZONE")
    return lines


def _observance(
    zone: ZoneInfo, moment: datetime, offset_from: timedelta | None, start_of_range: bool = False
) -> list[str]:
    local = moment.astimezone(zone)
    offset_to = local.utcoffset() or timedelta(0)
    offset_from = offset_from if offset_from is not None else offset_to
    kind = "DAYLIGHT" if local.dst() else "STANDARD"
    # DTSTART of an observance is the wall-clock time of the onset in the offset before it.
    onset = (moment + offset_from).replace(tzinfo=None) if not start_of_range else local.replace(tzinfo=None)
    return [
        f"BEGIN:{kind}",
        f"DTSTART:{onset:%Y%m%dT%H%M%S}",
        f"TZOFFSETFROM:{_offset(offset_from)}",
        f"TZOFFSETTO:{_offset(offset_to)}",
        f"TZNAME:{_text(local.tzname() or zone.key)}",
        f"END:{kind}",
    ]


def _transitions(zone: ZoneInfo, begin: datetime, stop: datetime) -> list[datetime]:
    """UTC instants (to the minute) at which the zone's offset changes in [begin, stop)."""
    found = []
    step = timedelta(hours=6)
    t = begin
    offset = t.astimezone(zone).utcoffset()
    while t < stop:
        nxt = t + step
        new = nxt.astimezone(zone).utcoffset()
        if new != offset:
            lo, hi = t, nxt  # offset(lo) == old, offset(hi) == new; bisect to the minute
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(second=0, microsecond=0)
                if mid <= lo:
                    break
                if mid.astimezone(zone).utcoffset() == offset:
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
            offset = new
        t = nxt
    return found


def _offset(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{mins:02d}"


def _text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 3.3.11); CR/LF become ``\\n``."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def fold(line: str) -> str:
    """Fold a content line at 75 octets (continuations start with one space); never split a character."""
    out: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        width = len(char.encode("utf-8"))
        limit = 75 if not out else 74  # continuation lines carry the leading space
        if size + width > limit:
            out.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    out.append("".join(current))
    return (CRLF + " ").join(out)
