"""The per-issue send lease: one send per issue, never one issue blocking another."""

from __future__ import annotations

import pytest

from newsletter.config import Config
from newsletter.model import RefusedError
from newsletter.store.db import engine_for
from newsletter.store.ledger import Ledger


def test_issues_with_a_long_common_prefix_do_not_block_each_other(config: Config) -> None:
    ledger = Ledger(engine_for(config.database_url))
    first = "2027-04-fruehjahr-laenderfokus-polen-und-usa-sonderausgabe-a"
    second = "2027-04-fruehjahr-laenderfokus-polen-und-usa-sonderausgabe-b"
    ledger.acquire(first, "otherhost:1:aaaa")  # a live holder elsewhere
    ledger.acquire(second, "thishost:2:bbbb")  # a different issue: allowed
    with pytest.raises(RefusedError, match="being sent by another process"):
        ledger.acquire(first, "thishost:2:bbbb")
