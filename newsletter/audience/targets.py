"""Which members a ``--to`` addresses (send and schedule alike), and whom it leaves out.

``--to`` names segment ids from newsletter.toml, ``all`` (every member) or ``general`` (the
members in no segment, whom no segment id reaches).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable

from ..config import Config
from ..model import ALL, GENERAL, ConfigError, Member, segment_key


def member_in(wanted: Collection[str], member: Member) -> bool:
    """Whether ``--to`` (segment ids, ``all``, ``general``) addresses the member."""
    return ALL in wanted or bool(member.segments & set(wanted)) or (GENERAL in wanted and not member.segments)


def segment_id(config: Config, name: str) -> str:
    """A configured segment's id; an unknown one is refused naming ``all`` and ``general`` too."""
    try:
        return config.segment(name).id
    except ConfigError as exc:
        raise ConfigError(
            f"{exc}; or --to all (every member) or --to general (the members in no segment)"
        ) from None


def left_out(others: Iterable[Member], existing: Collection[str]) -> dict[str, int]:
    """Members a run does not address and no earlier run of the issue did (``existing``: the
    ledger's addresses), counted by their segment key (``usa``, ``general`` = in no segment):
    they would get nothing."""
    return dict(Counter(segment_key(frozenset(m.segments)) for m in others if m.address not in existing))
