"""The desk's forms as the content library's typed fields, and back.

``article_from_form`` turns the posted article editor into ``ArticleFields`` (contacts are the
repeated ``contact_*`` inputs in page order; the event is a date, two times and a zone);
``issue_from_form`` does the same for the issue page. A value the form cannot hold as typed
(a date like 2022-02-30, a zone that does not exist) is a ``FormProblem`` naming the field, so
the page shows it there; nothing is written then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.datastructures import FormData

from ...content.forms import ArticleFields, IssueFields, Text, TranslationFields
from ...model import Contact, Event, NewsletterError

CONTACT_PARTS = ("name", "email", "phone", "role")
ZONES = ("Europe/Berlin", "UTC")  # besides newsletter.toml's zone and each segment's (``event_zones``)


class FormProblem(NewsletterError):
    """A field the form cannot turn into a value; ``field`` is its input's name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _get(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.replace("\r\n", "\n") if isinstance(value, str) else ""


def _optional(form: FormData, name: str) -> str | None:
    value = _get(form, name).strip()
    return value or None


def _date(form: FormData, name: str) -> date | None:
    value = _get(form, name).strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FormProblem(name, f"'{value}' is not a date like 2022-06-15") from None


def _moment(form: FormData, day: date, name: str, zone: ZoneInfo) -> datetime | None:
    value = _get(form, name).strip()
    if not value:
        return None
    try:
        return datetime.combine(day, time.fromisoformat(value), tzinfo=zone)
    except ValueError:
        raise FormProblem(name, f"'{value}' is not a time like 10:30") from None


def _event(form: FormData) -> Event | None:
    day = _date(form, "event_date")
    title, start_text = _get(form, "event_title").strip(), _get(form, "event_start").strip()
    if day is None and not title and not start_text:
        return None
    if day is None:
        raise FormProblem("event_date", "an event needs its date")
    zone_name = _get(form, "event_zone") or ZONES[0]
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise FormProblem("event_zone", f"'{zone_name}' is not a time zone") from None
    start = _moment(form, day, "event_start", zone)
    if start is None:
        raise FormProblem("event_start", "an event needs its start time")
    return Event(title=title, start=start, end=_moment(form, day, "event_end", zone),
                 location=_optional(form, "event_location"))  # fmt: skip


def _contacts(form: FormData) -> tuple[Contact, ...]:
    columns = {part: form.getlist(f"contact_{part}") for part in CONTACT_PARTS}
    rows = max((len(values) for values in columns.values()), default=0)
    contacts = []
    for index in range(rows):
        cell = {p: str(v[index]).strip() if index < len(v) else "" for p, v in columns.items()}
        if any(cell.values()):
            contacts.append(Contact(name=cell["name"], email=cell["email"], phone=cell["phone"] or None,
                                    role=cell["role"] or None))  # fmt: skip
    return tuple(contacts)


def article_from_form(form: FormData, base: ArticleFields) -> ArticleFields:
    """The article as the editor typed it; ``base`` (the file as opened) keeps what the form
    does not show, and an empty optional text leaves its key out."""
    segments = tuple(str(s) for s in form.getlist("segments"))
    return replace(
        base,
        title=_get(form, "title").strip(),
        kicker=_optional(form, "kicker"),
        teaser=_optional(form, "teaser"),
        author=_optional(form, "author"),
        date=_date(form, "date"),
        segments=segments or None,
        image=_optional(form, "image"),
        image_alt=_optional(form, "image_alt"),
        image_caption=_optional(form, "image_caption"),
        image_credit=_optional(form, "image_credit"),
        contacts=_contacts(form),
        event=_event(form),
        body=_body(_get(form, "body")),
    )


def _body(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _per_language(form: FormData, key: str, languages: Sequence[str], old: Text | None,
                  elsewhere: Sequence[str] = ()) -> Text | None:  # fmt: skip
    """One text for every language, or language → text when more than the first is filled (a
    mapping in the file stays a mapping). Languages ``elsewhere`` (their own issue.<lang>.md) keep
    what issue.md holds for them."""
    kept = per_language(old, languages)
    values = {
        lang: kept[lang] if lang in elsewhere else _get(form, f"{key}_{lang}").strip() for lang in languages
    }
    filled = {lang: text for lang, text in values.items() if text}
    if not filled:
        return None
    if isinstance(old, Mapping) or set(filled) != {languages[0]}:
        return filled
    return filled[languages[0]]


def issue_from_form(form: FormData, base: IssueFields, languages: Sequence[str],
                    elsewhere: Sequence[str] = ()) -> IssueFields:  # fmt: skip
    """issue.md's fields; the languages ``elsewhere`` are edited in their issue.<lang>.md."""
    number = _get(form, "number").strip()
    if number and not number.isdigit():
        raise FormProblem("number", f"'{number}' is not a whole number like 6")
    return replace(
        base,
        title=_per_language(form, "title", languages, base.title, elsewhere),
        date=_date(form, "date"),
        number=int(number) if number else None,
        subject=_per_language(form, "subject", languages, base.subject, elsewhere),
        preheader=_per_language(form, "preheader", languages, base.preheader, elsewhere),
        intro=_body(_get(form, "intro")),
    )


def translation_from_form(form: FormData, lang: str) -> TranslationFields:
    """``issue.<lang>.md`` as typed (its inputs are named ``tr_<lang>_title`` …)."""
    return TranslationFields(
        title=_optional(form, f"tr_{lang}_title"),
        subject=_optional(form, f"tr_{lang}_subject"),
        preheader=_optional(form, f"tr_{lang}_preheader"),
        intro=_body(_get(form, f"tr_{lang}_intro")),
    )


def per_language(value: Text | None, languages: Sequence[str]) -> dict[str, str]:
    """What each language's input shows: a plain text belongs to the first language."""
    if isinstance(value, Mapping):
        return {lang: value.get(lang, value.get("*", "")) for lang in languages}
    return {lang: (value or "") if i == 0 else "" for i, lang in enumerate(languages)}


def event_zones(default: str, segment_zones: Sequence[str]) -> tuple[str, ...]:
    """The time zones an event can be in: the association's, each segment's, Berlin, UTC."""
    return tuple(dict.fromkeys((default, *segment_zones, *ZONES)))


@dataclass(frozen=True)
class EventView:
    """The event as the form shows it: a date, two times of day and the zone."""

    title: str = ""
    day: str = ""
    start: str = ""
    end: str = ""
    zone: str = ZONES[0]
    location: str = ""


def event_view(event: Event | None) -> EventView:
    if event is None:
        return EventView()
    zone = getattr(event.start.tzinfo, "key", None) or ZONES[0]
    return EventView(event.title, event.start.date().isoformat(), event.start.strftime("%H:%M"),
                     event.end.strftime("%H:%M") if event.end else "", zone, event.location or "")  # fmt: skip


__all__ = ["ZONES", "EventView", "event_zones", "FormProblem", "article_from_form", "event_view", "issue_from_form", "translation_from_form",
           "per_language"]  # fmt: skip
