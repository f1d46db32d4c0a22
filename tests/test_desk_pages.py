"""The desk's editing pages over HTTP (issue 12, step 12C): what a posted form writes, what it
refuses, and that the live preview writes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from desk_rig import DeskServer, form_token
from preview_rig import with_members

from newsletter.content import writer
from newsletter.content.forms import article_fields
from newsletter.store.db import engine_for
from newsletter.store.edits import last_edit

SLUG = "2022-03-laenderfokus"
ARTICLE = f"/issues/{SLUG}/articles/netzwerk/de"
HARD_TITLE = "Treffen: „Zukunft“ in Łódź – ą ę ł ń ó ś ź ż\t*+49 371 123"


@pytest.fixture
def desk(project: Path, project_env: dict[str, str], example_issue: Path) -> Iterator[DeskServer]:
    with_members(project)
    server = DeskServer(project, project_env).start()
    yield server
    server.stop()


def _form(html: str) -> dict[str, str | list[str]]:
    """The article editor's fields as the browser would post them, untouched."""
    fields: dict[str, str | list[str]] = {}
    for name, value in re.findall(
        r'<input id="f-[^"]*" name="([^"]+)"(?: type="[a-z]+")? value="([^"]*)"', html
    ):
        import html as markup

        fields.setdefault(name, []).append(markup.unescape(value))  # type: ignore[union-attr]
    for name, value in re.findall(r'<textarea id="f-[^"]*" name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        import html as markup

        fields[name] = markup.unescape(value)
    fields["segments"] = re.findall(r'name="segments" value="([^"]+)" id="[^"]+" checked', html)
    fields["csrf"] = form_token(html)
    fields["version"] = re.search(r'name="version" id="version" value="([^"]+)"', html)[1]  # type: ignore[index]
    return {k: (v[0] if isinstance(v, list) and len(v) == 1 and k not in ("segments",) else v)
            for k, v in fields.items()}  # fmt: skip


def test_a_hard_title_round_trips_exactly_through_the_form(desk: DeskServer, example_issue: Path) -> None:
    with desk.client() as client:
        form = _form(client.get(ARTICLE).text)
        form["title"] = HARD_TITLE
        answer = client.post(ARTICLE, data=form)
        assert answer.status_code == 303, answer.text[-2000:]
        fields = article_fields(writer.open_article(example_issue, "netzwerk", "de"))
        assert fields.title == HARD_TITLE
        page = client.get(ARTICLE).text
        assert 'value="Treffen: „Zukunft“ in Łódź – ą ę ł ń ó ś ź ż\t*+49 371 123"' in page


def test_saving_an_untouched_form_changes_no_byte(desk: DeskServer, example_issue: Path) -> None:
    before = (example_issue / "articles" / "netzwerk.de.md").read_bytes()
    with desk.client() as client:
        answer = client.post(ARTICLE, data=_form(client.get(ARTICLE).text))
        assert answer.status_code == 303
    assert (example_issue / "articles" / "netzwerk.de.md").read_bytes() == before


def test_the_live_preview_renders_typed_text_and_writes_nothing(
    desk: DeskServer, example_issue: Path
) -> None:
    before = {p: p.read_bytes() for p in example_issue.rglob("*") if p.is_file()}
    article = f"/issues/{SLUG}/articles/schlesien/de"  # with a contact
    with desk.client() as client:
        form = _form(client.get(article).text)
        form["title"] = "Nur getippt, nie gespeichert"
        answer = client.post(article + "/render", data=form).json()
        assert answer["problems"] == [] and answer["edition"] == "poland.de"
        frame = client.get(answer["frame"])
        assert "Nur getippt, nie gespeichert" in frame.text
        assert frame.headers["content-security-policy"].startswith("default-src 'none'; script-src 'none'")
        form["contact_email"] = "keine-adresse"
        problems = client.post(article + "/render", data=form).json()["problems"]
        assert [p["field"] for p in problems] == ["contact_email"]
        assert re.match(r"issues/2022-03-laenderfokus/articles/schlesien\.de\.md:\d+: ", problems[0]["text"])
    assert {p: p.read_bytes() for p in example_issue.rglob("*") if p.is_file()} == before


def test_a_form_mistake_in_the_article_editor_keeps_what_was_typed(
    desk: DeskServer, example_issue: Path
) -> None:
    before = (example_issue / "articles" / "netzwerk.de.md").read_bytes()
    with desk.client() as client:
        form = _form(client.get(ARTICLE).text)
        form.update(title="Ein neuer Titel, getippt", body="Ein getippter Absatz.\n",
                    event_title="Sommerfest", event_date="", event_start="")  # fmt: skip
        answer = client.post(ARTICLE, data=form)
    assert answer.status_code == 400
    assert 'value="Ein neuer Titel, getippt"' in answer.text and "Ein getippter Absatz." in answer.text
    assert 'id="err-event_date"' in answer.text
    assert (example_issue / "articles" / "netzwerk.de.md").read_bytes() == before


def test_every_form_of_the_pages_refuses_a_post_without_its_token(
    desk: DeskServer, example_issue: Path
) -> None:
    before = {p: p.read_bytes() for p in example_issue.rglob("*") if p.is_file()}
    with desk.client() as client:
        form = _form(client.get(ARTICLE).text)
        form["csrf"] = "0" * 64
        form["title"] = "Gefälscht"
        for path in (ARTICLE, ARTICLE + "/translate", f"/issues/{SLUG}/edit", f"/issues/{SLUG}/articles/order",
                     f"/issues/{SLUG}/articles/add", f"/issues/{SLUG}/articles/remove", f"/issues/{SLUG}/import",
                     f"/issues/{SLUG}/schedule", f"/issues/{SLUG}/schedule/cancel"):  # fmt: skip
            assert client.post(path, data=form).status_code == 403, path
        assert client.post(ARTICLE + "/render", data=form).status_code == 403
    assert {p: p.read_bytes() for p in example_issue.rglob("*") if p.is_file()} == before


def test_a_save_names_the_single_editor_nowhere_and_a_signed_in_user_in_record_edit(
    desk: DeskServer, project_env: dict[str, str]
) -> None:
    with desk.client() as client:
        form = _form(client.get(ARTICLE).text)
        form["kicker"] = "Aus dem Netzwerk!"
        assert client.post(ARTICLE, data=form).status_code == 303
    assert last_edit(engine_for(project_env["NEWSLETTER_DATABASE"]), SLUG) is None  # no name to record


def test_an_article_name_that_reaches_outside_finds_nothing(desk: DeskServer, project: Path) -> None:
    with desk.client() as client:
        for path in ("/issues/../articles/x/de", f"/issues/{SLUG}/articles/..%2fx/de",
                     f"/issues/{SLUG}/articles/netzwerk/xx", "/issues/nope/edit"):  # fmt: skip
            assert client.get(path).status_code == 404, path
        token = form_token(client.get(f"/issues/{SLUG}/edit").text)
        version = writer.open_issue(project / "issues" / SLUG).version
        answer = client.post(f"/issues/{SLUG}/articles/order", headers={"Accept": "application/json"},
                             data={"csrf": token, "version": version, "order": ["../x", "netzwerk"]})  # fmt: skip
        assert (
            answer.status_code == 400
            and "must name each article of the issue once" in answer.json()["message"]
        )
    assert not (project / "x.de.md").exists() and not (project / "issues" / "x.de.md").exists()


def test_the_schedule_picker_answers_with_three_clocks_or_the_refusal(desk: DeskServer) -> None:
    with httpx.Client(base_url=desk.url) as client:
        times = client.get(
            f"/issues/{SLUG}/schedule", params={"segment": "usa", "at": "2027-07-01T09:00"}
        ).json()
        assert times == {"local": "2027-07-01 09:00 EDT America/New_York",
                         "berlin": "2027-07-01 15:00 CEST Europe/Berlin", "utc": "01.07.2027 13:00 UTC"}  # fmt: skip
        autumn = client.get(
            f"/issues/{SLUG}/schedule", params={"segment": "all", "at": "2027-10-31T02:30"}
        ).json()
        assert autumn["error"].startswith(
            "2027-10-31 02:30 is ambiguous in Europe/Berlin (the clocks go back that night): it is either"
        )


def test_the_issue_page_edits_issue_md_and_each_issue_lang_md_and_an_untouched_save_changes_no_byte(
    desk: DeskServer, example_issue: Path
) -> None:
    files = ("issue.md", "issue.en.md", "issue.pl.md")
    before = {name: (example_issue / name).read_bytes() for name in files}
    with desk.client() as client:
        page = client.get(f"/issues/{SLUG}/edit").text
        assert "issue.en.md" in page and 'name="tr_en_subject"' in page
        form = _issue_form(page)
        assert client.post(f"/issues/{SLUG}/edit", data=form).status_code == 303
        assert {name: (example_issue / name).read_bytes() for name in files} == before
        form = _issue_form(client.get(f"/issues/{SLUG}/edit").text)
        form["tr_pl_subject"] = "Temat: „nowy” – ąęłńóśźż"
        assert client.post(f"/issues/{SLUG}/edit", data=form).status_code == 303
    polish = (example_issue / "issue.pl.md").read_text(encoding="utf-8")
    assert 'subject: "Temat: „nowy” – ąęłńóśźż"' in polish
    assert (example_issue / "issue.md").read_bytes() == before["issue.md"]


def test_keeping_my_version_after_a_conflict_in_issue_lang_md_saves(
    desk: DeskServer, example_issue: Path
) -> None:
    polish = example_issue / "issue.pl.md"
    with desk.client() as client:
        form = _issue_form(client.get(f"/issues/{SLUG}/edit").text)
        polish.write_text(polish.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # someone else
        form["tr_pl_subject"] = "Temat: mój"
        conflict = client.post(f"/issues/{SLUG}/edit", data=form)
        assert conflict.status_code == 409 and 'id="conflict"' in conflict.text
        kept = _issue_form(conflict.text)  # the typed form as the conflict page keeps it
        assert kept["tr_pl_subject"] == "Temat: mój"
        answer = client.post(f"/issues/{SLUG}/edit", data=kept)  # "keep my version"
        assert answer.status_code == 303, answer.text[-2000:]
    assert 'subject: "Temat: mój"' in polish.read_text(encoding="utf-8")


def test_a_form_mistake_on_the_issue_page_keeps_what_was_typed(desk: DeskServer, example_issue: Path) -> None:
    before = (example_issue / "issue.md").read_bytes()
    with desk.client() as client:
        form = _issue_form(client.get(f"/issues/{SLUG}/edit").text)
        form.update(number="6.", title_de="Ein getippter Titel")
        answer = client.post(f"/issues/{SLUG}/edit", data=form)
    assert answer.status_code == 400
    assert 'value="Ein getippter Titel"' in answer.text and 'value="6."' in answer.text
    assert "is not a whole number" in answer.text
    assert (example_issue / "issue.md").read_bytes() == before


def test_a_loose_file_changed_on_disk_after_the_page_loaded_is_not_deleted(
    desk: DeskServer, example_issue: Path
) -> None:
    writer.remove_article(example_issue, "tada", version=writer.open_issue(example_issue).version)
    german = example_issue / "articles" / "tada.de.md"
    with desk.client() as client:
        page = client.get(f"/issues/{SLUG}/edit").text
        hidden = dict(re.findall(r'<input type="hidden" name="(v_[a-z]+)" value="([^"]+)">', page))
        assert set(hidden) >= {"v_de", "v_en"}
        german.write_text(german.read_text(encoding="utf-8") + "\nNoch ein Satz.\n", encoding="utf-8")
        answer = client.post(f"/issues/{SLUG}/articles/delete-files",
                             data={"csrf": form_token(page), "name": "tada", "confirm": "yes", **hidden})  # fmt: skip
        assert answer.status_code == 303
        after = client.get(f"/issues/{SLUG}/edit").text
    assert german.is_file() and "Noch ein Satz." in german.read_text(encoding="utf-8")
    assert "articles/tada.de.md was changed on disk" in after


def test_a_mistake_in_newsletter_toml_shows_a_red_box_and_the_pages_keep_working(
    desk: DeskServer, project: Path
) -> None:
    toml = project / "newsletter.toml"
    good = toml.read_text(encoding="utf-8")
    with desk.client() as client:
        assert client.get("/").status_code == 200
        toml.write_text(good + "\n[desk\nbroken = \n", encoding="utf-8")
        for path in ("/", f"/issues/{SLUG}/edit", ARTICLE):
            page = client.get(path)
            assert page.status_code == 200, path
            box = re.search(r'<section class="alert error" id="config-errors".*?</section>', page.text, re.S)
            assert box and "newsletter.toml" in box[0], path
        toml.write_text(good, encoding="utf-8")
        assert 'id="config-errors"' not in client.get("/").text


def test_the_issue_pages_check_and_approval_hash_run_off_the_event_loop(
    desk: DeskServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    real, threads = desk.desk.board.row, []

    def row(*args: object, **kwargs: object) -> object:
        threads.append(threading.current_thread())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(desk.desk.board, "row", row)
    with desk.client() as client:
        page = client.get(f"/issues/{SLUG}/edit")
    assert page.status_code == 200 and 'id="approve"' in page.text
    assert threads and desk.thread not in threads  # the server's event loop runs in desk.thread


def _issue_form(html: str) -> dict[str, str]:
    import html as markup

    form = {name: markup.unescape(value) for name, value in re.findall(
        r'<input (?:id="[^"]*" )?name="([^"]+)"[^>]*? value="([^"]*)"', html)}  # fmt: skip
    form.update({name: markup.unescape(value) for name, value in re.findall(
        r'<textarea id="f-intro[^"]*" name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S)})  # fmt: skip
    form.update(re.findall(r'<input type="hidden" name="(tr_[a-z]+_version)" value="([^"]+)">', html))
    form["csrf"] = form_token(html)
    form["version"] = re.search(r'name="version" value="([^"]+)" data-file="issue.md"', html)[1]  # type: ignore[index]
    form.pop("order", None)
    form.pop("name", None)
    return form


def test_each_problem_of_the_check_links_to_its_field(desk: DeskServer, example_issue: Path) -> None:
    article = example_issue / "articles" / "schlesien.de.md"
    article.write_text(
        article.read_text(encoding="utf-8").replace("vogel@amz-sachsen.example", "keine-adresse", 1),
        encoding="utf-8",
    )
    with desk.client() as client:
        page = client.get(f"/issues/{SLUG}/edit?check=1").text
    links = dict(re.findall(r'<li class="error"><a href="([^"]+)">([^<]+)</a>', page))
    assert f"/issues/{SLUG}/articles/schlesien/de#f-contact_email-0" in links, links
    assert re.match(r"issues/2022-03-laenderfokus/articles/schlesien\.de\.md:\d+: ",
                    links[f"/issues/{SLUG}/articles/schlesien/de#f-contact_email-0"])  # fmt: skip
