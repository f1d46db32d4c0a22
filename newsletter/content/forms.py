"""The fields of an issue or article file as typed values: what the desk's forms show and send back.

``issue_fields``, ``translation_fields`` and ``article_fields`` read a ``Document`` the way the
loader reads it (the same YAML reader, texts as written, ``+4937…`` as text), leniently: a value
the loader would refuse (a date like 2022-02-30, a mapping where a text belongs) reads as None,
and since a save writes only the fields that differ from what the file holds, an untouched field
keeps its text, mistakes included, for ``check`` to report on it.

``None`` means "not in the file" (the key is left out when saved); ``segments=None`` means the
article goes to everybody. Contacts and the event reuse the model's ``Contact`` and ``Event``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ..model import Contact, Event
from .document import Document, loader_view
from .frontmatter import FrontMatter, KeyPath, Problems

Text = str | Mapping[str, str]  # one text for every language, or language → text


@dataclass(frozen=True)
class IssueFields:
    """``issue.md``: everything but the article list (``reorder_articles`` and friends change that)."""

    title: Text | None
    date: date | None
    number: int | None = None
    subject: Text | None = None
    preheader: Text | None = None
    languages: tuple[str, ...] | None = None
    intro: str = ""


@dataclass(frozen=True)
class TranslationFields:
    """``issue.<lang>.md``: the translated title, subject, preheader and intro."""

    title: str | None = None
    subject: str | None = None
    preheader: str | None = None
    intro: str = ""


@dataclass(frozen=True)
class ArticleFields:
    """``articles/<name>.<lang>.md``: every key of the contract and the Markdown body."""

    title: str | None
    segments: tuple[str, ...] | None = None
    kicker: str | None = None
    teaser: str | None = None
    date: date | None = None
    author: str | None = None
    image: str | None = None
    image_alt: str | None = None
    image_caption: str | None = None
    image_credit: str | None = None
    contacts: tuple[Contact, ...] = ()
    event: Event | None = None
    body: str = ""


ARTICLE_TEXTS = ("title", "kicker", "teaser", "author", "image", "image_alt", "image_caption", "image_credit")


def issue_fields(document: Document) -> IssueFields:
    fm = _front(document)
    number = fm.data.get("number")
    return IssueFields(
        title=_text_or_languages(fm, "title"),
        date=_date(fm, ("date",)),
        number=number if isinstance(number, int) and not isinstance(number, bool) else None,
        subject=_text_or_languages(fm, "subject"),
        preheader=_text_or_languages(fm, "preheader"),
        languages=_texts(fm, "languages"),
        intro=document.body,
    )


def translation_fields(document: Document) -> TranslationFields:
    fm = _front(document)
    return TranslationFields(
        title=_text(fm, ("title",)),
        subject=_text(fm, ("subject",)),
        preheader=_text(fm, ("preheader",)),
        intro=document.body,
    )


def article_fields(document: Document) -> ArticleFields:
    fm = _front(document)
    texts = {key: _text(fm, (key,)) for key in ARTICLE_TEXTS}
    return ArticleFields(
        title=texts["title"],
        segments=_texts(fm, "segments"),
        kicker=texts["kicker"],
        teaser=texts["teaser"],
        date=_date(fm, ("date",)),
        author=texts["author"],
        image=texts["image"],
        image_alt=texts["image_alt"],
        image_caption=texts["image_caption"],
        image_credit=texts["image_credit"],
        contacts=_contacts(fm),
        event=_event(fm),
        body=document.body,
    )


def _front(document: Document) -> FrontMatter:
    empty = FrontMatter(document.issue_dir / document.relative, {}, "", 1, {}, Problems(document.issue_dir))
    return loader_view(document) or empty


def _has(fm: FrontMatter, where: KeyPath) -> bool:
    value: Any = fm.data
    for part in where:
        if (
            isinstance(value, dict)
            and part in value
            or isinstance(value, list)
            and isinstance(part, int)
            and 0 <= part < len(value)
        ):
            value = value[part]
        else:
            return False
    return True


def _text(fm: FrontMatter, where: KeyPath) -> str | None:
    if not _has(fm, where):
        return None
    value = fm.value(where)
    return None if value is None or isinstance(value, (dict, list)) else fm.source(where)


def _text_or_languages(fm: FrontMatter, key: str) -> Text | None:
    value = fm.data.get(key)
    if isinstance(value, dict):
        return {str(lang): _text(fm, (key, lang)) or "" for lang in value}
    return _text(fm, (key,))


def _texts(fm: FrontMatter, key: str) -> tuple[str, ...] | None:
    value = fm.data.get(key)
    if isinstance(value, list):
        return tuple(
            fm.source((key, i)) for i, item in enumerate(value) if not isinstance(item, (dict, list))
        )
    if isinstance(value, str):  # "segments: poland, usa" means the same list to the loader
        return tuple(
            part.strip() for part in value.replace(";", ",").replace("|", ",").split(",") if part.strip()
        )
    return None


def _date(fm: FrontMatter, where: KeyPath) -> date | None:
    text = _text(fm, where)
    try:
        return date.fromisoformat(text.strip()) if text else None
    except ValueError:
        return None


def _datetime(fm: FrontMatter, where: KeyPath) -> datetime | None:
    if _text(fm, where) is None:
        return None
    scratch = FrontMatter(
        fm.path, fm.data, fm.body, fm.body_line, fm.lines, Problems(fm.problems.root), fm.raw
    )
    return scratch.datetime(where)


def _contacts(fm: FrontMatter) -> tuple[Contact, ...]:
    value = fm.data.get("contacts")
    items = [value] if isinstance(value, dict) else value if isinstance(value, list) else []
    prefix: KeyPath = ("contacts",) if isinstance(value, dict) else ()
    result = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        where = prefix or ("contacts", index)
        result.append(Contact(name=_text(fm, (*where, "name")) or "", email=_text(fm, (*where, "email")) or "",
                              phone=_text(fm, (*where, "phone")), role=_text(fm, (*where, "role"))))  # fmt: skip
    return tuple(result)


def _event(fm: FrontMatter) -> Event | None:
    value = fm.data.get("event")
    if not isinstance(value, dict):
        return None
    start = _datetime(fm, ("event", "start"))
    if start is None:
        return None
    return Event(title=_text(fm, ("event", "title")) or "", start=start, end=_datetime(fm, ("event", "end")),
                 location=_text(fm, ("event", "location")))  # fmt: skip
