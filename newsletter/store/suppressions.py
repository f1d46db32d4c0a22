"""The suppression list: addresses that must never be mailed again, whatever the CSV says.

Rows live in ``tables.suppressions``, keyed by the SHA-256 of the normalised address
(``audience.address.address_hash``), so every part of the program — the send, the unsubscribe service,
a bounce handler, ``newsletter suppress`` — finds the same row for ``EVE@Example.com`` and
``eve@example.com``, and matching a member list against it needs nothing but that hash.

The plain address is stored next to the hash for one reason: the office has to update its own
member database (the CRM the CSV comes from), and a hash cannot tell it *which* member to mark.
The column is nullable: a deployment that wants to keep even less can clear it once the office
has processed the entry, and the hash alone keeps the address suppressed. Note that an unsalted
hash of an address is a matching key, not anonymisation (a known address can be hashed and
compared); it keeps the lookups free of plain addresses, nothing more.

Suppression always beats the CSV: the send filters its audience through ``filter()``, so
re-importing an old export never re-subscribes anyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from ..audience.address import address_hash, canonical
from ..audience.suppressions import REASONS, Suppression
from ..model import AudienceError
from .db import utcnow
from .tables import suppressions

_CHUNK = 500  # hashes per IN (...) query; well below every database's parameter limit


def suppression_row(address: str, reason: str, source: str, created_at: datetime) -> dict[str, object]:
    """The ``tables.suppressions`` row of ``address`` (the send, the inbox and ``add`` make the same)."""
    return {
        "address_hash": address_hash(address),
        "address": canonical(address),
        "reason": reason,
        "source": source[:200],
        "created_at": created_at,
    }


class Suppressions:
    """The suppression list in the state database (``engine_for(config.database_url)``)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def add(self, address: str, reason: str, source: str = "cli", *, when: datetime | None = None) -> bool:
        """Suppress ``address``; False (and the first entry kept) if it already was."""
        reason = reason.strip().lower()
        if reason not in REASONS:
            raise AudienceError(f"unknown suppression reason '{reason}'; use one of {', '.join(REASONS)}")
        row = suppression_row(address, reason, source.strip()[:200] or "unknown", when or utcnow())
        try:
            with self.engine.begin() as conn:
                if conn.execute(
                    select(suppressions.c.address_hash).where(
                        suppressions.c.address_hash == row["address_hash"]
                    )
                ).first():
                    return False
                conn.execute(insert(suppressions).values(**row))
        except IntegrityError:  # added by another process between our select and insert
            return False
        return True

    def remove(self, address: str) -> bool:
        """Lift the suppression of ``address``; False if it was not suppressed."""
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(suppressions).where(suppressions.c.address_hash == address_hash(address))
            )
        return bool(result.rowcount)

    def contains(self, address: str) -> bool:
        return self.get(address) is not None

    def get(self, address: str) -> Suppression | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(suppressions).where(suppressions.c.address_hash == address_hash(address))
            ).first()
        return _suppression(row) if row else None

    def lookup(self, addresses: Iterable[str]) -> dict[str, Suppression]:
        """The suppressed ones among ``addresses`` (as given) with their entries; bulk.

        When the list to check is longer than the suppression list (the usual case: a whole
        member list), the suppression list is read once and matched in memory; otherwise the
        hashes are looked up in chunked ``IN (…)`` queries.
        """
        wanted = list(addresses)
        found: dict[str, Suppression] = {}
        if not wanted:
            return found
        with self.engine.connect() as conn:
            size = conn.execute(select(func.count()).select_from(suppressions)).scalar_one()
            if size == 0:  # nothing to match: spare hashing every address of the list
                return found
            if size <= len(wanted):
                listed = {row.address_hash: row for row in conn.execute(select(suppressions))}
                for address in wanted:
                    if (row := listed.get(address_hash(address))) is not None:
                        found[address] = _suppression(row)
                return found
            by_hash: dict[str, list[str]] = {}
            for address in wanted:
                by_hash.setdefault(address_hash(address), []).append(address)
            for chunk in _chunks(list(by_hash), _CHUNK):
                for row in conn.execute(select(suppressions).where(suppressions.c.address_hash.in_(chunk))):
                    for address in by_hash[row.address_hash]:
                        found[address] = _suppression(row)
        return found

    def filter(self, addresses: Iterable[str]) -> set[str]:
        """The suppressed ones among ``addresses``, as given (bulk: fine for 100,000)."""
        return set(self.lookup(addresses))

    def list(self) -> list[Suppression]:
        """Every entry, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(suppressions).order_by(suppressions.c.created_at, suppressions.c.address)
            ).all()
        return [_suppression(row) for row in rows]


def _suppression(row: object) -> Suppression:
    m = row._mapping  # type: ignore[attr-defined]
    return Suppression(
        address=m["address"],
        address_hash=m["address_hash"],
        reason=m["reason"],
        source=m["source"],
        created_at=m["created_at"],
    )


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


__all__ = ["Suppressions", "suppression_row"]
