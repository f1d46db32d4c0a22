"""The preview's layout on phones, tablets and desktops, measured in real Chromium (issue 10, item 20):
the top bar keeps every item on screen without overlaps, no page is wider than the screen, and an
outbox message opened on a phone fits the phone instead of showing the desktop width cut off.

Screenshots for reviewers: tests/artifacts/screenshots/preview-topbar-375px.png and
outbox-message-375px.png.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from preview_rig import SCREENSHOTS, PreviewServer, make_project, with_members

from newsletter.config import load_config
from newsletter.edges import transport
from newsletter.send.run import send_test

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.browser

WIDTHS = (375, 768, 1400)
OVERFLOW_JS = "() => [document.scrollingElement.scrollWidth, window.innerWidth]"
TOP_BAR_JS = """() => {
  const header = document.querySelector('header.top').getBoundingClientRect();
  const items = [document.querySelector('header.top .brand'), ...document.querySelectorAll('header.top nav a'),
                 document.getElementById('live-dot')];
  return {header: {top: header.top, bottom: header.bottom}, items: items.map(el => {
    const r = el.getBoundingClientRect();
    return {name: el.textContent.trim(), left: r.left, right: r.right, top: r.top, bottom: r.bottom};
  })};
}"""
FRAME_JS = """() => {
  const frame = document.getElementById('mail'), box = document.getElementById('frame-box');
  const f = frame.getBoundingClientRect(), b = box.getBoundingClientRect(), doc = frame.contentDocument;
  return {frame: {left: f.left, right: f.right, width: f.width}, box: {left: b.left, right: b.right},
          inner: doc ? [doc.scrollingElement.scrollWidth, doc.documentElement.clientWidth] : null};
}"""


@pytest.fixture(scope="module")
def preview(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PreviewServer, str]]:
    """A preview of the example issue with the example members, and one proof in the outbox."""
    from newsletter.smtp.devsink import start_dev_sink

    project, issue, env = make_project(tmp_path_factory.mktemp("layout"))
    with_members(project)
    sink = start_dev_sink(load_config(project, env), port=0)
    env = {**env, "NEWSLETTER_SMTP_PORT": str(sink.port), "NEWSLETTER_SMTP_SECURITY": "none",
           "NEWSLETTER_SECRET": "layout-test-secret"}  # fmt: skip
    config = load_config(project, env)
    (result,) = send_test(
        config, issue, ["poland"], "de", ["kollegin@example.org"], transport=transport(config)
    )
    assert result.accepted
    server = PreviewServer(project, issue, env).start()
    key = next((project / "outbox" / "new").iterdir()).name.split(":")[0]
    yield server, key
    server.stop()
    sink.stop()


def _open(browser, url: str, width: int):  # noqa: ANN001, ANN202
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.set_default_timeout(5000)
    page.goto(url)
    page.wait_for_load_state("load")
    return page


def _pages(key: str) -> list[str]:
    editions = [f"/edition/poland.de?w={w}" for w in ("phone", "tablet", "desktop")]
    outbox = [f"/outbox/{key}?view={v}" for v in ("html", "text", "headers", "source")]
    return ["/", *editions, "/outbox", *outbox, "/delivery"]


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_is_wider_than_the_screen(browser, preview, width: int) -> None:
    server, key = preview
    for path in _pages(key):
        page = _open(browser, server.url + path, width)
        scroll_width, inner_width = page.evaluate(OVERFLOW_JS)
        page.close()
        assert scroll_width <= inner_width, f"{path} at {width} px is {scroll_width} px wide"


@pytest.mark.parametrize("width", WIDTHS)
def test_top_bar_items_are_on_screen_and_apart(browser, preview, width: int) -> None:
    server, _ = preview
    page = _open(browser, server.url + "/edition/poland.de", width)
    bar = page.evaluate(TOP_BAR_JS)
    if width == 375:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "preview-topbar-375px.png"))
    page.close()
    items = bar["items"]
    assert [i["name"] for i in items] == ["AMZ-Newsletter Preview", "Editions", "Outbox", "Delivery", "live"]
    for item in items:
        assert item["left"] >= 0 and item["right"] <= width, item
        assert bar["header"]["top"] <= item["top"] and item["bottom"] <= bar["header"]["bottom"], item
    for n, a in enumerate(items):
        for b in items[n + 1 :]:
            apart = a["right"] <= b["left"] or b["right"] <= a["left"]
            apart = apart or a["bottom"] <= b["top"] or b["bottom"] <= a["top"]
            assert apart, (a, b)


def test_outbox_message_fits_a_phone(browser, preview) -> None:
    server, key = preview
    page = _open(browser, f"{server.url}/outbox/{key}", 375)
    page.wait_for_function("() => document.body.dataset.frameVersion !== undefined")  # the frame has loaded
    playwright_api.expect(page.frame_locator("#mail").locator("body")).to_contain_text("Länderfokus")
    measured = page.evaluate(FRAME_JS)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "outbox-message-375px.png"))
    page.close()
    frame, box = measured["frame"], measured["box"]
    assert frame["left"] >= 0 and frame["right"] <= 375 and box["right"] <= 375, measured
    inner_scroll, inner_width = measured["inner"]
    assert inner_width == pytest.approx(frame["width"], abs=1)
    assert inner_scroll <= inner_width, measured  # the mail lays itself out for the phone, nothing cut off


@pytest.mark.parametrize("simulated", ["phone", "tablet", "desktop"])
def test_edition_frame_starts_inside_its_box_on_a_phone(browser, preview, simulated: str) -> None:
    """A simulated width wider than the phone scrolls inside its box, from its left edge on."""
    server, _ = preview
    page = _open(browser, f"{server.url}/edition/poland.de?w={simulated}", 375)
    measured = page.evaluate(FRAME_JS)
    page.close()
    assert measured["frame"]["left"] >= measured["box"]["left"] - 0.5, measured
    assert measured["box"]["right"] <= 375, measured
