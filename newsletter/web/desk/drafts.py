"""The article editor's live preview: the edition as a member gets it, from text not saved yet.

``render_draft`` copies the issue folder into a temporary folder (through ``paths``, so a link
in the issue is never followed), saves the typed fields there with the content library's writer
and renders the member's edition with the preview's renderer, exactly as a send would compose
it. The real files are never touched. Loader problems come back placed on their fields
(``content.locate``) and as ``path:line: message`` with the real path. Each result is kept in
``DraftFrames`` under a random key for a few minutes, for the preview frame to fetch.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ... import paths, preflight
from ...config import Config
from ...content import writer
from ...content.forms import ArticleFields
from ...content.locate import locate
from ...model import ContentError, Edition, EditionKey, Member, NewsletterError, Problem
from ...send.run import placeholder_member
from ..preview.mail import MailView, personalised

KEEP_SECONDS = 300
KEEP_MAX = 64


@dataclass(frozen=True)
class FieldMessage:
    field: str  # the input's name ("title", "contact_email", "body"); "" for the file as a whole
    text: str  # path:line: message


def draft_member(
    members: tuple[Member, ...] | None, line: str, lang: str, segments: tuple[str, ...]
) -> Member:
    """The member picked under "Shown as" (by CSV line), else the sample member of this article."""
    for member in members or ():
        if str(member.line) == line:
            return member
    return placeholder_member("erika.mustermann@example.org", lang, frozenset(segments), salutation="Frau")


def render_draft(config: Config, issue_dir: Path, name: str, lang: str, fields: ArticleFields,
                 member: Member) -> tuple[tuple[FieldMessage, ...], Edition | None, MailView | None]:  # fmt: skip
    """Render the issue with ``articles/<name>.<lang>.md`` as typed; nothing real is written."""
    with tempfile.TemporaryDirectory(prefix="newsletter-draft-") as scratch:
        copy = Path(scratch) / issue_dir.name
        copy.mkdir()
        paths.copy_contained(issue_dir, paths.files(issue_dir), copy)
        try:
            current = writer.open_article(copy, name, lang)
            writer.save_article(copy, name, lang, fields, version=current.version)
            loaded = preflight.load(copy, config)
            _, editions = loaded.require()
        except ContentError as exc:
            return _placed(exc.problems, copy, issue_dir, config, name, lang), None, None
        except NewsletterError as exc:
            return (FieldMessage("", " ".join(exc.lines()).replace(str(copy), str(issue_dir))),), None, None
        edition = editions[EditionKey.of(member)]
        return (), edition, personalised(edition, config, member)


def _placed(problems: tuple[Problem, ...], copy: Path, issue_dir: Path, config: Config, name: str,
            lang: str) -> tuple[FieldMessage, ...]:  # fmt: skip
    own = f"articles/{name}.{lang}.md"
    shown_root = _shown(issue_dir, config)
    result = []
    for placed in locate(problems, copy, config.root):
        line = str(placed.problem).replace(str(copy.resolve()), shown_root).replace(str(copy), shown_root)
        field = ""
        if placed.file == own and placed.area == "body":
            field = "body"
        elif placed.file == own and placed.area == "front" and placed.field:
            field = input_name(placed.field)
        result.append(FieldMessage(field, line))
    return tuple(result)


def input_name(where: tuple[object, ...]) -> str:
    """The form input of a front-matter key: ("contacts", 0, "email") → contact_email."""
    if where[0] == "contacts" and len(where) > 2:
        return f"contact_{where[2]}"
    if where[0] == "event":
        part = str(where[1]) if len(where) > 1 else "date"
        return {"start": "event_start", "end": "event_end"}.get(part, f"event_{part}")
    return str(where[0])


def _shown(issue_dir: Path, config: Config) -> str:
    try:
        return str(issue_dir.resolve().relative_to(config.root.resolve()))
    except ValueError:
        return str(issue_dir)


class DraftFrames:
    """Rendered drafts by random key, for ``/issues/<slug>/draft/<key>`` (a few minutes, a few dozen)."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[float, str, MailView]] = {}
        self._lock = threading.Lock()

    def keep(self, slug: str, mail: MailView) -> str:
        key = secrets.token_urlsafe(12)
        now = time.monotonic()
        with self._lock:
            self._kept = {k: v for k, v in self._kept.items() if now - v[0] < KEEP_SECONDS}
            while len(self._kept) >= KEEP_MAX:
                self._kept.pop(next(iter(self._kept)))
            self._kept[key] = (now, slug, mail)
        return key

    def get(self, slug: str, key: str) -> MailView | None:
        with self._lock:
            kept = self._kept.get(key)
        return kept[2] if kept and kept[1] == slug else None


__all__ = ["DraftFrames", "FieldMessage", "draft_member", "input_name", "render_draft"]
