"""The preview in real Chromium (Playwright): overview, edition widths, live reload, errors, XSS.

One browser per module; one preview server (uvicorn in a thread) per test on a copy of the example
issue. Screenshots go to tests/artifacts/screenshots/ for reviewers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import smtp_sink as rig
from preview_rig import SCREENSHOTS, PreviewServer, with_members

from newsletter.config import load_config
from newsletter.content import load_issue
from newsletter.model import EditionKey
from newsletter.render.renderer import build_editions

playwright_api = pytest.importorskip("playwright.sync_api")
smtp_sink = rig.smtp_sink
pytestmark = pytest.mark.browser

# Multi-column MJML sections: columns narrower than 100 % that share a parent.
COLUMNS_JS = """() => {
  const cols = [...document.querySelectorAll('[class*="mj-column-per-"]')]
    .filter(el => !/mj-column-per-100\\b/.test(el.className));
  const groups = new Map();
  for (const el of cols) {
    if (!groups.has(el.parentElement)) groups.set(el.parentElement, []);
    groups.get(el.parentElement).push(el);
  }
  return [...groups.values()].filter(g => g.length >= 2).map(g => g.map(el => {
    const r = el.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width};
  }));
}"""


@pytest.fixture
def served(project: Path, project_env: dict[str, str], example_issue: Path) -> Iterator[PreviewServer]:
    with_members(project)
    preview = PreviewServer(project, example_issue, project_env).start()
    yield preview
    preview.stop()


@pytest.fixture
def page(browser, served: PreviewServer) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(5000)
    yield page
    context.close()


def expected_keys(project: Path, env: dict[str, str], issue_path: Path) -> set[str]:
    """Editions of the issue: every segment and all × languages, plus what members get."""
    from newsletter.audience import read_members

    config = load_config(project, env)
    issue = load_issue(issue_path, config)
    keys = {e.key for e in build_editions(issue, config)}
    return keys | {str(EditionKey.of(m)) for m in read_members(config.subscribers, config).members}


def test_overview_lists_every_edition_and_opens_one(
    page, served, project, project_env, example_issue
) -> None:
    page.goto(served.url + "/")
    assert "Länderfokus Polen und USA" in page.locator("h1").inner_text()
    assert "24.03.2022" in page.locator(".issue-head").inner_text()
    shown = set(
        page.locator("#editions [data-edition]").evaluate_all("els => els.map(e => e.dataset.edition)")
    )
    assert shown == expected_keys(project, project_env, example_issue)
    card = page.locator('[data-edition="poland.de"]')
    assert re.search(r"\d+ KB", card.inner_text()) and re.search(r"\d+ members?", card.inner_text())
    assert "Pre-flight check" in page.locator(".checks").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "preview-overview.png"), full_page=True)

    card.locator("a").click()
    page.wait_for_url(re.compile(r"/edition/poland\.de"))
    frame = page.frame_locator("#mail")
    assert "Erstes Online-Treffen" in frame.locator("body").inner_text()
    assert page.locator("#subject").inner_text().startswith("Länderfokus 2022")
    assert "Erstes Online-Treffen" in page.locator("#text-part").text_content()
    headers = page.locator("#headers").text_content()
    assert "List-Unsubscribe" in headers and "Message-ID" in headers

    # The sample-member switcher uses real rows of the member list.
    anna = page.locator("#member option", has_text="anna.schmidt@example.com")
    page.select_option("#member", anna.get_attribute("value"))
    page.wait_for_url(re.compile(r"member=\d+"))
    playwright_api.expect(frame.locator("body")).to_contain_text("Frau Schmidt")
    assert "anna.schmidt@example.com" in page.locator("#headers").text_content()


def test_phone_width_stacks_the_two_column_section(page, served) -> None:
    page.goto(served.url + "/edition/poland.de")
    desktop = _frame(page).evaluate(COLUMNS_JS)
    assert desktop, "the edition has no two-column section"
    left, right = desktop[0][:2]
    assert abs(left["top"] - right["top"]) < 2 and right["left"] >= left["right"] - 1  # side by side

    page.locator("#width-phone").click()
    page.wait_for_url(re.compile(r"w=phone"))
    page.wait_for_function("() => document.body.dataset.frameVersion !== undefined")
    assert page.locator("#mail").bounding_box()["width"] == pytest.approx(375, abs=1)
    phone = _frame(page).evaluate(COLUMNS_JS)
    left, right = phone[0][:2]
    assert right["top"] >= left["bottom"] - 1  # stacked
    assert left["width"] > 300 and right["width"] > 300
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "preview-edition-375px.png"), full_page=True)


def test_saving_an_article_updates_the_open_page_without_reload(page, served, example_issue) -> None:
    page.goto(served.url + "/edition/poland.de")
    frame = page.frame_locator("#mail")
    playwright_api.expect(frame.locator("body")).to_contain_text("Erstes Online-Treffen")
    page.evaluate("() => { window.__notReloaded = true; }")

    article = example_issue / "articles" / "schlesien.de.md"
    article.write_text(
        article.read_text(encoding="utf-8").replace("Erstes Online-Treffen", "Zweites Treffen")
    )
    playwright_api.expect(frame.locator("body")).to_contain_text("Zweites Treffen", timeout=2000)
    assert page.evaluate("() => window.__notReloaded") is True
    playwright_api.expect(page.locator("#text-part")).to_contain_text("Zweites Treffen", timeout=2000)


def test_a_broken_file_shows_path_line_and_message(page, served, example_issue) -> None:
    page.goto(served.url + "/")
    article = example_issue / "articles" / "netzwerk.de.md"
    good = article.read_text(encoding="utf-8")
    article.write_text(good.replace("title:", "titel:", 1), encoding="utf-8")
    errors = page.locator("#render-errors")
    playwright_api.expect(errors).to_contain_text("articles/netzwerk.de.md:", timeout=2000)
    assert re.search(r"netzwerk\.de\.md:\d+: ", errors.inner_text())
    assert page.locator("#editions [data-edition]").count() > 0  # the last good version stays visible

    article.write_text(good, encoding="utf-8")
    playwright_api.expect(errors).to_have_count(0, timeout=2000)


def test_article_markup_never_runs_in_the_app_page(page, served, example_issue) -> None:
    attack = '<img src=x onerror="top.__pwned=1"><script>top.__pwned=2</script>'
    issue_md = example_issue / "issue.md"
    issue_md.write_text(
        issue_md.read_text(encoding="utf-8").replace(
            'subject: "', f'subject: "{attack.replace(chr(34), "&quot;")} ', 1
        ),
        encoding="utf-8",
    )
    article = example_issue / "articles" / "netzwerk.de.md"
    article.write_text(article.read_text(encoding="utf-8") + f"\n\n{attack}\n", encoding="utf-8")
    served.state.reload()
    for path in ("/", "/edition/poland.de", "/edition/poland.de?w=phone&dark=1"):
        page.goto(served.url + path)
        page.wait_for_load_state("load")
        assert page.evaluate("() => window.__pwned") is None, path
        assert page.locator("img[src='x']").count() == 0
    filter_css = _frame(page).evaluate("() => getComputedStyle(document.documentElement).filter")
    assert "invert" in filter_css  # the simulated dark mode
    assert page.locator("#mail").get_attribute("sandbox").split() == [
        "allow-same-origin",
        "allow-popups",
        "allow-popups-to-escape-sandbox",
    ]


def _frame(page):
    page.wait_for_function(
        "() => { const f = document.getElementById('mail'); return f && f.contentDocument"
        " && f.contentDocument.readyState === 'complete' && f.contentDocument.body.children.length > 0; }"
    )
    return page.frame(url=re.compile(r"/frame\?"))


@pytest.fixture
def proof_rig(browser, smtp_sink, project: Path, project_env: dict[str, str], example_issue: Path):
    """A real aiosmtpd sink, and a preview (with the example member list) whose config sends to it."""
    with_members(project)
    sink = smtp_sink
    env = {
        **project_env,
        "NEWSLETTER_SMTP_HOST": sink.host,
        "NEWSLETTER_SMTP_PORT": str(sink.port),
        "NEWSLETTER_SMTP_SECURITY": "none",
        "NEWSLETTER_SECRET": "preview-test-secret",  # a sink on a random port is a real relay
    }
    preview = PreviewServer(project, example_issue, env).start()
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(5000)
    yield preview, sink, page
    context.close()
    preview.stop()


def test_proof_arrives_and_a_foreign_origin_sends_nothing(proof_rig) -> None:
    preview, sink, page = proof_rig
    page.goto(preview.url + "/edition/poland.de")
    page.locator("#addresses").fill("kollegin@example.org")
    page.locator("#send-proof").click()
    playwright_api.expect(page.locator("#proof-result")).to_contain_text("Proof sent to kollegin@example.org")
    received = sink.wait_for(1)
    assert received[0].rcpt_tos == ("kollegin@example.org",)
    assert received[0].message()["Subject"].startswith("[TEST] ")

    # A page on another origin posts the same form (with the editor's cookie riding along).
    token = page.locator("input[name=csrf]").get_attribute("value")
    evil = (
        f'<form id="f" method="post" action="{preview.url}/edition/poland.de/proof">'
        f'<input name="csrf" value="{token}"><input name="addresses" value="victim@example.org"></form>'
        '<script>document.getElementById("f").submit()</script>'
    )
    page.route("http://evil.example/**", lambda route: route.fulfill(body=evil, content_type="text/html"))
    with page.expect_response(re.compile(r"/proof$")) as answer:
        page.goto("http://evil.example/")
    assert answer.value.status == 403
    assert len(sink.messages) == 1


def greeting(received) -> str:
    """The salutation line of a received message's text part (the first line after the ==== rule)."""
    lines = received.message().get_body(preferencelist=("plain",)).get_content().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("===="))
    return next(line for line in lines[start + 1 :] if line.strip())


def test_proof_is_personalised_as_the_member_shown(proof_rig) -> None:
    """Issue 10, item 15: "Shown to" Piotr Nowak → the proof greets him, not Erika Mustermann."""
    preview, sink, page = proof_rig
    page.goto(preview.url + "/edition/poland.pl")
    piotr = page.locator("#member option", has_text="piotr.nowak@example.com")
    with page.expect_navigation(url=re.compile(r"member=\d+")):
        page.select_option("#member", piotr.get_attribute("value"))
    playwright_api.expect(page.locator("#proof-as")).to_contain_text("Piotr Nowak")
    page.locator("#addresses").fill("kollegin@example.org")
    page.locator("#send-proof").click()
    playwright_api.expect(page.locator("#proof-result")).to_contain_text(
        "Proof sent to kollegin@example.org as Piotr Nowak"
    )
    (received,) = sink.wait_for(1)
    assert received.rcpt_tos == ("kollegin@example.org",)
    assert received.message()["Subject"].startswith("[TEST] ")
    assert greeting(received) == "Szanowny Panie,"
    assert page.locator("#member option:checked").inner_text().startswith("Piotr Nowak")  # still shown

    # The sample member is sent as shown too (Frau Erika Mustermann).
    page.wait_for_load_state()  # the proof's redirect has landed before the next pick
    with page.expect_navigation(url=re.compile(r"member=0")):
        page.select_option("#member", "0")
    page.locator("#addresses").fill("kollegin@example.org")
    page.locator("#send-proof").click()
    playwright_api.expect(page.locator("#proof-result")).to_contain_text("as Erika Mustermann")
    assert greeting(sink.wait_for(2)[1]) == "Szanowna Pani,"

    # A member line whose address does not match the list (edited form, or the list changed) sends nothing.
    page.wait_for_load_state()
    with page.expect_navigation(url=re.compile(r"member=[1-9]")):
        page.select_option("#member", piotr.get_attribute("value"))
    page.evaluate(
        "() => { document.querySelector('input[name=member_address]').value = 'ceo@victim.example'; }"
    )
    page.locator("#addresses").fill("kollegin@example.org")
    page.locator("#send-proof").click()
    playwright_api.expect(page.locator("#proof-result")).to_contain_text(
        "pick the member under “Shown to” again"
    )
    assert len(sink.messages) == 2


@pytest.fixture
def outbox_rig(browser, project: Path, project_env: dict[str, str], example_issue: Path):
    """The embedded dev sink writing to the project's outbox, and a preview sending to it."""
    from newsletter.smtp.devsink import start_dev_sink

    sink = start_dev_sink(load_config(project, project_env), port=0)
    env = {
        **project_env,
        "NEWSLETTER_SMTP_PORT": str(sink.port),
        "NEWSLETTER_SMTP_SECURITY": "none",
        "NEWSLETTER_SECRET": "preview-test-secret",
    }
    preview = PreviewServer(project, example_issue, env).start()
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(5000)
    yield preview, page
    context.close()
    preview.stop()
    sink.stop()


def test_outbox_shows_caught_mails_newest_first_with_every_view(outbox_rig) -> None:
    preview, page = outbox_rig

    def send_proof(on, key: str) -> None:
        on.goto(f"{preview.url}/edition/{key}")
        on.locator("#addresses").fill("kollegin@example.org")
        on.locator("#send-proof").click()
        playwright_api.expect(on.locator("#proof-result")).to_contain_text("Proof sent")

    send_proof(page, "poland.de")
    page.locator("header nav a", has_text="Outbox").click()
    rows = page.locator("#outbox tbody tr")
    playwright_api.expect(rows).to_have_count(1)
    send_proof(page.context.new_page(), "usa.en")  # in another tab: the open outbox updates by itself
    playwright_api.expect(rows).to_have_count(2, timeout=3000)
    assert rows.nth(0).inner_text().count("[TEST] Country focus") == 1  # the English proof came last
    assert "[TEST] Länderfokus" in rows.nth(1).inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "preview-outbox.png"))

    rows.nth(0).locator("a").click()
    playwright_api.expect(page.frame_locator("#mail").locator("body")).to_contain_text("USA focus")
    assert page.locator("#mail").get_attribute("sandbox").split()[0] == "allow-same-origin"
    page.locator("#tab-text").click()
    playwright_api.expect(page.locator("#text-part")).to_contain_text("USA")
    page.locator("#tab-headers").click()
    playwright_api.expect(page.locator("table.headers")).to_contain_text("List-Unsubscribe")
    page.locator("#tab-source").click()
    playwright_api.expect(page.locator("#raw-source")).to_contain_text("MIME-Version: 1.0")
