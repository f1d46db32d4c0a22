"""The desk's people and frame in real Chromium (issue 12, step 12B): sign-in by keyboard, the
home page with every state, a new issue from the form, four-eyes approval, the language switch,
a form without its token, the single-editor note; screenshots at 1280 and 768 px."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from desk_rig import PASSWORDS, DeskServer, people
from preview_rig import SCREENSHOTS, with_members

from newsletter.store.db import engine_for
from newsletter.store.edits import record_edit
from newsletter.store.schedules import insert_schedules

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
pytestmark = pytest.mark.browser
SLUG = "2022-03-laenderfokus"
OVERFLOW_JS = "() => [document.scrollingElement.scrollWidth, window.innerWidth]"
UNLABELLED_JS = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(el => !(el.id && document.querySelector(`label[for="${el.id}"]`))).map(el => el.name)"""


def _copy(example: Path, slug: str, day: str) -> Path:
    target = example.parent / slug
    shutil.copytree(example, target)
    issue_md = target / "issue.md"
    issue_md.write_text(
        re.sub(r"(?m)^date: .*$", f"date: {day}", issue_md.read_text(encoding="utf-8")), encoding="utf-8"
    )
    return target


@pytest.fixture
def desk(project: Path, project_env: dict[str, str], example_issue: Path) -> Iterator[DeskServer]:
    """Three people, and issues in several states besides the example issue."""
    with_members(project)
    people(project_env, ("Anna Schmidt", "approver"), ("Bernd Müller", "editor"), ("Clara Nowak", "approver"))
    broken = _copy(example_issue, "2022-01-kaputt", "2022-01-20")
    (broken / "articles" / "tada.de.md").write_text("---\ntitle: [unclosed\n---\nText\n", encoding="utf-8")
    _copy(example_issue, "2022-02-winter", "2022-02-17")
    engine = engine_for(project_env["NEWSLETTER_DATABASE"])
    insert_schedules(engine, SLUG, "poland", str(example_issue),
                     [("Europe/Warsaw", None, datetime(2027, 3, 1, 8, 0, tzinfo=UTC))], datetime.now(UTC))  # fmt: skip
    server = DeskServer(project, project_env, loopback=False).start()
    yield server
    server.stop()


def _page(browser, width: int = 1280):  # noqa: ANN001, ANN202
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(10000)
    return page


def _sign_in_by_keyboard(page, desk: DeskServer, name: str, then: str = "/") -> None:  # noqa: ANN001
    page.goto(desk.url + then)
    expect(page).to_have_url(re.compile(r"/signin"))
    while page.evaluate("document.activeElement.id") != "name":  # autofocus puts it there; else Tab to it
        page.keyboard.press("Tab")
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(PASSWORDS[name])
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/signin" not in url)


def test_sign_in_by_keyboard_and_sign_out(browser, desk: DeskServer) -> None:
    page = _page(browser)
    page.goto(desk.url + f"/issues/{SLUG}/outbox")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Fissues%2F2022-03-laenderfokus%2Foutbox$"))
    expect(page.locator("h1")).to_have_text("Anmelden")
    assert page.evaluate(UNLABELLED_JS) == []
    for width in (1280, 768):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / f"desk-signin-{width}px.png"), full_page=True)
        assert page.evaluate(OVERFLOW_JS)[0] <= width
    page.fill("#name", "Bernd Müller")
    page.fill("#password", "falsches-passwort")
    page.click("#sign-in")
    expect(page.locator("#sign-in-error")).to_have_text("Name oder Passwort stimmt nicht.")
    page.goto(desk.url + f"/signin?next=/issues/{SLUG}/outbox")
    _sign_in_by_keyboard(page, desk, "Bernd Müller", f"/signin?next=/issues/{SLUG}/outbox")
    expect(page).to_have_url(desk.url + f"/issues/{SLUG}/outbox")
    expect(page.locator("#signed-in")).to_have_text("Angemeldet: Bernd Müller (Redaktion)")
    page.click("#sign-out")
    expect(page).to_have_url(desk.url + "/signin")
    page.goto(desk.url + "/")
    expect(page).to_have_url(desk.url + "/signin")
    page.close()


def test_home_lists_issues_newest_first_with_their_state(
    browser, desk: DeskServer, project_env, project
) -> None:
    engine = engine_for(project_env["NEWSLETTER_DATABASE"])
    record_edit(engine, "2022-02-winter", "Bernd Müller")
    page = _page(browser)
    _sign_in_by_keyboard(page, desk, "Clara Nowak")
    for slug in (SLUG, "2022-02-winter"):
        page.goto(desk.url + f"/issues/{slug}/edit")
        page.click("#approve")
        expect(page.locator("#flash")).to_contain_text("Freigegeben von Clara Nowak")
    winter = project / "issues" / "2022-02-winter" / "articles" / "netzwerk.de.md"
    winter.write_text(winter.read_text(encoding="utf-8") + "\nNachtrag.\n", encoding="utf-8")
    page.goto(desk.url + "/")
    rows = page.locator("#issues tbody tr")
    assert [rows.nth(i).get_attribute("data-issue") for i in range(rows.count())] == [
        SLUG, "2022-02-winter", "2022-01-kaputt"]  # fmt: skip
    first = page.locator(f'tr[data-issue="{SLUG}"] .state')
    expect(first).to_have_text([
        "Freigegeben von Clara Nowak am 2026-11-21 10:00 CET",
        "Geplant: Polen-Fokus am 2027-03-01 09:00 CET Europe/Warsaw (08:00 UTC)",
    ])  # fmt: skip
    expect(page.locator('tr[data-issue="2022-02-winter"] .state')).to_have_text(
        ["Freigabe ungültig: geändert seit der Freigabe von Clara Nowak am 2026-11-21 10:00 CET"]
    )
    expect(page.locator('tr[data-issue="2022-02-winter"] .hint')).to_contain_text(
        "Zuletzt gespeichert von Bernd Müller"
    )
    expect(page.locator('tr[data-issue="2022-01-kaputt"] .state').first).to_have_text(
        re.compile(r"^Fehler in der Prüfung: \d+$")
    )
    assert page.evaluate(UNLABELLED_JS) == []
    for width in (1280, 768):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / f"desk-home-{width}px.png"), full_page=True)
        assert page.evaluate(OVERFLOW_JS)[0] <= width, width
    page.close()


def test_a_new_issue_from_the_form_opens_its_issue_page(browser, desk: DeskServer, project: Path) -> None:
    page = _page(browser, 768)
    _sign_in_by_keyboard(page, desk, "Bernd Müller")
    page.fill("#slug", "2022-04-fruehjahr")
    page.select_option("#from", SLUG)
    page.click("#create-issue")
    expect(page).to_have_url(desk.url + "/issues/2022-04-fruehjahr/edit")
    expect(page.locator("#flash")).to_have_text("2022-04-fruehjahr ist angelegt.")
    made = project / "issues" / "2022-04-fruehjahr"
    assert sorted(p.name for p in (made / "articles").iterdir()) == sorted(
        p.name for p in (project / "issues" / SLUG / "articles").iterdir())  # fmt: skip
    page.screenshot(path=str(SCREENSHOTS / "desk-new-issue-768px.png"), full_page=True)
    page.goto(desk.url + "/")
    page.fill("#slug", "2022-04-fruehjahr")
    page.click("#create-issue")
    expect(page.locator("#flash")).to_contain_text("issues/2022-04-fruehjahr already exists")
    page.close()


def test_approval_by_the_last_editor_is_refused_in_the_browser(
    browser, desk: DeskServer, project_env
) -> None:
    record_edit(engine_for(project_env["NEWSLETTER_DATABASE"]), SLUG, "Anna Schmidt")
    page = _page(browser)
    _sign_in_by_keyboard(page, desk, "Anna Schmidt", f"/issues/{SLUG}/edit")
    page.click("#approve")
    expect(page.locator("#flash")).to_have_text(
        "Sie haben diese Ausgabe zuletzt bearbeitet; eine andere Person mit Freigaberecht muss sie freigeben."
    )
    page.close()


def test_a_form_without_its_token_is_refused_and_changes_nothing(
    browser, desk: DeskServer, project: Path
) -> None:
    page = _page(browser)
    _sign_in_by_keyboard(page, desk, "Anna Schmidt")
    page.evaluate("document.querySelector('#new-issue input[name=csrf]').remove()")
    page.fill("#slug", "2022-05-ohne-token")
    with page.expect_response(lambda r: r.url.endswith("/issues/new")) as answer:
        page.click("#create-issue")
    assert answer.value.status == 403
    expect(page.locator("#message")).to_contain_text("es wurde nichts geändert")
    assert not (project / "issues" / "2022-05-ohne-token").exists()
    page.close()


def test_the_language_switch_changes_every_word_of_the_frame(browser, desk: DeskServer) -> None:
    page = _page(browser)
    page.goto(desk.url + "/signin")
    page.click('.langs button[value="en"]')
    expect(page.locator("h1")).to_have_text("Sign in")
    _sign_in_by_keyboard(page, desk, "Clara Nowak")
    expect(page.locator("h1")).to_have_text("Issues")
    page.click('.langs button[value="pl"]')
    expect(page.locator("h1")).to_have_text("Wydania")
    expect(page.locator("#signed-in")).to_have_text("Zalogowano: Clara Nowak (Zatwierdzanie)")
    expect(page.locator("html")).to_have_attribute("lang", "pl")
    page.close()


def test_single_editor_on_loopback_sees_the_note_on_every_page(
    browser, project: Path, project_env: dict[str, str], example_issue: Path
) -> None:
    server = DeskServer(project, project_env, loopback=True).start()
    page = _page(browser)
    try:
        for path in ("/", f"/issues/{SLUG}/", f"/issues/{SLUG}/edition/poland.de", f"/issues/{SLUG}/outbox"):
            page.goto(server.url + path)
            expect(page.locator("#single-editor")).to_contain_text(
                "Ohne Anmeldung: Dieser Schreibtisch läuft nur"
            )
        page.goto(server.url + "/")
        page.screenshot(path=str(SCREENSHOTS / "desk-home-single-editor-1280px.png"), full_page=True)
    finally:
        page.close()
        server.stop()


def test_focus_is_visible_on_every_control(browser, desk: DeskServer) -> None:
    page = _page(browser)
    _sign_in_by_keyboard(page, desk, "Clara Nowak")
    seen = set()
    for _ in range(30):
        page.keyboard.press("Tab")
        name = page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()")
        if page.evaluate("document.activeElement === document.body"):
            break  # past the last control
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", name
        seen.add(name)
    assert {"slug", "from", "create-issue", "sign-out"} <= seen
    page.close()
