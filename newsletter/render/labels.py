"""The one catalogue of words members read: ``templates/labels.toml``, typed, per language.

The file holds one table per language and one sub-table per area (``[de.mail]``,
``[de.salutation]``, ``[de.archive]``, ``[de.unsubscribe_page]``, ``[de.preview]``, ``[de.desk]``,
``[de.subscription]``, ``[de.inbox]``). ``words(config,
language)`` gives the typed ``Words`` of a language: each key is taken from the first language of
its fallback chain (``pl → en → de``) whose table has it, so a language may translate only some
words. A key that no language of the chain has, a key that is not a word of its area (outside
``mail``) and a ``{placeholder}`` the program does not fill are ``TemplateProblem`` errors, found
when the catalogue is loaded — by ``check``, before any mail — never in the middle of a send.

The keys are the fields of the area classes below; the words live only in the TOML file, so an
association translates or rewords them in ``templates/`` without touching Python.
"""

from __future__ import annotations

import string
import threading
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..config import Config
from .sandbox import TemplateProblem

FILE = "labels.toml"


@dataclass(frozen=True)
class MailWords:
    """``[<lang>.mail]``: the words of the mail templates (``e.labels.contact``) and the text part."""

    issue_number: str
    view_in_browser: str
    contact: str
    event: str
    location: str
    add_to_calendar: str
    unsubscribe_text: str  # also the subject of the archive's mailto: unsubscribe
    preferences_text: str  # the footer's link to the preference page (newsletter serve's /p/<token>)
    impressum: str
    time_suffix: str  # after a time of day: "14:00 Uhr"; empty where the language has none
    photo: str
    image: str
    extra: Mapping[str, str] = field(default_factory=dict)  # keys a restyled template added

    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset()

    if not TYPE_CHECKING:  # templates may use their own words (e.labels.sponsor); Python code may not

        def __getattr__(self, name: str) -> str:
            try:
                return self.__dict__["extra"][name]
            except KeyError:
                raise AttributeError(name) from None


@dataclass(frozen=True)
class SalutationWords:
    """``[<lang>.salutation]``: the mail's first line; ``{last}`` is the member's last name."""

    female: str
    male: str
    anyone: str  # no salutation or no last name in the member list
    neutral: str  # the archive's web pages, which greet no one in particular

    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"last"})


@dataclass(frozen=True)
class ArchiveWords:
    """``[<lang>.archive]``: the static web archive."""

    language_name: str  # the language's own name, in the links between languages
    archive: str
    all_issues: str
    feed: str

    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset()


@dataclass(frozen=True)
class UnsubscribePageWords:
    """``[<lang>.unsubscribe_page]``: the page behind the unsubscribe link (``newsletter serve``)."""

    title: str
    ask: str
    button: str
    nochange: str
    done_title: str
    done: str
    already: str
    invalid_title: str
    invalid: str
    bad_request: str
    mail: str

    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"name", "address", "contact"})


@dataclass(frozen=True)
class PreviewWords:
    """``[<lang>.preview]``: edition names on the preview's cards."""

    complete_edition: str
    general_edition: str

    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset()


@dataclass(frozen=True)
class DeskWords:
    """``[<lang>.desk]``: the editor's desk (``newsletter desk``): frame, sign-in, home, approval."""

    language_name: str
    language_switch: str
    desk: str
    issues: str
    editions: str
    outbox: str
    delivery: str
    signed_in_as: str
    role_editor: str
    role_approver: str
    sign_out: str
    single_editor_note: str
    sign_in_title: str
    sign_in_intro: str
    name: str
    password: str
    sign_in: str
    sign_in_failed: str
    throttled: str
    session_ended: str
    home_title: str
    no_issues: str
    column_issue: str
    column_date: str
    column_state: str
    state_draft: str
    state_errors: str
    state_broken: str
    state_approved: str
    state_void: str
    state_scheduled: str
    state_sending: str
    state_sent: str
    last_edit: str
    open_issue: str
    new_issue: str
    new_slug: str
    new_slug_hint: str
    new_from: str
    new_empty: str
    create: str
    created: str
    approve_title: str
    approve_button: str
    approve_hint: str
    approved: str
    approve_own_edit: str
    approve_role: str
    approve_signed_in: str
    approve_errors: str
    refused_title: str
    refused_token: str
    back_home: str
    not_found: str
    # the issue page, the article editor and scheduling (12C)
    issue_page: str
    workflow: str
    run_check: str
    proof_link: str
    schedule_title: str
    check_title: str
    check_ok: str
    issue_fields: str
    default_language: str
    field_title: str
    field_subject: str
    field_preheader: str
    subject_hint: str
    subject_hint_over: str
    field_date: str
    field_number: str
    field_intro: str
    save: str
    saved: str
    articles: str
    order_help: str
    order_saved: str
    stale_list: str
    for_everyone: str
    move_up: str
    move_down: str
    remove: str
    removed: str
    language_matrix: str
    column_article: str
    matrix_written: str
    matrix_fallback: str
    matrix_missing: str
    add_article: str
    article_name: str
    article_name_hint: str
    add: str
    word_import: str
    word_file: str
    word_name_hint: str
    word_button: str
    word_missing: str
    word_too_large: str
    word_imported: str
    word_left_out: str
    word_nothing_left_out: str
    open_article: str
    loose_files: str
    delete_confirm: str
    delete_confirm_needed: str
    delete_files: str
    deleted: str
    proof_title: str
    proof_hint: str
    conflict_title: str
    conflict_disk: str
    conflict_choices: str
    conflict_keep: str
    conflict_take: str
    conflict_copy: str
    conflict_issue_hint: str
    disk_changed: str
    disk_take: str
    translation_missing: str
    create_translation: str
    original: str
    article_fields: str
    field_kicker: str
    field_author: str
    field_teaser: str
    field_segments: str
    segments_hint: str
    field_image: str
    image_upload: str
    image_hint: str
    image_path: str
    field_image_alt: str
    field_image_caption: str
    field_image_credit: str
    contacts: str
    contact_name: str
    contact_email: str
    contact_phone: str
    contact_role: str
    contact_add: str
    contact_remove: str
    event: str
    event_title: str
    event_date: str
    event_start: str
    event_end: str
    event_zone: str
    event_location: str
    field_body: str
    toolbar: str
    tool_bold: str
    tool_italic: str
    tool_link: str
    tool_list: str
    tool_heading: str
    live_preview: str
    shown_as: str
    width: str
    width_phone: str
    width_desktop: str
    preview_waiting: str
    schedule_all: str
    schedule_general: str
    schedule_new: str
    schedule_hint: str
    schedule_segment: str
    schedule_at: str
    schedule_local: str
    schedule_berlin: str
    schedule_button: str
    scheduled: str
    schedules: str
    no_schedules: str
    cancel: str
    cancelled: str
    delivery_view: str

    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset(
        {"name", "role", "count", "when", "seconds", "slug", "segment", "local", "utc", "sent", "failed",
         "pending", "minutes", "lang", "files", "mb"}
    )  # fmt: skip


@dataclass(frozen=True)
class SubscriptionWords:
    """``[<lang>.subscription]``: the sign-up, confirmation and preference pages of ``newsletter
    serve`` and the confirmation mail."""

    subscribe_title: str
    subscribe_intro: str
    email: str
    salutation: str
    salutation_none: str
    salutation_female: str
    salutation_male: str
    first_name: str
    last_name: str
    company: str
    language: str
    segments: str
    segments_hint: str
    consent: str
    required: str
    submit: str
    honeypot: str
    sent_title: str
    sent: str
    fix: str
    no_consent: str
    field_invalid: str
    limited_title: str
    limited: str
    closed: str
    confirm_title: str
    confirm_ask: str
    confirm_button: str
    confirm_nochange: str
    confirmed_title: str
    confirmed: str
    confirm_invalid_title: str
    confirm_invalid: str
    prefs_title: str
    prefs_intro: str
    prefs_save: str
    prefs_saved_title: str
    prefs_saved: str
    prefs_leave: str
    prefs_unsubscribe_button: str
    prefs_unsubscribed_title: str
    prefs_unsubscribed: str
    prefs_suppressed: str
    prefs_invalid_title: str
    prefs_invalid: str
    prefs_stale: str
    mail_subject: str
    mail_ask: str
    mail_button: str
    mail_ignore: str

    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"name", "address", "contact", "days"})


@dataclass(frozen=True)
class InboxWords:
    """``[<lang>.inbox]``: subject words of other people's mail programs that ``newsletter inbox``
    recognises (issue 13), each a list of phrases separated by ``|``, matched anywhere in a subject."""

    out_of_office: str  # auto-replies: never a bounce, left where they are
    bounce_notice: str  # plain-text bounce notices of servers that write no standard report

    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset()

    def phrases(self, name: str) -> tuple[str, ...]:
        return tuple(p.strip() for p in getattr(self, name).split("|") if p.strip())


AREAS: dict[str, type] = {
    "mail": MailWords,
    "salutation": SalutationWords,
    "archive": ArchiveWords,
    "unsubscribe_page": UnsubscribePageWords,
    "preview": PreviewWords,
    "desk": DeskWords,
    "subscription": SubscriptionWords,
    "inbox": InboxWords,
}


@dataclass(frozen=True)
class Words:
    """Every word of one language, resolved along its fallback chain."""

    language: str
    mail: MailWords
    salutation: SalutationWords
    archive: ArchiveWords
    unsubscribe_page: UnsubscribePageWords
    preview: PreviewWords
    desk: DeskWords
    subscription: SubscriptionWords
    inbox: InboxWords


def area_keys(area: str) -> tuple[str, ...]:
    """The keys every language needs in ``[<lang>.<area>]``."""
    return tuple(f.name for f in fields(AREAS[area]) if f.name != "extra")


class Catalogue:
    """One loaded ``labels.toml``; ``words(chain)`` resolves and checks a language once."""

    def __init__(self, tables: Mapping[str, Any], shown: str):
        self.tables = tables
        self.shown = shown  # the file as messages name it
        self.languages = tuple(lang for lang, table in tables.items() if isinstance(table, dict))
        self._resolved: dict[tuple[str, ...], Words] = {}

    def words(self, chain: Sequence[str]) -> Words:
        key = tuple(chain)
        if key not in self._resolved:
            areas = {area: self._area(area, cls, key) for area, cls in AREAS.items()}
            self._resolved[key] = Words(language=key[0], **areas)
        return self._resolved[key]

    def language_name(self, language: str) -> str:
        """The language's own name from its own table (never a fallback's), else its code."""
        table = self.tables.get(language, {}).get("archive", {})
        name = table.get("language_name") if isinstance(table, dict) else None
        return name if isinstance(name, str) and name else language

    def _area(self, area: str, cls: type, chain: tuple[str, ...]) -> Any:
        keys = area_keys(area)
        values: dict[str, str] = {}
        extra: dict[str, str] = {}
        for lang in reversed(chain):  # the first language of the chain that has a key wins
            for name, value in self._table(lang, area).items():
                self._check_value(lang, area, name, value, cls)
                if name not in keys and cls is not MailWords:
                    hint = get_close_matches(name, keys, n=1)
                    tail = f"did you mean '{hint[0]}'?" if hint else f"known keys: {', '.join(keys)}"
                    raise TemplateProblem(f"{self.shown}: unknown key '{name}' in [{lang}.{area}] ({tail})")
                (values if name in keys else extra)[name] = value
        missing = [name for name in keys if name not in values]
        if missing:
            where = " or ".join(f"[{lang}.{area}]" for lang in chain)
            raise TemplateProblem(f"{self.shown}: no {', '.join(repr(m) for m in missing)} in {where}; "
                                  "add the words (see the keys of the other languages)")  # fmt: skip
        return cls(**values, extra=extra) if cls is MailWords else cls(**values)

    def _table(self, lang: str, area: str) -> Mapping[str, Any]:
        table = self.tables.get(lang, {})
        if not isinstance(table, dict):
            raise TemplateProblem(f"{self.shown}: [{lang}] must be a table of areas like [{lang}.mail]")
        unknown = [name for name in table if name not in AREAS]
        if unknown:
            raise TemplateProblem(f"{self.shown}: unknown table [{lang}.{unknown[0]}] "
                                  f"(the areas are {', '.join(AREAS)})")  # fmt: skip
        sub = table.get(area, {})
        if not isinstance(sub, dict):
            raise TemplateProblem(f"{self.shown}: [{lang}.{area}] must be a table of words")
        return sub

    def _check_value(self, lang: str, area: str, name: str, value: object, cls: type) -> None:
        where = f"{self.shown}: {lang}.{area}.{name}"
        if not isinstance(value, str):
            raise TemplateProblem(f'{where} must be text in quotes, e.g. {name} = "…"')
        try:
            named = {part[1] for part in string.Formatter().parse(value) if part[1] is not None}
        except ValueError as exc:
            raise TemplateProblem(f"{where}: {exc}; write a brace as {{{{ or }}}}") from None
        allowed: frozenset[str] = getattr(cls, "PLACEHOLDERS", frozenset())
        wrong = sorted(n for n in named if n not in allowed)
        if wrong:
            known = ", ".join(f"{{{n}}}" for n in sorted(allowed)) or "none"
            raise TemplateProblem(f"{where}: {{{wrong[0]}}} is not filled in here (known: {known})")


_cache: dict[tuple[Path, Path], tuple[tuple[int, int, int], Catalogue]] = {}
_cache_lock = threading.Lock()


def catalogue(config: Config) -> Catalogue:
    """The catalogue of ``config.templates``, read again only when the file changed (the preview)."""
    path = config.templates / FILE
    shown = _shown(path, config.root)
    try:
        stat = path.stat()
    except OSError:
        raise TemplateProblem(f"{shown}: not found; copy templates/ from the project (the words of the "
                              "mails, in every language, are kept there)") from None  # fmt: skip
    stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    with _cache_lock:
        cached = _cache.get((path, config.root))
        if cached is not None and cached[0] == stamp:
            return cached[1]
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TemplateProblem(f"{shown}: {exc}") from None
    loaded = Catalogue(tables, shown)
    for language in config.languages:  # every configured language is complete, or we say so now
        loaded.words(config.language_chain(language))
    with _cache_lock:
        _cache[(path, config.root)] = (stamp, loaded)
    return loaded


def words(config: Config, language: str) -> Words:
    """The words of ``language``, each along its fallback chain of ``newsletter.toml``."""
    return catalogue(config).words(config.language_chain(language))


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
