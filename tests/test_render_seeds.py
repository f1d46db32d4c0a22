"""The seed texts themselves, read from ../shared/seeds/ at test time, survive rendering intact."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from newsletter.config import Config
from newsletter.content import load_issue
from newsletter.model import ALL
from newsletter.render.renderer import Renderer

SEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.txt")) if SEEDS.is_dir() else []
pytestmark = pytest.mark.skipif(not SEED_FILES, reason=f"no seed texts in {SEEDS}")


def _plain_lines(text: str) -> list[str]:
    """Lines free of Markdown syntax, so they must appear verbatim in both parts."""
    return [
        line.strip() for line in text.splitlines() if line.strip() and not re.search(r"[*_\[\]#\\`<>|]", line)
    ]


@pytest.fixture
def seed_edition(project: Path, config: Config):  # type: ignore[no-untyped-def]
    folder = project / "issues" / "seeds"
    (folder / "articles").mkdir(parents=True)
    names = [f"seed{i}" for i in range(len(SEED_FILES))]
    (folder / "issue.md").write_text(
        "---\ntitle: Seeds\ndate: 2022-03-24\narticles: [" + ", ".join(names) + "]\n---\nVorwort.\n",
        encoding="utf-8",
    )
    for name, seed in zip(names, SEED_FILES, strict=True):
        body = seed.read_text(encoding="utf-8")
        (folder / "articles" / f"{name}.de.md").write_text(
            f"---\ntitle: {name}\n---\n{body}", encoding="utf-8"
        )
    return Renderer(config).render(load_issue(folder, config), frozenset({ALL}), "de")


def test_seed_texts_render_intact(seed_edition) -> None:  # type: ignore[no-untyped-def]
    page = html.unescape(seed_edition.html)
    text = seed_edition.text
    all_source = "\n".join(seed.read_text(encoding="utf-8") for seed in SEED_FILES)
    lines = [line for seed in SEED_FILES for line in _plain_lines(seed.read_text(encoding="utf-8"))]
    longest = sorted(lines, key=len)[-5:]
    assert all(len(line) > 300 for line in longest[-2:])
    for line in longest:
        assert line in page, line[:60]
        assert line in text, line[:60]
    for quote in re.findall(r"„[^“]{3,80}“", all_source):
        assert quote in page and quote in text
    for address in re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", all_source):
        assert address in page and address in text
    for word in ("Länderfokus", "Kattowitzer", "Wilhelm-Buck-Straße", "Sächsisches"):
        if word in all_source:
            assert word in page and word in text


def test_seed_edition_is_valid_and_small(seed_edition) -> None:  # type: ignore[no-untyped-def]
    assert len(seed_edition.html.encode()) < 90 * 1024
    assert "<mj-" not in seed_edition.html and "[[nl:unsubscribe_url]]" in seed_edition.html
