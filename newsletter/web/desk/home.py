"""The home page's list: every issue in issues/, newest first, with its state in words.

The state of an issue comes from the files (the pre-flight, as ``newsletter check`` runs it),
the latest approval (still valid only while the content hash is the approved one), the
schedules and the ledger. Working it out renders the issue, so each result is kept until a file
of the issue, the templates or ``newsletter.toml`` changes.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ... import edges, paths
from ...approval import approve
from ...config import Config
from ...content.scaffold import SLUG  # as `newsletter new` accepts
from ...model import NewsletterError
from ...preflight import Preflight, check_issue
from ...render.labels import DeskWords
from ...store.edits import last_edit
from ...store.schedules import list_schedules
from ...zones import fmt_local

ACTIVE = ("scheduled", "held", "running")


@dataclass(frozen=True)
class IssueState:
    """One line about an issue: ``kind`` styles it (draft, errors, approved, void, scheduled …)."""

    kind: str
    text: str


@dataclass(frozen=True)
class IssueRow:
    slug: str
    title: str
    date: date | None
    states: tuple[IssueState, ...]
    last_edit: str  # "Zuletzt gespeichert von …", or ""


@dataclass(frozen=True)
class _Facts:
    """What the files say (kept while they stay the same)."""

    title: str
    date: date | None
    errors: int
    content_hash: str | None  # None: cannot be rendered, so nothing can be approved


def issue_folders(config: Config, extra: Path | None = None) -> dict[str, Path]:
    """Slug → folder of every issue under issues/ (plain folders holding an issue.md, never a
    link), plus the folder ``newsletter preview`` was given (it wins over issues/<its name>)."""
    found: dict[str, Path] = {}
    if config.issues_dir.is_dir():
        for entry in sorted(os.scandir(config.issues_dir), key=lambda e: e.name):
            if SLUG.match(entry.name) and paths.contained(config.issues_dir, f"{entry.name}/issue.md"):
                found[entry.name] = config.issues_dir.resolve() / entry.name
    if extra is not None:  # the folder asked for wins over issues/ of the same name
        found[extra.name] = extra
    return found


class Board:
    """The home page's rows, with the pre-flight of each issue kept until its files change."""

    def __init__(self) -> None:
        self._facts: dict[str, tuple[tuple, _Facts]] = {}
        self._lock = threading.Lock()

    def rows(self, config: Config, folders: dict[str, Path], words: DeskWords, lang: str) -> list[IssueRow]:
        rows = [self.row(config, slug, path, words, lang) for slug, path in folders.items()]
        return sorted(rows, key=lambda r: (r.date or date.min, r.slug), reverse=True)

    def row(self, config: Config, slug: str, path: Path, words: DeskWords, lang: str) -> IssueRow:
        facts = self._facts_of(config, path)
        engine = edges.state_database(config)
        states = [*_approval_states(config, slug, facts, words), *_send_states(config, slug, words, lang)]
        if facts.errors:
            states.insert(0, IssueState("errors", words.state_errors.format(count=facts.errors)))
        if facts.content_hash is None and not facts.errors:
            states.insert(0, IssueState("errors", words.state_broken))
        if not states:
            states.append(IssueState("draft", words.state_draft))
        edit = last_edit(engine, slug)
        edited = words.last_edit.format(name=edit.user, when=_when(edit.at, config)) if edit else ""
        return IssueRow(slug, facts.title or slug, facts.date, tuple(states), edited)

    def _facts_of(self, config: Config, path: Path) -> _Facts:
        stamp = (_stamp(path), _stamp(config.templates), _stamp(config.root / "newsletter.toml"))
        with self._lock:
            kept = self._facts.get(str(path))
        if kept is not None and kept[0] == stamp:
            return kept[1]
        facts = _read_facts(config, path)
        with self._lock:
            self._facts[str(path)] = (stamp, facts)
        return facts


def _read_facts(config: Config, path: Path) -> _Facts:
    try:
        pre: Preflight = check_issue(path, config)
    except NewsletterError:
        return _Facts("", None, 1, None)
    issue = pre.issue
    title = ""
    if issue is not None:
        lang = config.default_language
        title = issue.title.get(lang) or issue.title.get("*") or next(iter(issue.title.values()), "")
    content_hash = None
    if issue is not None and pre.editions is not None and not pre.errors:
        try:
            content_hash = approve(config, path, "desk", editions=pre.editions).content_hash
        except NewsletterError:
            content_hash = None
    return _Facts(title, issue.date if issue else None, len(pre.errors), content_hash)


def _approval_states(config: Config, slug: str, facts: _Facts, words: DeskWords) -> list[IssueState]:
    approval = edges.ledger(config).latest_approval(slug)
    if approval is None:
        return []
    values = {"name": approval.approved_by, "when": _when(approval.created_at, config)}
    if facts.content_hash is not None and facts.content_hash == approval.content_hash:
        return [IssueState("approved", words.state_approved.format(**values))]
    return [IssueState("void", words.state_void.format(**values))]


def _send_states(config: Config, slug: str, words: DeskWords, lang: str) -> list[IssueState]:
    states = []
    for info in list_schedules(edges.state_database(config), slug):
        if info.state in ACTIVE:
            local = fmt_local(info.at_utc, info.local_zone) + f" {info.local_zone}"
            segment = (
                config.segments[info.segment].name(lang) if info.segment in config.segments else info.segment
            )
            text = words.state_scheduled.format(segment=segment, local=local, utc=f"{info.at_utc:%H:%M} UTC")
            states.append(IssueState("scheduled", text))
    counts = edges.ledger(config).counts(slug)
    if counts.rows:
        sent, failed = counts.get("sent"), counts.get("failed") + counts.get("bounced")
        pending = counts.get("pending") + counts.get("sending")
        if pending:
            states.append(IssueState("sending", words.state_sending.format(sent=sent, pending=pending)))
        else:
            states.append(IssueState("sent", words.state_sent.format(sent=sent, failed=failed)))
    return states


def _when(instant: object, config: Config) -> str:
    return fmt_local(instant, config.timezone)  # type: ignore[arg-type]


def _stamp(path: Path) -> tuple:
    """Names, sizes and times of every file below ``path`` (or of the file itself)."""
    try:
        if path.is_file():
            st = path.stat()
            return ((path.name, st.st_size, st.st_mtime_ns),)
        found = []
        for folder, _dirs, files in os.walk(path):
            for name in files:
                st = os.lstat(os.path.join(folder, name))
                found.append((folder, name, st.st_size, st.st_mtime_ns))
        return tuple(sorted(found))
    except OSError:
        return ()


__all__ = ["SLUG", "Board", "IssueRow", "IssueState", "issue_folders"]
