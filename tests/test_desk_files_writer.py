"""Files stay the truth: what the desk's saves write into issue.md and the article files."""

from __future__ import annotations

import dataclasses
import os
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from newsletter.config import Config
from newsletter.content import load_issue, writer
from newsletter.content.document import ABSENT, StaleFile, WriteError
from newsletter.content.forms import ArticleFields, article_fields, issue_fields
from newsletter.content.scaffold import create_issue
from newsletter.model import Contact, Event

HARD_TITLE = "Sachsen: „Zukunft“ für ą ę ł ń ó ś ź ż\t*Gäste* +49 371 123456"


@pytest.fixture
def issue(config: Config) -> Path:
    """A new issue as `newsletter new` starts it (issue.md has a comment line)."""
    return create_issue(config, "2022-05-desk").path


def _article(issue: Path, config: Config, name: str) -> object:
    loaded = load_issue(issue, config)
    return next(v for v in loaded.articles if v.name == name).by_language[config.default_language]


def test_a_hard_title_round_trips_exactly_in_the_issue_and_an_article(issue: Path, config: Config) -> None:
    doc = writer.open_issue(issue)
    writer.save_issue(issue, dataclasses.replace(issue_fields(doc), title=HARD_TITLE), version=doc.version)
    art = writer.open_article(issue, "erster-artikel", "de")
    fields = dataclasses.replace(article_fields(art), title=HARD_TITLE, kicker=HARD_TITLE)
    writer.save_article(issue, "erster-artikel", "de", fields, version=art.version)
    loaded = load_issue(issue, config)
    assert loaded.title == {"*": HARD_TITLE}
    article = _article(issue, config, "erster-artikel")
    assert (article.title, article.kicker) == (HARD_TITLE, HARD_TITLE)
    assert (
        'title: "Sachsen: „Zukunft“ für ą ę ł ń ó ś ź ż\\t*Gäste* +49 371 123456"'
        in (issue / "issue.md").read_text()
    )


MISREAD = [": ", "a: b", "*stern", "&anker", "@mention", "!tag", "%p", "`code`", "|pipe", ">gt", "#hash",
           '"quoted"', "'single'", "yes", "No", "on", "OFF", "true", "False", "null", "~", "+49 371 123456",
           "10:30", "2022-03-24", "2022-03-24 10:30", "1.5", "42", "0o17", "1e3", " leading", "trailing ",
           "tab\there", "ends with colon:", "a #comment", "- dash", "? query", "[list]", "{map}"]  # fmt: skip


@pytest.mark.parametrize("text", MISREAD)
def test_a_value_yaml_would_misread_is_written_so_the_loader_reads_the_text(
    issue: Path, config: Config, text: str
) -> None:
    art = writer.open_article(issue, "erster-artikel", "de")
    fields = dataclasses.replace(article_fields(art), kicker=text, author=text,
                                 contacts=(Contact(name="Jan Nowak", email="jan@example.pl", phone=text),))  # fmt: skip
    written = writer.save_article(issue, "erster-artikel", "de", fields, version=art.version).text
    front = yaml.safe_load(written.split("---\n")[1])  # the YAML 1.1 reader of the loader
    assert (front["kicker"], front["author"], front["contacts"][0]["phone"]) == (text, text, text)
    article = _article(issue, config, "erster-artikel")
    shown = text.strip()  # the loader trims every text; the file keeps what was typed
    assert (article.kicker, article.author, article.contacts[0].phone) == (shown, shown, shown)


def test_a_plain_text_stays_unquoted(issue: Path) -> None:
    art = writer.open_article(issue, "erster-artikel", "de")
    fields = dataclasses.replace(article_fields(art), kicker="Polen-Fokus", segments=("poland",))
    written = writer.save_article(issue, "erster-artikel", "de", fields, version=art.version).text
    assert "kicker: Polen-Fokus\n" in written and "segments: [poland]\n" in written


def test_a_comment_in_issue_md_survives_every_save(issue: Path, config: Config) -> None:
    path = issue / "issue.md"
    path.write_text(path.read_text().replace("date:", "# Redaktion: Frau Muster\ndate:"), encoding="utf-8")
    comments = [line for line in path.read_text().split("\n") if line.startswith("#")]
    assert len(comments) == 2
    doc = writer.open_issue(issue)
    doc = writer.save_issue(
        issue, dataclasses.replace(issue_fields(doc), title="Neu", number=7), version=doc.version
    )
    doc = writer.add_article(issue, "zweiter", ArticleFields(title="Zwei"), lang="de", version=doc.version,
                             config=config).issue  # fmt: skip
    doc = writer.reorder_articles(issue, ["zweiter", "erster-artikel"], version=doc.version)
    doc = writer.remove_article(issue, "zweiter", version=doc.version)
    doc = writer.save_issue(issue, dataclasses.replace(issue_fields(doc), subject={"de": "Betreff", "pl": "Temat"}),
                            version=doc.version)  # fmt: skip
    assert [line for line in path.read_text().split("\n") if line.startswith("#")] == comments
    assert load_issue(issue, config).subject["pl"] == "Temat"


def test_an_untouched_key_keeps_its_quoting_and_place(issue: Path) -> None:
    before = (issue / "issue.md").read_text().split("\n")
    doc = writer.open_issue(issue)
    writer.save_issue(
        issue, dataclasses.replace(issue_fields(doc), title="Andere Ausgabe"), version=doc.version
    )
    after = (issue / "issue.md").read_text().split("\n")
    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert changed == [(before[1], 'title: "Andere Ausgabe"')]  # an edited value keeps its quotes


def test_reordering_changes_the_order_in_issue_md(example_issue: Path, config: Config) -> None:
    doc = writer.open_issue(example_issue)
    writer.reorder_articles(
        example_issue, ["tada", "netzwerk", "delegation", "schlesien"], version=doc.version
    )
    assert (
        "articles:\n  - tada\n  - netzwerk\n  - delegation\n  - schlesien\n"
        in (example_issue / "issue.md").read_text()
    )
    assert load_issue(example_issue, config).articles[0].name == "tada"
    with pytest.raises(WriteError, match="each article of the issue once"):
        writer.reorder_articles(
            example_issue, ["tada", "tada"], version=writer.open_issue(example_issue).version
        )


def test_a_file_changed_on_disk_is_never_overwritten(example_issue: Path) -> None:
    doc = writer.open_issue(example_issue)
    path = example_issue / "issue.md"
    theirs = path.read_text().replace("number: 3", "number: 4")
    path.write_text(theirs, encoding="utf-8")
    with pytest.raises(StaleFile) as refused:
        writer.save_issue(
            example_issue, dataclasses.replace(issue_fields(doc), title="Meins"), version=doc.version
        )
    assert path.read_text() == theirs
    assert refused.value.current_text == theirs
    assert refused.value.current_version == writer.open_issue(example_issue).version
    assert "issue.md was changed on disk after it was opened; nothing was saved" in str(refused.value)
    current = writer.open_issue(example_issue)  # the editor takes their change over onto the new file
    again = writer.save_issue(example_issue, dataclasses.replace(issue_fields(current), title="Meins"),
                              version=refused.value.current_version)  # fmt: skip
    assert "number: 4" in again.text and 'title: "Meins"' in again.text


def test_a_new_file_is_not_created_over_one_that_appeared(issue: Path) -> None:
    (issue / "articles" / "neu.de.md").write_text("---\ntitle: Schon da\n---\n", encoding="utf-8")
    with pytest.raises(StaleFile):
        writer.save_article(issue, "neu", "de", ArticleFields(title="Meins"), version=ABSENT)
    assert (issue / "articles" / "neu.de.md").read_text() == "---\ntitle: Schon da\n---\n"


@pytest.mark.parametrize("name", ["../x", "../../x", "/tmp/x", "a/b", "x\x00y", "a\\b", ".hidden", "-x", ""])
def test_an_article_name_never_writes_outside_the_issue(issue: Path, config: Config, name: str) -> None:
    before = sorted(p for p in issue.parent.parent.rglob("*"))
    version = writer.open_issue(issue).version
    with pytest.raises(WriteError, match="must be a file stem"):
        writer.add_article(issue, name, ArticleFields(title="x"), lang="de", version=version, config=config)
    with pytest.raises(WriteError):
        writer.save_article(issue, name, "de", ArticleFields(title="x"), version=ABSENT)
    assert sorted(p for p in issue.parent.parent.rglob("*")) == before


def test_a_linked_articles_folder_is_refused_not_followed(issue: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    for file in (issue / "articles").iterdir():
        file.unlink()
    (issue / "articles").rmdir()
    (issue / "articles").symlink_to(outside)
    with pytest.raises(WriteError, match="symbolic link"):
        writer.save_article(issue, "x", "de", ArticleFields(title="x"), version=ABSENT)
    assert list(outside.iterdir()) == []


def test_a_save_is_atomic_and_leaves_no_temporary_file(issue: Path) -> None:
    art = writer.open_article(issue, "erster-artikel", "de")
    writer.save_article(issue, "erster-artikel", "de", dataclasses.replace(article_fields(art), teaser="Kurz"),
                        version=art.version)  # fmt: skip
    assert sorted(os.listdir(issue / "articles")) == ["erster-artikel.de.md"]


def test_an_article_with_every_field(issue: Path, config: Config) -> None:
    zone = ZoneInfo("Europe/Warsaw")
    fields = ArticleFields(
        title="Treffen in Kattowitz", segments=("poland",), kicker="Polen-Fokus", teaser="Kurz.",
        date=date(2022, 5, 2), author="Redaktion", image="images/x.png", image_alt="Karte",
        image_caption="Die Karte", image_credit="Grafik: AMZ",
        contacts=(Contact("Anna Nowak", "nowak@example.pl", "+48 32 123 45 67", "Clustermanagerin"),
                  Contact("Dirk Vogel", "vogel@example.org")),
        event=Event("Clustertreffen", datetime(2022, 5, 30, 9, 0, tzinfo=zone), datetime(2022, 5, 30, 17, 0, tzinfo=zone),
                    "Katowice"),
        body="Text.\n",
    )  # fmt: skip
    (issue / "images").mkdir(exist_ok=True)
    (issue / "images" / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    doc = writer.add_article(issue, "kattowitz", fields, lang="de", version=writer.open_issue(issue).version,
                             config=config).article  # fmt: skip
    assert article_fields(doc) == fields
    article = _article(issue, config, "kattowitz")
    assert article.event.start == datetime(2022, 5, 30, 9, 0, tzinfo=zone)
    assert article.contacts[0].phone == "+48 32 123 45 67"
    assert "  start: 2022-05-30T09:00 Europe/Warsaw\n" in doc.text


def test_removing_keeps_the_files_until_they_are_deleted(example_issue: Path) -> None:
    doc = writer.remove_article(example_issue, "tada", version=writer.open_issue(example_issue).version)
    assert "tada" not in writer.article_names(doc)
    assert (example_issue / "articles" / "tada.de.md").is_file()
    versions = {lang: writer.open_article(example_issue, "tada", lang).version for lang in ("de", "en")}
    assert writer.delete_article_files(example_issue, "tada", versions=versions) == (
        "articles/tada.de.md", "articles/tada.en.md")  # fmt: skip
    assert not (example_issue / "articles" / "tada.de.md").exists()
    with pytest.raises(WriteError, match="still in the issue"):
        writer.delete_article_files(example_issue, "netzwerk", versions={"de": "x"})


def test_a_translation_starts_with_the_same_segments_and_empty_texts(
    example_issue: Path, config: Config
) -> None:
    doc = writer.create_translation(example_issue, "delegation", lang="pl", config=config)
    source = article_fields(writer.open_article(example_issue, "delegation", "de"))
    made = article_fields(doc)
    assert made.segments == source.segments and made.title == "" and made.body == ""
    with pytest.raises(WriteError, match="exists already"):
        writer.create_translation(example_issue, "delegation", lang="pl", config=config)


def test_an_issue_translation_file_is_written(example_issue: Path, config: Config) -> None:
    from newsletter.content.forms import TranslationFields, translation_fields

    doc = writer.open_issue(example_issue, "pl")
    fields = dataclasses.replace(
        translation_fields(doc), title="Newsletter: maj", intro="Drodzy członkowie.\n"
    )
    writer.save_translation(example_issue, "pl", fields, version=doc.version)
    assert load_issue(example_issue, config).title["pl"] == "Newsletter: maj"
    assert translation_fields(writer.open_issue(example_issue, "pl")) == TranslationFields(
        title="Newsletter: maj",
        subject=fields.subject,
        preheader=fields.preheader,
        intro="Drodzy członkowie.\n",
    )


def test_a_linked_article_file_is_refused_and_its_target_untouched(issue: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("---\ntitle: geheim\n---\n", encoding="utf-8")
    (issue / "articles" / "link.de.md").symlink_to(secret)
    with pytest.raises(WriteError, match="is a symbolic link"):
        writer.open_article(issue, "link", "de")
    with pytest.raises(WriteError, match="is a symbolic link"):
        writer.save_article(issue, "link", "de", ArticleFields(title="x"), version=ABSENT)
    assert secret.read_text(encoding="utf-8") == "---\ntitle: geheim\n---\n"


def test_new_from_an_earlier_issue_is_one_library_call(example_issue: Path, config: Config) -> None:
    created = create_issue(config, "2022-04-weiter", source=example_issue.name)
    names = writer.article_names(writer.open_issue(created.path))
    assert names == ["netzwerk", "schlesien", "delegation", "tada"]
    assert issue_fields(writer.open_issue(created.path)).date == date.today()
    assert article_fields(writer.open_article(created.path, "schlesien", "de")).segments == ("poland",)


def test_a_file_saved_by_notepad_keeps_its_bom_and_windows_line_ends(issue: Path, config: Config) -> None:
    path = issue / "articles" / "erster-artikel.de.md"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    art = writer.open_article(issue, "erster-artikel", "de")
    writer.save_article(issue, "erster-artikel", "de", dataclasses.replace(article_fields(art), kicker="Verein"),
                        version=art.version)  # fmt: skip
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf---\r\ntitle: ") and b"\r\nkicker: Verein\r\n" in data
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert _article(issue, config, "erster-artikel").kicker == "Verein"
