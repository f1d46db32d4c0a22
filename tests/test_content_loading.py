"""The example issue and edge cases of reading issue and article files into frozen values."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from newsletter.config import Config
from newsletter.content import load_issue, resolve_issue_path
from newsletter.model import Contact


def test_example_issue_loads(example_issue: Path, config: Config) -> None:
    issue = load_issue(example_issue, config)
    assert issue.slug == "2022-03-laenderfokus"
    assert issue.date == date(2022, 3, 24)
    assert issue.number == 3
    assert issue.languages == ("de", "en", "pl")
    assert [v.name for v in issue.articles] == ["netzwerk", "schlesien", "delegation", "tada"]
    segments = {v.name: v.segments for v in issue.articles}
    assert segments == {
        "netzwerk": None,
        "schlesien": frozenset({"poland"}),
        "delegation": frozenset({"usa"}),
        "tada": frozenset({"usa"}),
    }
    assert issue.title["en"].startswith("AMZ Newsletter March 2022")
    assert issue.subject["pl"].startswith("Fokus 2022")
    with pytest.raises(dataclasses.FrozenInstanceError):
        issue.slug = "x"  # type: ignore[misc]


def test_example_article_details(example_issue: Path, config: Config) -> None:
    issue = load_issue(example_issue, config)
    silesia = {v.name: v for v in issue.articles}["schlesien"].by_language["de"]
    assert silesia.contacts == (Contact("Dirk Vogel", "vogel@amz-sachsen.example", None, "Netzwerkmanager"),)
    assert silesia.image == "images/sachsen-schlesien.png"
    assert (example_issue / silesia.image).stat().st_size < 30_000
    assert silesia.image_alt and silesia.image_caption and silesia.image_credit
    event = {v.name: v for v in issue.articles}["delegation"].by_language["de"].event
    assert event is not None
    assert event.start.utcoffset() == timedelta(hours=2)  # Europe/Berlin in summer
    assert event.end is not None and event.end.date() == date(2022, 6, 3)


def test_issue_resolves_by_slug_folder_or_file(example_issue: Path, config: Config) -> None:
    assert resolve_issue_path("2022-03-laenderfokus", config) == config.issues_dir / "2022-03-laenderfokus"
    assert resolve_issue_path(str(example_issue / "issue.md"), config) == example_issue


def _write(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_per_language_title_single_contact_and_offsets(project: Path, config: Config) -> None:
    folder = project / "issues" / "x"
    _write(
        folder,
        "issue.md",
        "---\ntitle: {de: Titel, en: Title}\ndate: 2022-04-01\narticles: [a]\n---\nHallo.\n",
    )
    _write(
        folder,
        "articles/a.en.md",
        "---\ntitle: Only English\ncontacts:\n  name: Jane Doe\n  email: jane@amz-sachsen.example\n"
        "event:\n  title: Call\n  start: 2022-04-05T10:00-04:00\n  location: Online\n---\nBody\n",
    )
    issue = load_issue(folder, config)
    assert issue.title == {"de": "Titel", "en": "Title"}
    assert issue.subject == issue.title  # subject defaults to title
    assert issue.languages == ("de", "en")  # default language is always offered
    article = issue.articles[0].by_language["en"]
    assert article.contacts == (Contact("Jane Doe", "jane@amz-sachsen.example"),)
    assert article.event is not None and article.event.start == datetime.fromisoformat(
        "2022-04-05T14:00+00:00"
    )
    assert article.body == "Body\n" and article.body_line == 11


def test_translated_intro(example_issue: Path, config: Config) -> None:
    issue = load_issue(example_issue, config)
    intros = issue.intros  # type: ignore[attr-defined]
    assert set(intros) == {"en", "pl"}
    assert "Neisse" in intros["en"] and "Nysy" in intros["pl"]
    assert "Neiße" in issue.intro


def test_yaml_numbers_and_booleans_stay_as_written(project: Path, config: Config) -> None:
    """YAML 1.1 reads +49… as an int, 0371… as octal, 10:30 as 630 and 'no' as False: text keeps the source."""
    folder = project / "issues" / "x"
    _write(folder, "issue.md", "---\ntitle: Titel\ndate: 2022-04-01\narticles: [a]\n---\nHallo.\n")
    _write(
        folder,
        "articles/a.de.md",
        "---\ntitle: 2022\nkicker: 10:30\nauthor: no\ncontacts:\n  - name: Dirk Vogel\n"
        "    email: vogel@amz-sachsen.example\n    phone: +493711234567\n  - name: Anna Nowak\n"
        "    email: anna@example.org\n    phone: 03711234567\n    role: yes\n---\nText.\n",
    )
    _write(
        folder,
        "articles/a.en.md",
        "---\ntitle: Title\ncontacts:\n  name: Dirk Vogel\n  email: vogel@amz-sachsen.example\n"
        "  phone: +493711234567\n---\nText.\n",
    )
    variants = load_issue(folder, config).articles[0].by_language
    article = variants["de"]
    assert (article.title, article.kicker, article.author) == ("2022", "10:30", "no")
    assert article.contacts == (
        Contact("Dirk Vogel", "vogel@amz-sachsen.example", "+493711234567"),
        Contact("Anna Nowak", "anna@example.org", "03711234567", "yes"),
    )
    assert variants["en"].contacts == (Contact("Dirk Vogel", "vogel@amz-sachsen.example", "+493711234567"),)


def test_subject_per_language_in_issue_md_beats_a_translated_title(project: Path, config: Config) -> None:
    folder = project / "issues" / "x"
    _write(
        folder,
        "issue.md",
        "---\ntitle: Titel\ndate: 2022-04-01\nsubject:\n  de: Betreff\n  en: Subject\narticles: [a]\n"
        "---\nHallo.\n",
    )
    _write(folder, "issue.en.md", "---\ntitle: English title\n---\nHello.\n")
    _write(folder, "issue.pl.md", "---\ntitle: Tytuł\nsubject: Temat\n---\nCześć.\n")
    _write(folder, "articles/a.de.md", "---\ntitle: Artikel\n---\nText.\n")
    issue = load_issue(folder, config)
    assert issue.subject == {"de": "Betreff", "en": "Subject", "pl": "Temat"}
    assert issue.title == {"*": "Titel", "en": "English title", "pl": "Tytuł"}


def test_segments_written_without_brackets(project: Path, config: Config) -> None:
    folder = project / "issues" / "x"
    _write(folder, "issue.md", "---\ntitle: Titel\ndate: 2022-04-01\narticles: [a, b]\n---\nHallo.\n")
    _write(folder, "articles/a.de.md", "---\ntitle: A\nsegments: poland, USA\n---\nText.\n")
    _write(folder, "articles/b.de.md", "---\ntitle: B\nsegments: usa\n---\nText.\n")
    issue = load_issue(folder, config)
    assert [v.segments for v in issue.articles] == [frozenset({"poland", "usa"}), frozenset({"usa"})]
