"""A reader's change on the preference page during a running send: from the next message on.

The loop reads the member's current ``Choice`` right before the message (with the suppression
check, one statement); ``Retarget`` switches the job to the edition of that choice. Every edition a
choice can select was rendered when the send started (``reachable``), so the loop renders nothing:
a choice whose edition was not rendered (more segments than ``REACHABLE_MAX`` allows) keeps the
member's frozen edition. A choice that leaves every segment of the send takes the member out of it.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..audience.signups import Choice, apply_choice
from ..audience.targets import member_in
from ..model import EditionKey
from .job import Job

if TYPE_CHECKING:
    from ..mail.compose import MessageTemplate

LEFT = object()  # the member left this send's segments
KEPT = object()
REACHABLE_MAX = 64  # editions rendered ahead at most (segment subsets × languages)


def reachable(segments: Collection[str], languages: Collection[str]) -> set[EditionKey]:
    """Every edition a reader's choice can select: each subset of the segments × each language
    (empty when there would be more than REACHABLE_MAX)."""
    ids = sorted(segments)
    if (2 ** len(ids)) * len(languages) > REACHABLE_MAX:
        return set()
    subsets = [frozenset(c) for n in range(len(ids) + 1) for c in itertools.combinations(ids, n)]
    return {EditionKey(s, lang) for s in subsets for lang in languages}


@dataclass(frozen=True)
class Retarget:
    wanted: frozenset[str]  # the send's --to
    templates: Mapping[EditionKey, MessageTemplate]

    def __call__(self, job: Job, choice: object) -> object:
        """KEPT (the job may now carry another edition) or LEFT."""
        if not isinstance(choice, Choice):
            return KEPT
        member = apply_choice(job.member, choice)
        if member is job.member:
            return KEPT
        if not member_in(self.wanted, member):
            return LEFT
        key = EditionKey.of(member)
        template = self.templates.get(key)
        if template is None:  # not rendered at start: never render in the loop
            return KEPT
        job.member, job.template = member, template
        job.row = replace(job.row, edition=str(key))
        return KEPT


__all__ = ["KEPT", "LEFT", "REACHABLE_MAX", "Retarget", "reachable"]
