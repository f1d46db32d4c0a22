"""The suppression list: one key for every spelling of an address, bulk lookups, suppression beats the CSV."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter.audience.address import address_hash, canonical, normalise_address
from newsletter.model import AudienceError
from newsletter.store.db import engine_for
from newsletter.store.suppressions import Suppressions


@pytest.fixture
def store(tmp_path: Path) -> Suppressions:
    return Suppressions(engine_for(f"sqlite:///{tmp_path / 'state.db'}"))


def test_spellings_of_one_address_share_one_key() -> None:
    assert normalise_address(" EVE@Example.com ") == "eve@example.com"
    assert canonical("EVE@Example.com") == canonical("eve@example.com") == "eve@example.com"
    assert address_hash("EVE@Example.com") == address_hash(" eve@example.com")
    assert canonical("max@Bücher.de") == "max@xn--bcher-kva.de"
    assert address_hash("max@bücher.de") == address_hash("MAX@xn--bcher-kva.de")


def test_add_contains_remove(store: Suppressions) -> None:
    when = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    assert store.add("EVE@Example.com", "unsubscribed", "mailto", when=when) is True
    assert store.contains("eve@example.com")
    assert store.add("eve@example.com", "bounced", "smtp 550 5.1.1") is False  # first entry kept
    [entry] = store.list()
    assert (entry.address, entry.reason, entry.source, entry.created_at) == (
        "eve@example.com",
        "unsubscribed",
        "mailto",
        when,
    )
    assert entry.address_hash == address_hash("eve@example.com")
    assert store.remove("Eve@EXAMPLE.com") is True
    assert not store.contains("eve@example.com")
    assert store.remove("eve@example.com") is False


def test_unknown_reason_is_refused(store: Suppressions) -> None:
    with pytest.raises(AudienceError, match="unknown suppression reason 'spam'; use one of unsubscribed"):
        store.add("eve@example.com", "spam")


def test_filter_is_bulk_and_returns_addresses_as_given(store: Suppressions) -> None:
    addresses = [f"member{i}@example.org" for i in range(3000)]
    for i in (5, 1234, 2999):
        store.add(addresses[i].upper(), "bounced", "test")
    assert store.filter(addresses) == {addresses[5], addresses[1234], addresses[2999]}
    assert store.filter([]) == set()


def test_lookup_in_chunks_when_the_suppression_list_is_the_longer_one(store: Suppressions) -> None:
    from sqlalchemy import insert

    from newsletter.store.db import utcnow
    from newsletter.store.tables import suppressions

    listed = [f"gone{i}@example.net" for i in range(1500)]
    now = utcnow()
    with store.engine.begin() as conn:
        conn.execute(
            insert(suppressions),
            [
                {
                    "address_hash": address_hash(a),
                    "address": a,
                    "reason": "bounced",
                    "source": "test",
                    "created_at": now,
                }
                for a in listed
            ],
        )
    asked = [a.upper() for a in listed[:1100]] + ["fresh@example.net"]  # more than two chunks of hashes
    found = store.lookup(asked)
    assert set(found) == set(asked[:1100])
    assert found["GONE7@EXAMPLE.NET"].address == "gone7@example.net"
