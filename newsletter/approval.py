"""Four-eyes approval: the hashes of the rendered content, and the check that nothing changed since.

``newsletter approve ISSUE --by NAME`` loads the issue through the pre-flight (``preflight.load``:
content errors refuse, exit 1) and, through its ``Editions`` (a caller that checked the issue
already passes its own, so nothing is rendered twice), renders every edition any member could receive —
every non-empty combination of the configured segments, the general edition (members without a
segment) and the ``all`` edition, each in every language of the issue and of the configuration
(members get their own language's edition, with fallbacks, even when the issue lacks it) — and
keeps one SHA-256 per edition. Each hash covers the edition's subject, preheader, HTML
and text (with the personalisation placeholders still in them) and the subscriber-independent
headers (From, Reply-To, List-Id). This module reads and writes no database: ``approve`` returns the
``Approval`` and the CLI stores it (``store.approvals``, through the ledger); with
``require_approval = true`` in ``newsletter.toml`` the send path (``send.run.run_send``, so also
scheduled jobs) hands :func:`verify` the latest approval from its ``Store``, and it refuses (exit 2)
when there is none or when an edition about to be sent differs from the approved one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING

from .clock import Clock, SystemClock
from .config import Config
from .model import ALL, Edition, EditionKey, Issue, NewsletterError, RefusedError

if TYPE_CHECKING:
    from .render.editions import Editions

MAX_SEGMENTS = 10  # 2**10 - 1 segment combinations × languages is the most we render for an approval
MAX_NAMED = 8  # changed editions named in a refusal before "and N more"


@dataclass(frozen=True)
class Approval:
    issue: str
    approved_by: str
    created_at: datetime  # aware UTC
    content_hash: str
    editions: Mapping[str, str]  # Edition.key → hash

    @property
    def when(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} UTC"


def segment_sets(config: Config) -> list[frozenset[str]]:
    """Every segment set an edition can be rendered for: {all}, each non-empty subset, general."""
    ids = sorted(config.segments)
    if len(ids) > MAX_SEGMENTS:
        raise RefusedError(
            f"approval renders every combination of segments; {len(ids)} segments are more than "
            f"{MAX_SEGMENTS}: reduce the segments in newsletter.toml or set require_approval = false"
        )
    subsets = [frozenset(c) for n in range(1, len(ids) + 1) for c in combinations(ids, n)]
    return [frozenset({ALL}), *subsets, frozenset()]


def render_all_editions(issue: Issue, config: Config, editions: Editions | None = None) -> list[Edition]:
    """Every edition any member could receive: every segment set × every language of the issue and
    of the configuration (a member's language decides the edition even when the issue lacks it),
    through ``editions`` (the pre-flight's: what it checked is not rendered again)."""
    from .render.editions import Editions  # imported late so this module loads on its own

    editions = editions or Editions(issue, config)
    languages = dict.fromkeys((*issue.languages, *config.languages))
    return [
        editions[EditionKey(segments, language)]
        for language in languages
        for segments in segment_sets(config)
    ]


def header_fingerprint(config: Config, edition: Edition | None = None) -> dict[str, object]:
    """The subscriber-independent headers that are not part of an Edition: From, Reply-To and
    what compose builds List-Id from (newsletter name, mail domain, the edition's segment names)."""
    names = {}
    if edition is not None:
        names = {
            s: config.segments[s].name(edition.language)
            for s in sorted(edition.segments)
            if s in config.segments
        }
    return {
        "from": f"{config.sender_name} <{config.sender_address}>",
        "reply_to": config.reply_to or "",
        "list_id": {"name": config.name, "domain": config.mail_domain, "segments": names},
    }


def edition_hash(edition: Edition, config: Config) -> str:
    """SHA-256 over everything of one edition that reaches every member of it."""
    payload = {
        "key": edition.key,
        "subject": edition.subject,
        "preheader": edition.preheader,
        "html": edition.html,
        "text": edition.text,
        "headers": header_fingerprint(config, edition),
    }
    if edition.images:  # pictures embedded in the mail: their Content-IDs are hashes of the bytes
        payload["images"] = [image.cid for image in edition.images]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def content_hash(hashes: Mapping[str, str]) -> str:
    lines = "".join(f"{key}={value}\n" for key, value in sorted(hashes.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def approve(
    config: Config,
    issue_path: Path,
    by: str,
    *,
    clock: Clock | None = None,
    editions: Editions | None = None,
) -> Approval:
    """The hashes of every edition of the issue as approved by ``by`` (the caller stores them).
    ``editions``: those of a pre-flight the caller ran already (``Preflight.editions``), reused; else
    the issue is loaded."""
    by = " ".join(by.split())
    if not by or any(c in by for c in "\r\n\0"):
        raise RefusedError("--by needs the approver's name, e.g. --by 'Anna Schmidt'")
    from . import preflight

    if editions is None:
        _, editions = preflight.load(issue_path, config).require()  # ContentError: every content error
    issue = editions.issue
    hashes = {e.key: edition_hash(e, config) for e in render_all_editions(issue, config, editions)}
    now = (clock or SystemClock()).now()
    return Approval(issue.slug, by[:200], now, content_hash(hashes), hashes)


def changed_editions(approval: Approval, editions: Iterable[Edition], config: Config) -> list[str]:
    """Keys of the editions whose content differs from (or was not part of) the approval."""
    changed = [e.key for e in editions if approval.editions.get(e.key) != edition_hash(e, config)]
    return list(dict.fromkeys(changed))


def verify(
    config: Config, issue: Issue | str, editions: Iterable[Edition], approval: Approval | None
) -> Approval:
    """Refuse (RefusedError, exit 2) unless every edition about to be sent is the one ``approval``
    (the issue's latest, from the store) approved."""
    slug = issue if isinstance(issue, str) else issue.slug
    again = f"run `newsletter approve {slug} --by NAME`"
    if approval is None:
        raise RefusedError(
            f"{slug} has not been approved (require_approval = true in newsletter.toml); "
            f"{again} after reviewing it"
        )
    changed = changed_editions(approval, editions, config)
    if changed:
        named = ", ".join(changed[:MAX_NAMED])
        if len(changed) > MAX_NAMED:
            named += f" and {len(changed) - MAX_NAMED} more"
        raise RefusedError(
            f"{named} changed since approval by {approval.approved_by} on {approval.when}; {again} again"
        )
    return approval


def describe_approval(
    config: Config, issue_slug: str, approval: Approval | None, *, check_content: bool = True
) -> str:
    """One line for ``newsletter status`` about the issue's latest ``approval``: who approved when,
    and whether the content changed since."""
    required = "required" if config.require_approval else "not required"
    if approval is None:
        hint = f"; run `newsletter approve {issue_slug} --by NAME`" if config.require_approval else ""
        return f"approval: none ({required}){hint}"
    line = f"approval: by {approval.approved_by} on {approval.when} ({len(approval.editions)} editions; {required})"
    if check_content:
        line += _content_state(config, issue_slug, approval)
    return line


def _content_state(config: Config, issue_slug: str, approval: Approval) -> str:
    from .content import load_issue

    try:
        issue = load_issue(Path(issue_slug), config)
        changed = changed_editions(approval, render_all_editions(issue, config), config)
    except NewsletterError:
        return "; content cannot be rendered right now (run `newsletter check`)"
    if not changed:
        return "; content unchanged"
    named = ", ".join(changed[:MAX_NAMED]) + (
        f" and {len(changed) - MAX_NAMED} more" if len(changed) > MAX_NAMED else ""
    )
    return f"; CHANGED since: {named}"
