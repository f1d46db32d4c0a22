"""A suppression: an address that must never be mailed again, whatever the CSV says.

The value type of one entry of the suppression list and the reasons an entry may have; the list
itself lives in the state database (``store.suppressions``), keyed by the SHA-256 of the
normalised address (``address.address_hash``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

REASONS = ("unsubscribed", "bounced", "complained", "manual")


@dataclass(frozen=True)
class Suppression:
    """One row of the suppression list."""

    address: str | None
    address_hash: str
    reason: str
    source: str
    created_at: datetime


__all__ = ["REASONS", "Suppression"]
