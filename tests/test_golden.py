"""Golden files for one edition (poland.de) of the example issue.

After an intended change to templates, rendering or the example issue, regenerate and review:

    NEWSLETTER_UPDATE_GOLDEN=1 pytest tests/test_golden.py      (or: make golden)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from newsletter.config import Config
from newsletter.content import load_issue
from newsletter.render.renderer import Renderer

GOLDEN = Path(__file__).resolve().parent / "golden"
EDITION = ("poland", "de")


@pytest.mark.parametrize("suffix", ["html", "txt"])
def test_golden_edition(example_issue: Path, config: Config, suffix: str) -> None:
    segment, language = EDITION
    edition = Renderer(config).render(load_issue(example_issue, config), frozenset({segment}), language)
    actual = edition.html if suffix == "html" else edition.text
    golden = GOLDEN / f"{edition.key}.{suffix}"
    if os.environ.get("NEWSLETTER_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.is_file(), f"{golden} missing: run NEWSLETTER_UPDATE_GOLDEN=1 pytest tests/test_golden.py"
    assert actual == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; if the change is intended run `make golden` and review the diff"
    )
