"""Frozen values passed between the pipeline's stages, and the error hierarchy.

article files ─► Issue ─► Edition (segments × language) ─► Message (per member) ─► SMTP ─► ledger row
subscriber CSV ─► Member list ─► audience of a send (frozen at send start) ──────┘

No I/O here: every other module may import this one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path

# Segment set of the edition that holds every article ("all.<lang>" in build output):
# Edition.segments == frozenset({ALL}). An empty segment set is the edition of members
# without any segment: only the articles that target nobody in particular ("general").
ALL = "all"
GENERAL = "general"


# ───────────────────────────── problems and errors ─────────────────────────────


@dataclass(frozen=True, order=True)
class Problem:
    """One finding about an input file, printed as ``path:line: message``."""

    path: str
    line: int
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{self.message}"


class NewsletterError(Exception):
    """Base of every error the CLI turns into one line on stderr."""

    exit_code = 1

    def lines(self) -> list[str]:
        return [str(self)]


class ConfigError(NewsletterError):
    """newsletter.toml or the environment is wrong or unsafe."""

    exit_code = 2


class ContentError(NewsletterError):
    """Issue or article files have errors; carries all of them."""

    exit_code = 1

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]):
        self.problems = tuple(sorted(problems))
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class AudienceError(NewsletterError):
    """A member-list or suppression operation cannot be done (bad address, report not writable …)."""

    exit_code = 1


class MemberFileError(AudienceError):
    """The subscriber file cannot be read at all (missing, not a CSV, encoding, header …): exit 2,
    unlike rejected rows (exit 1), which leave the rest of the list usable."""

    exit_code = 2


class RefusedError(NewsletterError):
    """A command refuses before doing anything (pre-flight failed, unsafe config, no terminal …)."""

    exit_code = 2


class DeliveryError(NewsletterError):
    """Sending stopped (auth failure, TLS failure, quota pause, error budget)."""

    exit_code = 1


# ───────────────────────────────── delivery states ─────────────────────────────────


class DeliveryState(StrEnum):
    """The state of one ledger row (one member of one issue); stored as its value.

    pending → sending → sent | failed | bounced | unknown | suppressed
    """

    PENDING = "pending"
    SENDING = "sending"  # claimed by a running send
    SENT = "sent"  # only after the relay's 250 to the final dot, in its own commit
    FAILED = "failed"
    BOUNCED = "bounced"  # the mailbox does not exist: suppressed as well
    UNKNOWN = "unknown"  # the connection was lost after the final dot
    SUPPRESSED = "suppressed"


OPEN_STATES = (DeliveryState.PENDING, DeliveryState.SENDING)  # a send still owes these a message
DONE_STATES = (DeliveryState.SENT, DeliveryState.BOUNCED, DeliveryState.SUPPRESSED)  # never mailed again


class SendState(StrEnum):
    """How one run of a send ended (or that it runs); stored as its value in the send history."""

    RUNNING = "running"
    PAUSED = "paused"  # the relay or the error budget asked to stop; run the same command again
    STOPPED = "stopped"  # asked to stop (signal, lost lease, configuration); run it again
    FINISHED = "finished"
    WAITING = "waiting"  # --no-wait: only retries due later are left, with their due time
    INTERRUPTED = "interrupted"  # the process was gone without finishing
    DRY_RUN = "dry-run"  # nothing was sent (SendReport only)


# ───────────────────────────────── configuration ─────────────────────────────────


@dataclass(frozen=True)
class Segment:
    id: str
    names: Mapping[str, str]  # language → display name, e.g. {"de": "Polen-Fokus"}
    timezone: str  # IANA zone, e.g. "Europe/Warsaw"

    def name(self, language: str) -> str:
        return self.names.get(language) or next(iter(self.names.values()), self.id)


# ─────────────────────────────────── content ───────────────────────────────────


@dataclass(frozen=True)
class Contact:
    name: str
    email: str
    phone: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class Event:
    title: str
    start: datetime  # zone-aware
    end: datetime | None
    location: str | None


@dataclass(frozen=True)
class Article:
    """One article in one language (``articles/<name>.<lang>.md``)."""

    name: str
    language: str
    path: Path
    title: str
    body: str  # Markdown source
    body_line: int  # line of the body's first line in the file, for messages
    segments: frozenset[str] | None = None  # None = every segment
    kicker: str | None = None
    teaser: str | None = None
    date: date | None = None
    author: str | None = None
    image: str | None = None  # path relative to the issue folder
    image_alt: str | None = None
    image_caption: str | None = None
    image_credit: str | None = None
    contacts: tuple[Contact, ...] = ()
    event: Event | None = None


@dataclass(frozen=True)
class ArticleVariants:
    """All language versions of one article named in the issue."""

    name: str
    by_language: Mapping[str, Article]

    @property
    def segments(self) -> frozenset[str] | None:
        # The segments of the first language file that exists define the article's audience.
        for article in self.by_language.values():
            return article.segments
        return None


@dataclass(frozen=True)
class Issue:
    slug: str
    path: Path
    title: Mapping[str, str]  # language → title ("*" when one string for all)
    date: date
    subject: Mapping[str, str]
    preheader: Mapping[str, str]
    intro: str  # Markdown body of issue.md
    intro_line: int
    articles: tuple[ArticleVariants, ...]
    languages: tuple[str, ...]
    number: int | None = None


@dataclass(frozen=True)
class Fallback:
    """An edition used another language's file for an article."""

    article: str
    wanted: str
    used: str


@dataclass(frozen=True)
class EditionImage:
    """An image of the issue that travels inside the mail (no NEWSLETTER_PUBLIC_URL to link it).

    ``src`` is the attribute value as the edition's HTML has it (``images/karte.png``); mail.compose
    turns it into ``cid:<cid>`` and adds the bytes once per edition as an inline MIME part.
    """

    src: str
    cid: str  # Content-ID without <>; derived from the bytes, so a changed picture gets a new one
    content_type: str  # image/png …
    filename: str
    data: bytes


@dataclass(frozen=True)
class Edition:
    """One rendered edition: the issue for a set of segments in one language.

    ``html`` and ``text`` carry personalisation placeholders (see ``PLACEHOLDERS``)
    that mail.compose fills per member; nothing else changes between members.
    """

    issue_slug: str
    segments: frozenset[str]  # {ALL} = every article; empty = members without a segment
    language: str
    subject: str
    preheader: str
    html: str
    text: str
    articles: tuple[str, ...]  # article names in issue order
    fallbacks: tuple[Fallback, ...] = ()
    images: tuple[EditionImage, ...] = ()  # embedded in the mail (only without a public URL)

    @property
    def key(self) -> str:
        """Stable name used in files, ledger rows and messages: ``poland+usa.de`` (``str(EditionKey)``)."""
        return str(EditionKey(self.segments, self.language))


def segment_key(segments: frozenset[str] | None) -> str:
    """``poland``, ``poland+usa``, ``all`` (every article) or ``general`` (no segment)."""
    if not segments:
        return GENERAL
    return "+".join(sorted(segments))


@dataclass(frozen=True)
class EditionKey:
    """Which edition: a segment set and a language. ``str(key)`` is the name the ledger, the
    approvals, the build's file names and every message use: ``poland+usa.de``, ``general.de``
    (members in no segment, ``segments`` empty), ``all.de`` (every article, ``segments == {ALL}``)."""

    segments: frozenset[str]
    language: str

    def __str__(self) -> str:
        return f"{segment_key(self.segments)}.{self.language}"

    @classmethod
    def parse(cls, text: str) -> EditionKey:
        """The key named by ``str(key)``: ``poland+usa.de`` → ({poland, usa}, de)."""
        segments, _, language = text.rpartition(".")
        if segments == GENERAL:
            return cls(frozenset(), language)
        return cls(frozenset(segments.split("+")), language)

    @classmethod
    def of(cls, member: Member) -> EditionKey:
        """The member's edition: every segment the member is in (not only those sent to) × language."""
        return cls(frozenset(member.segments), member.language)

    @property
    def segment_names(self) -> tuple[str, ...]:
        """``(poland, usa)``, ``(general,)`` or ``(all,)``: what the ledger counts per segment."""
        return tuple(sorted(self.segments)) or (GENERAL,)


# Placeholders left in Edition.html/text and filled per member by mail.compose.
# They are plain ASCII so they survive MJML and Jinja untouched.
PLACEHOLDERS = (
    "[[nl:salutation]]",  # "Sehr geehrte Frau Muster," / "Dear Ms Muster," …
    "[[nl:first_name]]",
    "[[nl:last_name]]",
    "[[nl:company]]",
    "[[nl:unsubscribe_url]]",
    "[[nl:browser_url]]",
    "[[nl:preferences_url]]",  # the member's preference page (newsletter serve's /p/<token>)
)
# The ones an editor may write in an intro or article (README, "Personal greeting"): the member's
# text values. The two URLs belong to the templates: a Markdown link percent-encodes them, so they
# would never be filled there, and the footer already carries the unsubscribe link.
ARTICLE_PLACEHOLDERS = ("salutation", "first_name", "last_name", "company")


# ─────────────────────────────────── audience ───────────────────────────────────


@dataclass(frozen=True, slots=True)  # slots: a member list may hold a million of them
class Member:
    """One valid, de-duplicated row of the subscriber CSV."""

    address: str  # normalised envelope address (domain lower-case, IDN as ASCII)
    line: int  # physical line of the record in the CSV
    language: str
    segments: frozenset[str] = frozenset()
    first_name: str = ""
    last_name: str = ""
    salutation: str = ""
    company: str = ""
    timezone: str | None = None
    subscribed: bool = True
    extra: Mapping[str, str] = field(default_factory=dict)
