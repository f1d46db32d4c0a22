"""What the preview shows, rebuilt on every change: issue, editions, pre-flight, member list.

``PreviewState.reload()`` reads everything from disk (config included) into one frozen
``Snapshot``: ``render`` loads the issue through the pre-flight's first half (``preflight.load``)
and takes the cards' editions from its ``Editions``, then ``check`` runs the rest of the pre-flight
on that same loaded value, so no file is parsed and no edition rendered twice. A reload that fails
keeps the last good editions and carries the problems (``path:line: message``) so the page can
show them instead of going blank.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ...config import Config
from ...model import ALL, Edition, EditionKey, Issue, Member, NewsletterError, Problem
from ...render.labels import words

if TYPE_CHECKING:
    from ...preflight import Loaded
    from ...render.editions import Editions


@dataclass(frozen=True)
class Card:
    """One edition as the overview shows it."""

    edition: Edition
    label: str  # "Polen-Fokus · DE"
    size_kb: float
    members: int | None  # None: not sent to members as such (the complete "all" edition)

    @property
    def key(self) -> str:
        return self.edition.key


@dataclass(frozen=True)
class Snapshot:
    version: int
    loaded_at: datetime
    config: Config | None = None
    issue: Issue | None = None
    cards: tuple[Card, ...] = ()
    members: tuple[Member, ...] | None = None  # None: no member list
    members_note: str = ""
    preflight: tuple[Problem, ...] = ()
    errors: tuple[str, ...] = ()  # the current files cannot be rendered: one line per problem
    stale: bool = False  # cards are from the last version that rendered
    loaded: Loaded | None = None  # what ``check`` runs the rest of the pre-flight on

    def card(self, key: str) -> Card | None:
        return next((c for c in self.cards if c.key == key), None)

    @property
    def preflight_errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.preflight if p.severity == "error")

    @property
    def preflight_warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.preflight if p.severity != "error")


class PreviewState:
    """Holds the current snapshot; ``reload`` is thread-safe and never raises for user errors."""

    def __init__(self, load_config: Callable[[], Config], issue_path: Path):
        self._load_config = load_config
        self.issue_path = issue_path
        self._lock = threading.Lock()
        self._version = 0
        self.last_config: Config | None = None  # the newest config that loaded, even if the issue did not
        self.snapshot = Snapshot(version=0, loaded_at=datetime.now().astimezone())

    def reload(self) -> Snapshot:
        """Render, then run the pre-flight check (what the first page load needs)."""
        self.render()
        return self.check()

    def render(self) -> Snapshot:
        """Re-read config, issue and member list and render every edition (the fast half)."""
        with self._lock:
            try:
                fresh = self._build()
            except NewsletterError as exc:
                fresh = self._failed(tuple(exc.lines()))
            except Exception as exc:  # a crash in a renderer must not take the preview down
                fresh = self._failed((f"{type(exc).__name__}: {exc}",))
            return self._publish(fresh)

    def _failed(self, lines: tuple[str, ...]) -> Snapshot:
        previous = self.snapshot
        return replace(
            previous, errors=lines, stale=bool(previous.cards), config=previous.config or self.last_config
        )

    def check(self) -> Snapshot:
        """Run the pre-flight check on the files as they are now (the slow half)."""
        from ... import preflight

        with self._lock:
            current = self.snapshot
            if current.errors or current.config is None or current.loaded is None:
                return current
            try:
                problems = preflight.check(current.loaded).problems  # the cards' editions, not again
            except NewsletterError as exc:
                return self._publish(replace(current, errors=tuple(exc.lines()), stale=True))
            return self._publish(replace(current, preflight=problems))

    def _publish(self, snapshot: Snapshot) -> Snapshot:
        self._version += 1
        self.snapshot = replace(snapshot, version=self._version, loaded_at=datetime.now().astimezone())
        return self.snapshot

    def _build(self) -> Snapshot:
        from ... import preflight

        config = self.last_config = self._load_config()
        loaded = preflight.load(self.issue_path, config)
        issue, rendered = loaded.require()
        editions = rendered.standard()
        members, note = read_member_list(config)
        editions += _member_editions(rendered, editions, members or ())
        cards = tuple(_card(e, config, members) for e in _ordered(editions, config))
        return Snapshot(
            version=0,
            loaded_at=datetime.now().astimezone(),
            config=config,
            issue=issue,
            cards=cards,
            members=members,
            members_note=note,
            preflight=self.snapshot.preflight,
            loaded=loaded,
        )


def read_member_list(config: Config) -> tuple[tuple[Member, ...] | None, str]:
    """The members of config.subscribers, or None and a note when there is no usable list."""
    from ... import audience

    path = config.subscribers
    if not path.is_file():
        return None, f"no member list ({path.name} not found)"
    try:
        report = audience.read_members(path, config)
    except NewsletterError as exc:
        return None, exc.lines()[0]
    members = tuple(m for m in report.members if m.subscribed)
    rejected = len(getattr(report, "rejected", ()))
    note = f"{len(members)} members in {path.name}"
    if rejected:
        note += f" ({rejected} rows rejected; run `newsletter subscribers check`)"
    return members, note


def _member_editions(editions: Editions, have: list[Edition], members: tuple[Member, ...]) -> list[Edition]:
    """Editions members get that the standard set lacks (several segments, none, other language)."""
    keys = {EditionKey(e.segments, e.language) for e in have}
    return list(editions.of({EditionKey.of(m) for m in members} - keys).values())


def _ordered(editions: list[Edition], config: Config) -> list[Edition]:
    seg_order = {ALL: -1, **{s: i for i, s in enumerate(config.segments)}}
    lang_order = {lang: i for i, lang in enumerate(config.languages)}

    def sort_key(e: Edition) -> tuple:
        segs = sorted(seg_order.get(s, 99) for s in e.segments) or [98]
        return (len(e.segments) != 1 or ALL in e.segments, segs, lang_order.get(e.language, 99))

    unique = {e.key: e for e in editions}
    return sorted(unique.values(), key=sort_key)


def edition_label(edition: Edition, config: Config) -> str:
    if ALL in edition.segments:
        name = words(config, edition.language).preview.complete_edition
    elif not edition.segments:
        name = words(config, edition.language).preview.general_edition
    else:
        names = [
            config.segments[s].name(edition.language) if s in config.segments else s
            for s in sorted(edition.segments)
        ]
        name = " + ".join(names)
    return f"{name} · {edition.language.upper()}"


def _card(edition: Edition, config: Config, members: tuple[Member, ...] | None) -> Card:
    size_kb = len(edition.html.encode("utf-8")) / 1024
    count: int | None
    if ALL in edition.segments:
        count = None
    elif members is None:
        count = 0
    else:
        key = EditionKey(edition.segments, edition.language)
        count = sum(1 for m in members if EditionKey.of(m) == key)
    return Card(edition=edition, label=edition_label(edition, config), size_kb=size_kb, members=count)
