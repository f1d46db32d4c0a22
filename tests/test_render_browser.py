"""The two-column sections stack on a phone (375 px) and sit side by side at 640 px in real Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from newsletter.config import Config
from newsletter.content import load_issue
from newsletter.render.renderer import Renderer

pytestmark = pytest.mark.browser


@pytest.fixture
def edition_files(example_issue: Path, config: Config, tmp_path: Path) -> dict[str, Path]:
    issue = load_issue(example_issue, config)
    renderer = Renderer(config)
    out = tmp_path / "out"
    shutil.copytree(example_issue / "images", out / "images")
    files = {}
    for segment in ("poland", "usa"):
        edition = renderer.render(issue, frozenset({segment}), "de")
        files[segment] = out / f"{edition.key}.html"
        files[segment].write_text(edition.html, encoding="utf-8")
    return files


def _columns(browser, path: Path, width: int) -> tuple[dict, dict, int]:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(path.as_uri())
        section = page.locator(".nl-two-col").first
        left = section.locator(".nl-col-left").first.bounding_box()
        right = section.locator(".nl-col-right").first.bounding_box()
        overflow = page.evaluate("document.documentElement.scrollWidth")
        return left, right, overflow
    finally:
        page.close()


@pytest.mark.parametrize("segment", ["poland", "usa"])
def test_two_columns_stack_on_phones_and_sit_side_by_side(browser, edition_files, segment: str) -> None:  # type: ignore[no-untyped-def]
    left, right, overflow = _columns(browser, edition_files[segment], 375)
    assert right["y"] >= left["y"] + left["height"] - 1  # stacked: right column below the left one
    assert abs(left["x"] - right["x"]) < 2 and left["width"] > 300
    assert overflow <= 375  # no horizontal scrolling on a phone

    left, right, _ = _columns(browser, edition_files[segment], 640)
    assert abs(left["y"] - right["y"]) < 2  # side by side: same top
    assert right["x"] >= left["x"] + left["width"] - 1
    assert left["width"] < 400 and right["width"] < 400


def test_image_loads_from_the_build_folder(browser, edition_files) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 640, "height": 900})
    try:
        page.goto(edition_files["poland"].as_uri())
        width = page.evaluate("document.querySelector('img[alt^=\"Schematische Karte\"]').naturalWidth")
        assert width == 600
    finally:
        page.close()
