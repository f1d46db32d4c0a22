"""Before anything is sent: the pre-flight gate, the secret check, and the members a run addresses.

``prepare_send`` refuses (exit 2) before anything changes — pre-flight errors, a real relay without
``NEWSLETTER_SECRET``, no valid member of the segments named — and returns the ``Prepared`` run:
the ``Issue`` and the ``Editions`` the pre-flight validated (the send renders nothing twice), the
addressed members in file order, the rejected rows and the warnings.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import preflight
from ..audience import read_members
from ..audience.signups import audience
from ..audience.targets import member_in, segment_id
from ..config import Config
from ..model import ALL, GENERAL, ConfigError, Issue, Member, Problem, RefusedError
from ..render.editions import Editions
from .protocols import Subscriptions


@dataclass
class Prepared:
    """What one run is about: the issue that passed the pre-flight check, its editions (those the
    check rendered are reused, a member's own is rendered when first asked) and its audience."""

    issue: Issue
    path: Path
    members: list[Member]  # addressed by this run, in file order
    rejected: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    editions: Editions
    others: list[Member] = field(default_factory=list)  # valid members this run does not address


def prepare_send(
    config: Config,
    issue_path: Path | str,
    segments: Sequence[str],
    *,
    dry_run: bool,
    only_addresses: Collection[str] | None = None,
    subscriptions: Subscriptions | None = None,
) -> Prepared:
    wanted = wanted_segments(config, segments)
    checked = preflight.check_issue(issue_path, config)
    refusal = f"{len(checked.errors)} pre-flight error(s); fix them (newsletter check) before sending"
    issue, editions = checked.passed(refusal)
    if not dry_run and config.secret is None and not config.smtp.is_dev_sink:
        raise RefusedError(
            "NEWSLETTER_SECRET is not set: unsubscribe links cannot be signed; put a long random value "
            "in .env (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    report = read_members(config.subscribers, config)
    everyone = list(report.members)
    if subscriptions is not None:  # + confirmed sign-ups, each member's own choice applied
        everyone = list(audience(report, subscriptions, config).members)
    members = [m for m in everyone if member_in(wanted, m)]
    others = [m for m in everyone if not member_in(wanted, m)]
    if only_addresses is not None:  # a job for one member zone: the others are not "left out"
        members, others = [m for m in members if m.address in only_addresses], []
    if not members:
        named = ", ".join(sorted(wanted))
        raise RefusedError(
            f"no valid member of {named} in {config.subscribers}; check --to and the member list"
        )
    warnings = checked.warnings + (*report.duplicates, *report.warnings)
    return Prepared(issue, checked.path, members, tuple(report.rejected), warnings, editions, others)


def wanted_segments(config: Config, segments: Sequence[str]) -> frozenset[str]:
    wanted = set()
    for seg in segments:
        seg = seg.strip().lower()
        if not seg:
            continue
        if seg in (ALL, GENERAL):
            wanted.add(seg)
        else:
            wanted.add(segment_id(config, seg))
    if not wanted:
        raise ConfigError("name at least one segment with --to (e.g. --to poland,usa or --to all)")
    return frozenset(wanted)


__all__ = ["Prepared", "prepare_send", "wanted_segments"]
