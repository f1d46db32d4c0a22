"""The desk's pages in real Chromium (issue 12, step 12C): a new issue with two articles made
entirely in the browser and equal to the golden files; the live preview of unsaved text within
2 s; reordering by drag and by keyboard; a file changed on disk while open and a stale save; a
proof personalised as the member picked; four eyes on the issue page; the schedule's refusals;
containment of uploads and article names; screenshots at 1280 and 768 px."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import smtp_sink as rig
from delivery_rig import sink_env, states
from desk_rig import PASSWORDS, DeskServer, people
from docx_rig import png
from preview_rig import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, with_members

from newsletter.config import load_config
from newsletter.preflight import check_issue

smtp_sink_factory = rig.smtp_sink_factory
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
pytestmark = pytest.mark.browser
SLUG = "2022-03-laenderfokus"
GOLDEN = Path(__file__).resolve().parent / "golden" / "desk" / "2022-06-desk"
OVERFLOW_JS = "() => [document.scrollingElement.scrollWidth, window.innerWidth]"
UNLABELLED_JS = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(el => !(el.id && document.querySelector(`label[for="${el.id}"]`)) && !el.getAttribute('aria-label'))
  .map(el => el.name || el.id)"""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (make test installs it)")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def single(project: Path, project_env: dict[str, str], example_issue: Path) -> Iterator[DeskServer]:
    """The single editor on 127.0.0.1, no users."""
    with_members(project)
    server = DeskServer(project, project_env).start()
    yield server
    server.stop()


def _page(browser, width: int = 1280):  # noqa: ANN001, ANN202
    page = browser.new_page(viewport={"width": width, "height": 900}, locale="de-DE")
    page.set_default_timeout(10000)
    return page


def _shots(page, name: str) -> None:  # noqa: ANN001
    for width in (1280, 768):
        page.set_viewport_size({"width": width, "height": 900})
        page.evaluate("window.scrollTo(0, 0)")  # the sticky header at the top of the picture
        page.screenshot(path=str(SCREENSHOTS / f"desk-{name}-{width}px.png"), full_page=True)
        assert page.evaluate(OVERFLOW_JS)[0] <= width, (name, width)
    page.set_viewport_size({"width": 1280, "height": 900})


def _save(page, button: str) -> None:  # noqa: ANN001
    page.click(button)
    expect(page.locator("#flash")).to_have_text("Gespeichert.")


def test_a_new_issue_with_two_articles_made_in_the_browser_equals_the_golden_files(
    browser, single: DeskServer, project: Path, project_env: dict[str, str]
) -> None:
    page = _page(browser)
    page.goto(single.url + "/")
    page.fill("#slug", "2022-06-desk")
    page.click("#create-issue")
    expect(page).to_have_url(single.url + "/issues/2022-06-desk/edit")
    page.fill("#f-title_de", "AMZ-Newsletter Juni 2022")
    page.fill("#f-date", "2022-06-15")
    page.fill("#f-number", "6")
    page.fill("#f-subject_de", "Juni 2022: Mitgliederversammlung und Clustertreffen in Kattowitz")
    expect(page.locator("#hint-subject_de")).to_have_text("64 von 70 Zeichen")  # live, as typed
    page.fill("#f-subject_pl", "Czerwiec 2022: spotkanie klastrów w Katowicach")
    page.fill("#f-preheader_de", "Termine, Köpfe, Kooperationen")
    page.fill("#f-intro", "Zwei Termine stehen an: lesen Sie selbst.")
    _save(page, "#save-issue")
    page.click('button[aria-label^="Aus der Ausgabe nehmen"]')  # the scaffold's stub article
    expect(page.locator("#flash")).to_contain_text("erster-artikel ist nicht mehr in der Ausgabe")
    page.click("#loose-files ~ ul button.danger")  # without the tick the browser does not send it
    assert page.locator("#confirm-1:invalid").count() == 1
    assert (project / "issues" / "2022-06-desk" / "articles" / "erster-artikel.de.md").is_file()
    page.check("#confirm-1")
    page.click("#loose-files ~ ul button.danger")
    expect(page.locator("#flash")).to_have_text("Gelöscht: articles/erster-artikel.de.md")

    page.fill("#new-name", "mitgliederversammlung")
    page.fill("#new-title", "Mitgliederversammlung 2022: Wir wählen")
    page.click("#add-article-button")
    expect(page).to_have_url(single.url + "/issues/2022-06-desk/articles/mitgliederversammlung/de")
    page.fill("#f-kicker", "Verein")
    page.fill("#f-teaser", "Am 7. Juli wählen die Mitglieder den Vorstand.")
    page.fill("#f-date", "2022-06-15")
    page.fill("#f-author", "Redaktion")
    page.fill("#f-body", "Die Einladung mit der Tagesordnung kommt per Post.")
    page.evaluate("""() => { const a = document.getElementById('f-body');
      const at = a.value.indexOf('per Post'); a.setSelectionRange(at, at + 8); }""")
    page.click('[data-md="bold"]')  # the toolbar marks the selection **bold**
    expect(page.locator("#f-body")).to_have_value("Die Einladung mit der Tagesordnung kommt **per Post**.")
    _save(page, "#save-article")

    page.goto(single.url + "/issues/2022-06-desk/edit")
    page.fill("#new-name", "kattowitz")
    page.fill("#new-title", "Clustertreffen in Kattowitz")
    page.click("#add-article-button")
    page.check("#seg-poland")
    page.fill("#f-kicker", "Polen-Fokus")
    page.fill("#f-teaser", "Sachsen trifft Schlesien: 10:30 Uhr geht es los.")
    page.set_input_files("#f-image_file", files=[{"name": "Karte Kattowitz.PNG", "mimeType": "image/png",
                                                   "buffer": png(8, 6, rgb=(0, 90, 160))}])  # fmt: skip
    page.fill("#f-image_alt", "Karte von Sachsen und Schlesien")
    page.fill("#f-image_caption", "Von Chemnitz nach Kattowitz")
    page.fill("#f-image_credit", "Grafik: AMZ")
    page.fill("#f-contact_name-0", "Anna Nowak")
    page.fill("#f-contact_email-0", "nowak@silesia-automotive.example")
    page.fill("#f-contact_phone-0", "+48 32 123 45 67")
    page.fill("#f-contact_role-0", "Clustermanagerin")
    page.fill("#f-event_title", "Clustertreffen Sachsen–Schlesien")
    page.fill("#f-event_date", "2022-06-30")
    page.fill("#f-event_start", "10:30")
    page.fill("#f-event_end", "16:00")
    page.select_option("#f-event_zone", "Europe/Warsaw")
    page.fill("#f-event_location", "Katowice, Rondo 1")
    page.fill("#f-body", "Anmeldung bis zum 20. Juni.")
    _save(page, "#save-article")
    expect(page.locator("#f-image")).to_have_value("images/karte-kattowitz-9cc59469.png")

    page.goto(single.url + "/issues/2022-06-desk/articles/kattowitz/pl")
    page.click("#create-translation")
    expect(page.locator("#source")).to_contain_text("Clustertreffen in Kattowitz")  # German on the left
    page.fill("#f-title", "Spotkanie klastrów w Katowicach")
    page.fill("#f-kicker", "Polska")
    page.fill("#f-teaser", "Saksonia spotyka Śląsk.")
    page.fill("#f-image_alt", "Mapa Saksonii i Śląska")
    page.fill("#f-image_caption", "Z Chemnitz do Katowic")
    page.fill("#f-contact_role-0", "Menedżerka klastra")
    page.fill("#f-event_title", "Spotkanie klastrów")
    page.fill("#f-event_location", "Katowice, Rondo 1")
    page.fill("#f-body", "Zgłoszenia do 20 czerwca.")
    _save(page, "#save-article")
    _shots(page, "translation")

    issue = project / "issues" / "2022-06-desk"
    config = load_config(project, project_env)
    assert [str(p) for p in check_issue(issue, config).problems if p.severity == "error"] == []
    written = sorted(p.relative_to(issue).as_posix() for p in issue.rglob("*") if p.is_file())
    assert written == ["articles/kattowitz.de.md", "articles/kattowitz.pl.md",
                       "articles/mitgliederversammlung.de.md", "images/karte-kattowitz-9cc59469.png",
                       "issue.md"]  # fmt: skip
    for name in (n for n in written if n.endswith(".md")):
        assert (issue / name).read_text(encoding="utf-8") == (GOLDEN / name).read_text(encoding="utf-8"), name

    page.goto(single.url + "/issues/2022-06-desk/edit")
    matrix = page.locator('#language-matrix tr[data-article="mitgliederversammlung"] td')
    expect(matrix).to_have_text(["✓ vorhanden", "fehlt – DE wird gezeigt", "fehlt – DE wird gezeigt"])
    expect(page.locator('#language-matrix tr[data-article="kattowitz"] td[data-lang="pl"]')).to_have_text(
        "✓ vorhanden"
    )
    expect(page.locator('.article-item[data-name="kattowitz"] .chip')).to_have_text(["Polen-Fokus"])
    expect(page.locator('.article-item[data-name="mitgliederversammlung"] .chip')).to_have_text(["für alle"])
    page.close()


def test_the_preview_beside_the_form_shows_what_is_typed_within_2_s(browser, single: DeskServer) -> None:
    page = _page(browser)
    page.goto(single.url + f"/issues/{SLUG}/articles/schlesien/de")
    frame = page.frame_locator("#draft")
    expect(frame.locator("body")).to_contain_text("Schlesien", timeout=10000)  # the first rendering
    before = (Path(single.desk.folders()[SLUG]) / "articles" / "schlesien.de.md").read_bytes()
    page.fill("#f-title", "Neuer Titel aus dem Browser 4711")
    expect(frame.locator("body")).to_contain_text("Neuer Titel aus dem Browser 4711", timeout=2000)
    assert (Path(single.desk.folders()[SLUG]) / "articles" / "schlesien.de.md").read_bytes() == before
    page.fill("#f-contact_email-0", "keine-adresse")  # a loader error on its field and as path:line
    expect(page.locator('[data-error-for="contact_email"]')).to_contain_text(
        re.compile(r"issues/2022-03-laenderfokus/articles/schlesien\.de\.md:\d+: ")
    )
    page.select_option("#member", index=1)  # a real member of the list
    chosen = page.locator("#member option").nth(1).inner_text()
    expect(page.locator("#preview-state")).to_have_text(re.compile(r"\.de$"))
    assert chosen
    page.click('[data-width="phone"]')
    expect(page.locator("#draft-box")).to_have_class("draft-frame phone")
    page.fill("#f-contact_email-0", "k.nowak@silesia-automotive.example")
    expect(page.locator('[data-error-for="contact_email"]')).to_be_empty()
    surname = chosen.split()[1]
    expect(frame.locator("body")).to_contain_text(surname)  # the salutation of the member picked
    assert page.evaluate(UNLABELLED_JS) == []
    _shots(page, "article")
    page.close()


def _order(issue: Path) -> list[str]:
    text = (issue / "issue.md").read_text(encoding="utf-8")
    return re.findall(r"^  - (\S+)$", text, flags=re.M)


def test_reorder_by_drag_and_by_keyboard_changes_issue_md_and_keeps_its_comment(
    browser, single: DeskServer, example_issue: Path
) -> None:
    issue_md = example_issue / "issue.md"
    issue_md.write_text(issue_md.read_text(encoding="utf-8").replace(
        "articles:", "# Reihenfolge: das Wichtigste zuerst\narticles:", 1), encoding="utf-8")  # fmt: skip
    first = _order(example_issue)
    page = _page(browser)
    page.goto(single.url + f"/issues/{SLUG}/edit")
    items = page.locator("#article-list > li")
    items.nth(3).drag_to(items.nth(0), target_position={"x": 20, "y": 5})
    expect(page.locator("#order-status")).to_contain_text("1 / 4")
    assert _order(example_issue) == [first[3], *first[:3]]
    items.nth(0).focus()  # the dragged one is first now; move it down again by keyboard
    page.keyboard.press("Alt+ArrowDown")
    expect(page.locator("#order-status")).to_contain_text("2 / 4. Reihenfolge gespeichert.")
    assert _order(example_issue) == [first[0], first[3], first[1], first[2]]
    page.click(f'button[value="{first[0]}:down"]')  # the buttons work without the script too
    expect(page.locator("#flash")).to_have_text("Reihenfolge gespeichert.")
    assert _order(example_issue) == [first[3], first[0], first[1], first[2]]
    assert "# Reihenfolge: das Wichtigste zuerst" in issue_md.read_text(encoding="utf-8")
    page.fill("#f-subject_de", "x" * 71)
    expect(page.locator("#hint-subject_de")).to_contain_text("71 Zeichen – länger als 70")
    page.reload()
    page.click("#run-check")
    expect(page.locator("#preflight")).to_be_visible()
    assert page.evaluate(UNLABELLED_JS) == []
    _shots(page, "issue")
    page.close()


def test_a_file_edited_on_disk_shows_a_notice_and_a_stale_save_is_refused_with_both_versions(
    browser, single: DeskServer, example_issue: Path
) -> None:
    article = example_issue / "articles" / "netzwerk.de.md"
    page = _page(browser)
    page.goto(single.url + f"/issues/{SLUG}/articles/netzwerk/de")
    expect(page.frame_locator("#draft").locator("body")).not_to_be_empty()
    page.fill("#f-title", "Mein neuer Titel")
    article.write_text(article.read_text(encoding="utf-8") + "\nVon Hand ergänzt.\n", encoding="utf-8")
    expect(page.locator("#disk-notice")).to_be_visible()
    expect(page.locator("#disk-now")).to_have_value(re.compile("Von Hand ergänzt."))
    expect(page.locator("#f-title")).to_have_value("Mein neuer Titel")  # what was typed stays
    page.click("#save-article")
    expect(page.locator("#conflict")).to_contain_text(
        "was changed on disk after it was opened; nothing was saved"
    )
    expect(page.locator("#disk-text")).to_have_value(re.compile("Von Hand ergänzt."))
    expect(page.locator("#f-title")).to_have_value("Mein neuer Titel")
    assert "Mein neuer Titel" not in article.read_text(encoding="utf-8")
    expect(page.frame_locator("#draft").locator("body")).to_contain_text("Mein neuer Titel")
    _shots(page, "conflict")
    page.click("#keep-mine")
    expect(page.locator("#flash")).to_have_text("Gespeichert.")
    assert "title: Mein neuer Titel" in article.read_text(encoding="utf-8")
    page.close()


def test_a_proof_from_the_desk_greets_the_member_picked_and_writes_no_ledger_row(
    browser, project: Path, project_env: dict[str, str], example_issue: Path, smtp_sink_factory
) -> None:
    with_members(project)
    sink = smtp_sink_factory()
    env = sink_env(project_env, sink)
    server = DeskServer(project, env).start()
    try:
        page = _page(browser)
        page.goto(server.url + f"/issues/{SLUG}/edit")
        page.click('#editions a[href$="/edition/poland.pl#proof"]')
        page.wait_for_load_state("load")  # the page's script sends "Shown to" when it changes
        piotr = page.locator("#member option", has_text="Piotr Nowak").get_attribute("value")
        page.select_option("#member", piotr)  # "Shown to" reloads the page as Piotr
        expect(page.locator("#proof-as")).to_contain_text("Piotr Nowak")
        page.fill("#addresses", "kollegin@example.org")
        page.click("#send-proof")
        expect(page.locator("#proof-result")).to_contain_text(
            "Proof sent to kollegin@example.org as Piotr Nowak"
        )
        (received,) = sink.messages
        message = received.message()
        assert message["Subject"].startswith("[TEST] ")
        text = message.get_body(preferencelist=("plain",)).get_content()
        assert "Szanowny Panie" in text and "Erika" not in text
        assert states(load_config(project, env)) == {}
        page.close()
    finally:
        server.stop()


def test_four_eyes_on_the_issue_page_and_an_edit_after_approval_voids_it(
    browser, project: Path, project_env: dict[str, str], example_issue: Path
) -> None:
    people(project_env, ("Anna Schmidt", "approver"), ("Clara Nowak", "approver"))
    server = DeskServer(project, project_env, loopback=False).start()
    try:
        anna = _page(browser)
        _sign_in(anna, server, "Anna Schmidt", f"/issues/{SLUG}/articles/netzwerk/de")
        anna.fill("#f-kicker", "Netzwerk")
        _save(anna, "#save-article")  # record_edit: Anna saved last
        anna.goto(server.url + f"/issues/{SLUG}/edit")
        anna.click("#approve")
        expect(anna.locator("#flash")).to_have_text(
            "Sie haben diese Ausgabe zuletzt bearbeitet; eine andere Person mit Freigaberecht muss sie freigeben."
        )
        clara = _page(browser)
        _sign_in(clara, server, "Clara Nowak", f"/issues/{SLUG}/edit")
        clara.click("#approve")
        expect(clara.locator("#flash")).to_contain_text("Freigegeben von Clara Nowak")
        expect(clara.locator('#issue-states [data-state="approved"]')).to_be_visible()
        anna.goto(server.url + f"/issues/{SLUG}/articles/netzwerk/de")
        anna.fill("#f-kicker", "Netzwerk & Partner")
        _save(anna, "#save-article")
        clara.goto(server.url + f"/issues/{SLUG}/edit")
        expect(clara.locator('#issue-states [data-state="void"]')).to_contain_text("Freigabe ungültig")
        anna.close()
        clara.close()
    finally:
        server.stop()


def _sign_in(page, server: DeskServer, name: str, then: str) -> None:  # noqa: ANN001
    page.goto(server.url + then)
    page.fill("#name", name)
    page.fill("#password", PASSWORDS[name])
    page.keyboard.press("Enter")
    expect(page).to_have_url(server.url + then)


def test_the_schedule_page_shows_three_clocks_and_the_commands_refusals(browser, single: DeskServer) -> None:
    page = _page(browser)
    page.goto(single.url + f"/issues/{SLUG}/schedule")
    page.select_option("#segment", "poland")
    page.fill("#at", "2027-03-01T09:00")
    expect(page.locator("#time-local")).to_have_text("2027-03-01 09:00 CET Europe/Warsaw")
    expect(page.locator("#time-berlin")).to_have_text("2027-03-01 09:00 CET Europe/Berlin")
    expect(page.locator("#time-utc")).to_have_text("01.03.2027 08:00 UTC")
    page.select_option("#segment", "usa")
    expect(page.locator("#time-utc")).to_have_text("01.03.2027 14:00 UTC")
    page.fill("#at", "2027-03-28T02:30")  # the spring night in Warsaw: 02:30 never happens
    page.select_option("#segment", "poland")
    expect(page.locator("#time-error")).to_contain_text("does not exist in Europe/Warsaw")
    page.click("#schedule-button")
    expect(page.locator("#at-error")).to_contain_text("does not exist in Europe/Warsaw")
    page.fill("#at", "2020-01-01T09:00")
    page.click("#schedule-button")
    expect(page.locator("#at-error")).to_contain_text("is in the past")
    page.fill("#at", "2027-03-01T09:00")
    page.click("#schedule-button")
    expect(page.locator("#flash")).to_have_text("Geplant.")
    expect(page.locator("#schedules tbody tr")).to_have_count(1)
    page.select_option("#segment", "poland")
    page.fill("#at", "2027-03-01T09:00")
    page.click("#schedule-button")
    expect(page.locator("#at-error")).to_be_visible()  # the same segment twice: refused as the command does
    expect(page.locator("#schedules tbody tr")).to_have_count(1)
    expect(page.locator("#time-utc")).to_have_text("01.03.2027 08:00 UTC")
    _shots(page, "schedule")
    page.click("#schedules button.danger")
    expect(page.locator("#flash")).to_have_text("Abgesagt.")
    expect(page.locator("#schedules tbody tr td").nth(4)).to_have_text("cancelled")
    page.close()


def test_an_upload_named_dot_dot_env_and_an_article_named_dot_dot_x_write_nothing_outside(
    browser, single: DeskServer, project: Path, example_issue: Path
) -> None:
    before = sorted(
        p.relative_to(project).as_posix() for p in project.rglob("*") if "issues/" not in p.as_posix()
    )
    page = _page(browser)
    page.goto(single.url + f"/issues/{SLUG}/edit")
    page.fill("#new-name", "../x")
    page.click("#add-article-button")
    expect(page.locator("#flash")).to_contain_text("article name '../x' must be a file stem")
    page.goto(single.url + f"/issues/{SLUG}/articles/netzwerk/de")
    page.set_input_files("#f-image_file", files=[{"name": "../../.env", "mimeType": "image/png",
                                                   "buffer": png(4, 3)}])  # fmt: skip
    _save(page, "#save-article")
    stored = page.locator("#f-image").input_value()
    assert re.fullmatch(r"images/env-[0-9a-f]{8}\.png", stored), stored
    assert (example_issue / stored).is_file()
    after = sorted(
        p.relative_to(project).as_posix() for p in project.rglob("*") if "issues/" not in p.as_posix()
    )
    assert [p for p in after if p not in before and not p.startswith(("state.db", "outbox"))] == []
    assert not (project / ".env").exists() and not (project / "issues" / "x.de.md").exists()
    page.goto(single.url + f"/issues/{SLUG}/articles/..%2f..%2fx/de")
    assert "Not found." in page.content()
    shutil.rmtree(example_issue / "images", ignore_errors=True)
    page.close()


def test_a_word_file_uploaded_on_the_issue_page_becomes_an_article_and_lists_what_was_left_out(
    browser, single: DeskServer, example_issue: Path
) -> None:
    import docx
    from docx_rig import add_linked_picture, save

    document = docx.Document()
    document.add_heading("Einladung zum Sommerfest", level=1)
    paragraph = document.add_paragraph("Wir feiern am ")
    paragraph.add_run("3. Juli").bold = True
    add_linked_picture(document, "https://tracker.example/pixel.png?id=42")
    page = _page(browser)
    page.goto(single.url + f"/issues/{SLUG}/edit")
    page.set_input_files("#docx", files=[{"name": "Sommerfest.docx", "buffer": save(document),
        "mimeType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}])  # fmt: skip
    page.click("#import-word")
    expect(page.locator("#import-result")).to_contain_text("Übernommen als Artikel einladung-zum-sommerfest.")
    expect(page.locator("#import-findings")).to_contain_text(
        "left out: a picture linked from https://tracker.example/pixel.png?id=42 (not inside the file)"
    )
    text = (example_issue / "articles" / "einladung-zum-sommerfest.de.md").read_text(encoding="utf-8")
    assert "Wir feiern am **3. Juli**" in text and "tracker.example" not in text
    expect(page.locator('.article-item[data-name="einladung-zum-sommerfest"]')).to_be_visible()
    page.close()
