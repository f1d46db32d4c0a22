"""Files stay the truth: the editor's desk saves issues and articles through these functions.

Every function reads the file, applies only what differs from it (so an untouched field keeps its
text, quoting and comments), and writes it through ``document.save_draft``: atomically, inside the
issue folder, never through a link, and only if the file is still at the ``version`` the caller's
form was made from (else ``StaleFile`` with the current text; nothing is written). Each returns
the file as written (``Document``: its new ``version`` is the one to send with the next save).

    issue.md                  open_issue · save_issue · reorder_articles · add_article · remove_article
    issue.<lang>.md           open_issue(lang=…) · save_translation
    articles/<name>.<lang>.md open_article · save_article · add_article (a stub) · create_translation ·
                              delete_article_files (only once it is no longer in the list)

``document.write_text`` saves a whole file as typed (a source view, a conflict resolved by hand),
with the same version check. ``article_names`` reads the list, ``article_path`` checks a name,
``stamp`` writes a date and time as the loader reads it.

Names are checked as the loader checks them (``ARTICLE_FILE``), so no article name ever reaches
outside ``articles/``. Errors a person can fix are ``WriteError`` (a ``NewsletterError``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from .. import paths
from ..config import Config
from ..model import Contact, Event
from .articles import ARTICLE_FILE, ARTICLE_KEYS, CONTACT_KEYS, EVENT_KEYS
from .document import ABSENT, Document, Draft, StaleFile, WriteError, check_version, read_document, save_draft
from .forms import (
    ArticleFields,
    IssueFields,
    Text,
    TranslationFields,
    article_fields,
    issue_fields,
    translation_fields,
)
from .issue import ISSUE_KEYS, ISSUE_LANG_KEYS
from .yamltext import assign, block_list, flow_list, set_items, yaml_text

_LANG = re.compile(r"^[a-z]{2,3}$")


@dataclass(frozen=True)
class AddedArticle:
    issue: Document  # issue.md with the name in its list
    article: Document  # the article file in the language asked for
    created: bool  # False: the file was there already (e.g. removed from the list earlier) and is kept


# ─────────────────────────────────── opening ───────────────────────────────────


def open_issue(issue_dir: Path, lang: str | None = None) -> Document:
    """``issue.md``, or with ``lang`` the translation ``issue.<lang>.md`` (ABSENT if not written yet)."""
    if lang is not None and not _LANG.match(lang):
        raise WriteError(f"'{lang}' is not a language code like de, en or pl")
    return read_document(issue_dir, "issue.md" if lang is None else f"issue.{lang}.md")


def open_article(issue_dir: Path, name: str, lang: str) -> Document:
    return read_document(issue_dir, article_path(name, lang))


def article_path(name: str, lang: str) -> str:
    """``articles/<name>.<lang>.md`` for a name the loader accepts; anything else is refused."""
    if not isinstance(name, str) or not ARTICLE_FILE.fullmatch(f"{name}.{lang}.md"):
        raise WriteError(f"article name '{name}' must be a file stem like 'silesia-cluster' (letters, digits, "
                         f"'-' and '_', starting with a letter or digit) and '{lang}' a language like de")  # fmt: skip
    return f"articles/{name}.{lang}.md"


def article_names(document: Document) -> list[str]:
    """The article list of ``issue.md`` as written (names that are not text are left out)."""
    value = document.front.get("articles")
    return [str(item) for item in value if isinstance(item, str)] if isinstance(value, list) else []


# ─────────────────────────────────── saving ───────────────────────────────────


def save_issue(issue_dir: Path, fields: IssueFields, *, version: str) -> Document:
    """Save the fields of ``issue.md`` (all but the article list)."""
    document = open_issue(issue_dir)
    draft = Draft(document, tuple(ISSUE_KEYS))
    base = issue_fields(document)
    _languages_or_text(draft, "title", base.title, fields.title, required=True)
    _value(draft, "date", base.date, fields.date)
    _value(draft, "number", base.number, fields.number)
    _languages_or_text(draft, "subject", base.subject, fields.subject)
    _languages_or_text(draft, "preheader", base.preheader, fields.preheader)
    _list(draft, "languages", base.languages, fields.languages)
    if fields.intro != base.intro:
        draft.body = fields.intro
    return save_draft(draft, version)


def save_translation(issue_dir: Path, lang: str, fields: TranslationFields, *, version: str) -> Document:
    """Save ``issue.<lang>.md`` (``version=ABSENT`` creates it)."""
    document = open_issue(issue_dir, lang)
    draft = Draft(document, tuple(ISSUE_LANG_KEYS))
    base = translation_fields(document)
    for key in ISSUE_LANG_KEYS:
        _text(draft, key, getattr(base, key), getattr(fields, key))
    if fields.intro != base.intro:
        draft.body = fields.intro
    return save_draft(draft, version)


def save_article(issue_dir: Path, name: str, lang: str, fields: ArticleFields, *, version: str) -> Document:
    """Save ``articles/<name>.<lang>.md`` (``version=ABSENT`` creates it)."""
    document = open_article(issue_dir, name, lang)
    return save_draft(_article_draft(document, fields), version)


def _article_draft(document: Document, fields: ArticleFields) -> Draft:
    draft = Draft(document, tuple(ARTICLE_KEYS))
    base = article_fields(document)
    for key in ("title", "kicker", "teaser", "author", "image", "image_alt", "image_caption", "image_credit"):
        _text(draft, key, getattr(base, key), getattr(fields, key), required=key == "title")
    _list(draft, "segments", base.segments, fields.segments or None)
    _value(draft, "date", base.date, fields.date)
    _contacts(draft, base.contacts, fields.contacts)
    _event(draft, base.event, fields.event)
    if fields.body != base.body:
        draft.body = fields.body
    return draft


# ─────────────────────────────── the article list ───────────────────────────────


def reorder_articles(issue_dir: Path, names: Sequence[str], *, version: str) -> Document:
    """Put the issue's articles in this order (the same names, each once)."""
    document = open_issue(issue_dir)
    current = article_names(document)
    if sorted(names) != sorted(current) or len(set(names)) != len(names):
        raise WriteError(f"the new order must name each article of the issue once: {', '.join(current)}")
    return _save_list(document, list(names), version)


def add_article(issue_dir: Path, name: str, fields: ArticleFields, *, lang: str, version: str, config: Config,
                position: int | None = None) -> AddedArticle:  # fmt: skip
    """Add an article to the issue's list (at ``position``, default the end) with a stub file in
    ``lang`` made of ``fields``; a file already there is kept as it is and listed."""
    relative = _configured(article_path(name, lang), lang, config)
    document = open_issue(issue_dir)
    _fresh(document, version)
    names = article_names(document)
    if name in names:
        raise WriteError(f"article '{name}' is already in the issue")
    article = read_document(issue_dir, relative)
    created = not article.exists
    if created:
        article = save_draft(_article_draft(article, fields), ABSENT)
    names.insert(len(names) if position is None else position, name)
    return AddedArticle(_save_list(document, names, version), article, created)


def remove_article(issue_dir: Path, name: str, *, version: str) -> Document:
    """Take an article out of the issue's list; its files stay (``delete_article_files`` removes them)."""
    document = open_issue(issue_dir)
    names = article_names(document)
    if name not in names:
        raise WriteError(f"article '{name}' is not in the issue")
    return _save_list(document, [n for n in names if n != name], version)


def delete_article_files(issue_dir: Path, name: str, *, versions: Mapping[str, str]) -> tuple[str, ...]:
    """Delete ``articles/<name>.<lang>.md`` for each language in ``versions`` (each only if still at
    its version); refused while the article is in the issue's list. Returns the files deleted."""
    if name in article_names(open_issue(issue_dir)):
        raise WriteError(f"article '{name}' is still in the issue: remove it from the list first")
    deleted = []
    for lang, version in versions.items():
        relative = article_path(name, lang)

        def unchanged(current: bytes | None, relative: str = relative, version: str = version) -> None:
            check_version(relative, current, version)

        try:
            if paths.delete_contained(issue_dir, relative, check=unchanged):
                deleted.append(relative)
        except paths.Refused as exc:
            raise WriteError(f"{exc}: nothing was deleted") from None
    return tuple(deleted)


def create_translation(issue_dir: Path, name: str, *, lang: str, config: Config,
                       source_lang: str | None = None) -> Document:  # fmt: skip
    """Start ``articles/<name>.<lang>.md`` from the ``source_lang`` file (default: the default
    language): the same segments, image, date, author, contact names and addresses and event
    times; every text to translate is left empty, so ``check`` names each one until it is written."""
    source = open_article(issue_dir, name, source_lang or config.default_language)
    if not source.exists:
        raise WriteError(f"{source.relative} does not exist: write that one first")
    relative = _configured(article_path(name, lang), lang, config)
    base = article_fields(source)
    stub = ArticleFields(
        title="",
        segments=base.segments,
        date=base.date,
        author=base.author,
        image=base.image,
        image_alt="" if base.image else None,
        image_credit=base.image_credit,
        contacts=tuple(replace(contact, role=None) for contact in base.contacts),
        event=replace(base.event, title="", location="") if base.event else None,
    )
    document = read_document(issue_dir, relative)
    if document.exists:
        raise WriteError(f"{relative} exists already: open it to edit the translation")
    return save_draft(_article_draft(document, stub), ABSENT)


def check_language(lang: str, config: Config) -> None:
    """``WriteError`` unless ``lang`` is one of the configured languages."""
    if lang not in config.languages:
        raise WriteError(f"unknown language '{lang}' (configured: {', '.join(config.languages)})")


def _configured(relative: str, lang: str, config: Config) -> str:
    check_language(lang, config)
    return relative


def _fresh(document: Document, version: str) -> None:
    if document.version != version:
        raise StaleFile(document.relative, document.text, document.version)


def _save_list(document: Document, names: list[str], version: str) -> Document:
    draft = Draft(document, tuple(ISSUE_KEYS))
    node = draft.front.get("articles")
    if isinstance(node, CommentedSeq):
        set_items(node, names)
        draft.touch("articles")
    else:
        draft.set("articles", block_list(names))
    return save_draft(draft, version)


# ─────────────────────────────── applying a field ───────────────────────────────


def _value(draft: Draft, key: str, old: object, new: object) -> None:
    """A date or a number: written as the loader reads it (2022-03-24, 3)."""
    if new != old:
        draft.set(key, new) if new is not None else draft.remove(key)


def _text(draft: Draft, key: str, old: str | None, new: str | None, *, required: bool = False) -> None:
    if new == old:
        return
    if new is None or (new == "" and not required):
        draft.remove(key)
    else:
        draft.set(key, yaml_text(new))


def _languages_or_text(
    draft: Draft, key: str, old: Text | None, new: Text | None, *, required: bool = False
) -> None:
    if new == old:
        return
    if not isinstance(new, Mapping) or not new:
        text = new if isinstance(new, str) else None  # an empty mapping: no text
        _text(draft, key, old if isinstance(old, str) else None, text, required=required)
        return
    node = draft.front.get(key)
    if not isinstance(node, CommentedMap):
        draft.set(key, CommentedMap((lang, yaml_text(text)) for lang, text in new.items()))
        return
    before = old if isinstance(old, Mapping) else {}
    for lang in [lang for lang in node if lang not in new]:
        del node[lang]
    for lang, text in new.items():
        if before.get(lang) != text or lang not in node:
            assign(node, lang, yaml_text(text))
    draft.touch(key)


def _list(draft: Draft, key: str, old: tuple[str, ...] | None, new: tuple[str, ...] | None) -> None:
    if new == old:
        return
    node = draft.front.get(key)
    if not new:
        draft.remove(key)
    elif isinstance(node, CommentedSeq):
        set_items(node, list(new))
        draft.touch(key)
    else:
        draft.set(key, flow_list(new))


def _contacts(draft: Draft, old: tuple[Contact, ...], new: tuple[Contact, ...]) -> None:
    if new == old:
        return
    if not new:
        draft.remove("contacts")
        return
    node = draft.front.get("contacts")
    if (
        not isinstance(node, CommentedSeq)
        or len(node) != len(old)
        or not all(isinstance(i, dict) for i in node)
    ):
        node, old = CommentedSeq(), ()
        draft.set("contacts", node)
    for index, contact in enumerate(new):
        values = _contact_values(contact)
        if index < len(node):
            _update(node[index], _contact_values(old[index]), values, CONTACT_KEYS)
        else:
            node.append(_update(CommentedMap(), {}, values, CONTACT_KEYS))
    del node[len(new) :]
    draft.touch("contacts")


def _event(draft: Draft, old: Event | None, new: Event | None) -> None:
    before, after = _event_values(old), _event_values(new)
    if before == after:
        return
    if new is None:
        draft.remove("event")
        return
    node = draft.front.get("event")
    if isinstance(node, CommentedMap):
        _update(node, before or {}, after or {}, EVENT_KEYS)
        draft.touch("event")
    else:
        draft.set("event", _update(CommentedMap(), {}, after or {}, EVENT_KEYS))


def _update(node: CommentedMap, old: Mapping[str, str | None], new: Mapping[str, str | None],
            spec: Mapping[str, bool]) -> CommentedMap:  # fmt: skip
    """Set the keys whose value changed, in the contract's order; drop optional ones now empty."""
    order = list(spec)
    for key in order:
        value = new.get(key)
        if value == old.get(key) and (key in node or value is None):
            continue
        if value is None or (value == "" and not spec[key]):
            node.pop(key, None)
        elif key in node:
            assign(node, key, yaml_text(value))
        else:
            after = [i for i, k in enumerate(node) if k in order and order.index(k) < order.index(key)]
            node.insert(after[-1] + 1 if after else 0, key, yaml_text(value))
    return node


def _contact_values(contact: Contact) -> dict[str, str | None]:
    return {"name": contact.name, "email": contact.email, "phone": contact.phone, "role": contact.role}


def _event_values(event: Event | None) -> dict[str, str | None] | None:
    if event is None:
        return None
    return {"title": event.title, "start": stamp(event.start), "end": stamp(event.end) if event.end else None,
            "location": event.location}  # fmt: skip


def stamp(moment: datetime) -> str:
    """A date and time as the loader reads it: ``2022-05-30T09:00 Europe/Berlin`` with a zone name
    (so the time stays right across summer time), else with its offset (``…T09:00+02:00``)."""
    text = moment.strftime("%Y-%m-%dT%H:%M") + (moment.strftime(":%S") if moment.second else "")
    zone = moment.tzinfo
    if isinstance(zone, ZoneInfo) and "/" in zone.key:
        return f"{text} {zone.key}"
    offset = moment.strftime("%z")
    return f"{text}{offset[:3]}:{offset[3:]}" if offset else text
