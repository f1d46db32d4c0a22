"""Sign-ups and preferences as values: what a /subscribe form asks for, a confirmed sign-up, a
reader's own choice of language and segments, and the audience they make with the member list.

The member list (the office's CSV) stays the source of truth for members; a confirmed sign-up
whose address is not in it is added as a member of its own; a reader's choice on the preference
page (``Choice``) beats the language and segments of either. No I/O here: the rows live in the
state database (``store.subscriptions``).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from ..config import Config
from ..limits import NAME_MAX
from ..model import Member
from .address import InvalidAddress, check_address

if TYPE_CHECKING:
    from .members import AudienceReport

SOURCES = ("form", "import", "office")
SALUTATIONS = ("", "Frau", "Herr")  # what compose.salutation reads as female / male; "" = neither
FIELD_MAX = {"salutation": 20, "first_name": 100, "last_name": 100, "company": 200}


@dataclass(frozen=True)
class Choice:
    """A reader's language and segments (the preference page, or a sign-up's own choice)."""

    language: str
    segments: frozenset[str]

    @property
    def cell(self) -> str:
        """The segments as the CSV writes them: ``poland|usa`` (empty: the general articles only)."""
        return "|".join(sorted(self.segments))


@dataclass(frozen=True)
class SignupRequest:
    """A /subscribe form that passed every check; sealed into the confirmation link until the click."""

    address: str
    salutation: str
    first_name: str
    last_name: str
    company: str
    choice: Choice
    text_hash: str  # sha256 of the consent text shown
    text_language: str
    ip: str | None  # truncated; only with [consent] record_ip = true
    requested_at: datetime


@dataclass(frozen=True)
class Signup:
    """A confirmed sign-up as stored: a member who is not (necessarily) in the CSV."""

    address: str
    salutation: str
    first_name: str
    last_name: str
    company: str
    choice: Choice
    confirmed_at: datetime

    def member(self) -> Member:
        # line 0: not a row of the CSV (messages name it "sign-up", see cli.subscriptions)
        return Member(
            address=self.address,
            line=0,
            language=self.choice.language,
            segments=self.choice.segments,
            first_name=self.first_name,
            last_name=self.last_name,
            salutation=self.salutation,
            company=self.company,
        )


class FormProblem(ValueError):
    """A form field the reader must correct; ``field`` names it (the page marks it)."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def consent_hash(text: str) -> str:
    """The version of a consent text: sha256 (hex) of exactly the text shown."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def truncate_ip(text: str | None) -> str | None:
    """The client address cut to its network: /24 for IPv4, /48 for IPv6 (None if not an address)."""
    try:
        ip = ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def check_email(text: str) -> str:
    """The normalised address of a form's email field, validated as the CSV's cells are."""
    try:
        return check_address(text)
    except InvalidAddress as exc:
        raise FormProblem("email", exc.reason) from None


def check_choice(config: Config, language: str, segments: Iterable[str]) -> Choice:
    """A language and segments the configuration offers; FormProblem otherwise."""
    language = language.strip().lower()
    if language not in config.languages:
        raise FormProblem("language", f"must be one of {', '.join(config.languages)}")
    chosen = set()
    for seg in segments:
        seg = seg.strip().lower()
        if seg not in config.segments:
            raise FormProblem("segments", f"unknown segment '{seg[:40]}'")
        chosen.add(seg)
    return Choice(language, frozenset(chosen))


def check_name(field: str, value: str) -> str:
    """A name field: one line, no control characters, at most its length."""
    value = value.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise FormProblem(field, "must be one line of text")
    if len(value) > min(FIELD_MAX.get(field, NAME_MAX), NAME_MAX):
        raise FormProblem(field, f"must be at most {FIELD_MAX[field]} characters")
    if field == "salutation" and value not in SALUTATIONS:
        raise FormProblem(field, "must be Frau, Herr or empty")
    return value


def apply_choice(member: Member, choice: Choice | None) -> Member:
    """The member with the reader's own language and segments, if they chose."""
    if choice is None or (choice.language, choice.segments) == (member.language, member.segments):
        return member
    return replace(member, language=choice.language, segments=choice.segments)


@dataclass(frozen=True)
class Audience:
    """The members of a send before ``--to``: the CSV's and the sign-ups', choices applied."""

    members: tuple[Member, ...]
    signups: int  # members that came from a sign-up (not in the CSV)
    overridden: tuple[tuple[Member, Member], ...]  # (as in the CSV, as the reader chose)


def clean_choice(choice: Choice, language: str, config: Config) -> Choice:
    """A stored choice as the configuration offers it today: segments no longer in newsletter.toml
    dropped, a language no longer configured replaced by ``language`` (the member's own)."""
    segments = frozenset(s for s in choice.segments if s in config.segments)
    if choice.language not in config.languages:
        language = language if language in config.languages else config.default_language
    else:
        language = choice.language
    return Choice(language, segments)


class SubscriptionRows(Protocol):
    """What ``audience`` reads of the state database (``store.subscriptions.Subscriptions``)."""

    def signups(self) -> list[Signup]: ...
    def choices(self) -> dict[str, Choice]: ...


def audience(report: AudienceReport, subscriptions: SubscriptionRows, config: Config) -> Audience:
    """The members of a send, a schedule and ``subscribers check`` alike: the CSV's members plus the
    confirmed sign-ups not in it, minus the addresses the CSV marks unsubscribed, each with their own
    choice cleaned against the configuration (a renamed segment or a removed language breaks no send)."""
    unsubscribed = {m.address for m in report.unsubscribed}
    signups = [s for s in subscriptions.signups() if s.address not in unsubscribed]
    return merge(report.members, signups, subscriptions.choices(), config)


def merge(
    members: Iterable[Member],
    signups: Iterable[Signup],
    choices: Mapping[str, Choice],
    config: Config | None = None,
) -> Audience:
    """CSV members + confirmed sign-ups not in the CSV, each with their own choice applied (cleaned
    against ``config`` if given)."""

    def choice_for(member: Member) -> Choice | None:
        chosen = choices.get(member.address)
        if chosen is None or config is None:
            return chosen
        return clean_choice(chosen, member.language, config)

    out: list[Member] = []
    overridden = []
    seen = set()
    for m in members:
        chosen = apply_choice(m, choice_for(m))
        if chosen is not m:
            overridden.append((m, chosen))
        out.append(chosen)
        seen.add(m.address)
    extra = 0
    for s in signups:
        if s.address in seen or not s.address:
            continue
        seen.add(s.address)
        member = s.member()
        if config is not None:  # the sign-up's own consented choice may be stale as well
            member = apply_choice(member, clean_choice(s.choice, config.default_language, config))
        out.append(apply_choice(member, choice_for(member)))
        extra += 1
    return Audience(tuple(out), extra, tuple(overridden))


__all__ = [
    "SALUTATIONS",
    "SOURCES",
    "Audience",
    "Choice",
    "FormProblem",
    "Signup",
    "SignupRequest",
    "apply_choice",
    "audience",
    "check_choice",
    "check_email",
    "check_name",
    "clean_choice",
    "consent_hash",
    "merge",
    "truncate_ip",
]
