"""What each preview page hands its Jinja template: one frozen value per page.

``Preview.page`` gives a template the fields of its value as names (``card``, ``mail`` …) next to
the ones every page has (``snap``, ``app_name``, ``active``, ``csrf``), so the templates read
exactly what is declared here, with its type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlencode

from ...model import Issue, Member
from .mail import MailView
from .state import Card

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from .outbox import OutboxEntry


@dataclass(frozen=True)
class Flash:
    """The result of a proof, shown once on the next page."""

    kind: Literal["ok", "error"]
    text: str


@dataclass(frozen=True)
class MessagePage:
    heading: str
    text: str


@dataclass(frozen=True)
class OverviewPage:
    issue: Issue | None
    title: str
    date_text: str
    issue_folder: str


@dataclass(frozen=True)
class EditionPage:
    card: Card
    width: str  # phone, tablet or desktop
    widths: tuple[tuple[str, str], ...]
    dark: bool
    samples: tuple[Member, ...]  # the sample member first, then real members of this edition
    member: Member  # the one "Shown to" picks
    mail: MailView
    flash: Flash | None
    frame_src: str
    languages: tuple[tuple[str, str], ...]  # (language, edition key) of the same segments
    frame_hash: str
    sender: str
    base: str = ""  # where the preview is mounted ("" alone, "/issues/<slug>" in the desk)

    def url(self, **change: str) -> str:
        """This page with some of its choices changed (``key`` for another edition)."""
        query = {"w": self.width, "member": str(self.member.line), "dark": "1" if self.dark else ""}
        key = change.pop("key", self.card.key)
        query.update(change)
        return f"{self.base}/edition/{key}?" + urlencode({k: v for k, v in query.items() if v})


@dataclass(frozen=True)
class OutboxPage:
    messages: tuple[OutboxEntry, ...]
    note: str
    limit: int


@dataclass(frozen=True)
class OutboxMessagePage:
    m: OutboxEntry
    view: str  # html, text, headers or source
    view_mail: MailView
    raw_text: str


@dataclass(frozen=True)
class FailedAddress:
    address: str
    state: str
    reply: str


@dataclass(frozen=True)
class ReportedAddress:
    """A report that came back by mail later (``newsletter inbox``, issue 13)."""

    address: str
    report: str  # hard bounce, soft bounce, blocked, delayed, complaint
    status: str  # 5.1.1 …
    diagnostic: str  # the receiving server's words
    action: str  # what the inbox did
    when: str  # the report's date, UTC


@dataclass(frozen=True)
class DeliveryPage:
    slug: str
    states: tuple[tuple[str, str], ...]  # (state, label) in the order shown
    labels: Mapping[str, str]  # edition key → card label
    counts: Mapping[str, int]
    per_edition: tuple[tuple[str, Mapping[str, int]], ...]
    failed: tuple[FailedAddress, ...]
    note: str  # why there are no counts, or ""
    reported: tuple[ReportedAddress, ...] = ()  # reports by mail, newest first
    reported_counts: Mapping[str, int] = field(default_factory=dict)  # report → deliveries


def template_values(page: DataclassInstance) -> dict[str, object]:
    """The page's fields as template names (and ``url`` where the page has one)."""
    values: dict[str, object] = {f.name: getattr(page, f.name) for f in fields(page) if f.name != "base"}
    if isinstance(page, EditionPage):
        values["url"] = page.url
    return values
