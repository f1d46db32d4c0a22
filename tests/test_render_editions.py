"""Editions: which articles, which language (fallback), localised dates, placeholders, size, fonts."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from newsletter.config import Config
from newsletter.content import load_issue
from newsletter.model import ALL, Edition, Fallback, Issue
from newsletter.render.renderer import Renderer, build_editions, select_articles


@pytest.fixture
def issue(example_issue: Path, config: Config) -> Issue:
    return load_issue(example_issue, config)


@pytest.fixture
def editions(issue: Issue, config: Config) -> dict[str, Edition]:
    return {e.key: e for e in build_editions(issue, config)}


def test_build_editions_covers_every_segment_and_language(editions: dict[str, Edition]) -> None:
    assert sorted(editions) == sorted(
        f"{s}.{lang}" for s in ("poland", "usa", "all") for lang in ("de", "en", "pl")
    )


def test_poland_edition_holds_silesia_and_no_usa_article(editions: dict[str, Edition]) -> None:
    poland = editions["poland.de"]
    assert poland.articles == ("netzwerk", "schlesien")
    assert "Erstes Online-Treffen mit dem schlesischen Cluster" in poland.html
    assert "TADA" not in poland.html and "B2B-Gespräche jetzt buchen" not in poland.html
    assert "TADA" not in poland.text and "Keltsch" not in poland.text


def test_usa_edition_holds_usa_articles_and_not_silesia(editions: dict[str, Edition]) -> None:
    usa = editions["usa.de"]
    assert usa.articles == ("netzwerk", "delegation", "tada")
    assert "schlesischen Cluster" not in usa.html and "Dirk Vogel" not in usa.html
    assert "Thomas Keltsch" in usa.html and "keltsch@amz-sachsen.example" in usa.text


def test_all_and_general_editions(issue: Issue, config: Config) -> None:
    assert [v.name for v in select_articles(issue, frozenset({ALL}))] == [
        "netzwerk",
        "schlesien",
        "delegation",
        "tada",
    ]
    assert [v.name for v in select_articles(issue, frozenset())] == ["netzwerk"]
    both = Renderer(config).render(issue, frozenset({"poland", "usa"}), "de")
    assert both.articles == ("netzwerk", "schlesien", "delegation", "tada")
    assert both.key == "poland+usa.de"


def test_fallback_is_recorded_and_used(editions: dict[str, Edition]) -> None:
    usa_pl = editions["usa.pl"]
    assert usa_pl.fallbacks == (Fallback("delegation", "pl", "en"), Fallback("tada", "pl", "en"))
    assert "A US delegation visits Saxony" in usa_pl.html  # English file in the Polish edition
    assert "Pierwsze spotkanie" not in usa_pl.html
    assert "Dwa kraje, jeden priorytet" in usa_pl.html  # Polish where it exists
    assert editions["poland.pl"].fallbacks == ()
    assert editions["usa.en"].fallbacks == ()


def test_fallback_to_any_language_as_last_resort(project: Path, config: Config) -> None:
    folder = project / "issues" / "x"
    (folder / "articles").mkdir(parents=True)
    (folder / "issue.md").write_text(
        "---\ntitle: T\ndate: 2022-04-01\narticles: [a]\n---\nHallo.\n", encoding="utf-8"
    )
    (folder / "articles" / "a.pl.md").write_text(
        "---\ntitle: Tylko po polsku\n---\nTekst.\n", encoding="utf-8"
    )
    edition = Renderer(config).render(load_issue(folder, config), frozenset({ALL}), "de")
    assert edition.fallbacks == (Fallback("a", "de", "pl"),)
    assert "Tylko po polsku" in edition.html


def test_subject_and_preheader_per_language(editions: dict[str, Edition]) -> None:
    assert editions["all.de"].subject == "Länderfokus 2022: Schlesien, Detroit und das Silicon Valley"
    assert editions["all.en"].subject == "Country focus 2022: Silesia, Detroit and Silicon Valley"
    assert editions["all.pl"].preheader.startswith("Nowi partnerzy na Śląsku")
    assert "<title>Country focus 2022" in editions["all.en"].html


@pytest.mark.parametrize(
    ("language", "issue_date", "event_line"),
    [
        ("de", "24. März 2022", "30. Mai 2022, 09:00 – 3. Juni 2022, 17:00 Uhr MESZ"),
        ("en", "March 24, 2022", "May 30, 2022, 9:00\u202fAM – June 3, 2022, 5:00\u202fPM CEST"),
        ("pl", "24 marca 2022", "30 maja 2022, 09:00 – 3 czerwca 2022, 17:00 CEST"),
    ],
)
def test_dates_are_localised(
    editions: dict[str, Edition], language: str, issue_date: str, event_line: str
) -> None:
    edition = editions[f"all.{language}"]
    assert issue_date in edition.html and issue_date in edition.text
    # the delegation article exists in de and en; Polish readers get the English text with Polish dates
    assert event_line in edition.text
    assert event_line.replace("\u202f", "&#8239;") in edition.html or event_line in edition.html


def test_placeholders_survive_in_html_and_text(editions: dict[str, Edition]) -> None:
    for edition in editions.values():
        assert edition.html.count("[[nl:salutation]]") == 1
        assert 'href="[[nl:unsubscribe_url]]"' in edition.html
        assert edition.text.count("[[nl:salutation]]") == 1
        assert "[[nl:unsubscribe_url]]" in edition.text
    assert "Abmelden: [[nl:unsubscribe_url]]" in editions["all.de"].text
    assert "Unsubscribe: [[nl:unsubscribe_url]]" in editions["all.en"].text


def test_footer_and_impressum(editions: dict[str, Edition], config: Config) -> None:
    de = editions["all.de"]
    assert config.footers["de"].text in de.html and config.footers["de"].text in de.text
    assert "Vereinsregister Chemnitz VR 0000" in de.html and "Impressum: AMZ Netzwerk" in de.text
    assert "Newsletter abbestellen</a>" in de.html


def test_every_html_is_small_and_loads_no_remote_font(editions: dict[str, Edition]) -> None:
    for edition in editions.values():
        assert len(edition.html.encode()) < 90 * 1024, edition.key
        assert "fonts.googleapis" not in edition.html
        assert not re.search(r"@import\s+url\(\s*['\"]?https?:", edition.html)
        assert not re.search(r"<link\b[^>]*stylesheet", edition.html)
        assert edition.html.lstrip().lower().startswith("<!doctype html>")
        assert "<mj-" not in edition.html


def test_links_for_browser_and_calendar_only_with_public_url(issue: Issue, config: Config) -> None:
    plain = Renderer(config).render(issue, frozenset({"usa"}), "de")
    assert ".ics" not in plain.html and "Im Browser ansehen" not in plain.html
    assert 'src="images/' not in plain.html  # the USA edition has no image
    public = dataclasses.replace(config, public_url="https://news.amz-sachsen.example")
    renderer = Renderer(public)
    usa = renderer.render(issue, frozenset({"usa"}), "de")
    assert 'href="https://news.amz-sachsen.example/2022-03-laenderfokus/delegation.ics"' in usa.html
    assert 'href="https://news.amz-sachsen.example/2022-03-laenderfokus/de.html"' in usa.html
    assert "Im Browser ansehen" in usa.html
    assert (
        "In den Kalender eintragen: https://news.amz-sachsen.example/2022-03-laenderfokus/delegation.ics"
        in usa.text
    )
    pl = renderer.render(issue, frozenset({"poland"}), "pl")
    assert "Zobacz w przeglądarce" in pl.html
    assert (
        'src="https://news.amz-sachsen.example/2022-03-laenderfokus/images/sachsen-schlesien.png"' in pl.html
    )
    assert "View in browser" in renderer.render(issue, frozenset({"poland"}), "en").html


def test_image_with_alt_caption_and_credit(editions: dict[str, Edition]) -> None:
    html = editions["poland.de"].html
    assert 'src="images/sachsen-schlesien.png"' in html
    assert 'alt="Schematische Karte mit zwei Punkten' in html
    assert "Sachsen und Schlesien verbindet mehr als die A4." in html and "Grafik: AMZ" in html
    assert (
        "[Bild: Sachsen und Schlesien verbindet mehr als die A4. (Grafik: AMZ)]" in editions["poland.de"].text
    )


def test_two_column_sections_exist(editions: dict[str, Edition]) -> None:
    assert "nl-two-col" in editions["poland.de"].html  # image beside teaser
    assert "nl-two-col" in editions["usa.de"].html  # contact box beside event


def test_dangerous_markdown_in_an_edition(project: Path, config: Config) -> None:
    from test_content_markdown import CONSTRUCTS, DANGEROUS

    folder = project / "issues" / "danger"
    (folder / "articles").mkdir(parents=True)
    (folder / "issue.md").write_text(
        "---\ntitle: T\ndate: 2022-04-01\narticles: [a]\n---\nHallo.\n", encoding="utf-8"
    )
    (folder / "articles" / "a.de.md").write_text(f"---\ntitle: Gefahr\n---\n{DANGEROUS}", encoding="utf-8")
    renderer = Renderer(config)
    edition = renderer.render(load_issue(folder, config), frozenset({ALL}), "de")
    body = edition.html.split("</head>", 1)[1]  # MJML's own <style> blocks live in the head
    found = {name for name, pattern in CONSTRUCTS.items() if re.search(pattern, body, re.IGNORECASE)}
    assert found == set()
    (folder / "articles" / "a.de.md").write_text("---\ntitle: Harmlos\n---\nText.\n", encoding="utf-8")
    harmless = renderer.render(load_issue(folder, config), frozenset({ALL}), "de")
    assert edition.html.count("<style") == harmless.html.count("<style")
    assert "display: none" not in edition.html and "alert(" not in edition.html
    assert len(re.findall(r'href="https://www\.amz-sachsen\.example/netzwerk"', edition.html)) == 1
    assert "javascript:" not in edition.text


def test_teaser_markdown_is_rendered_in_html_as_in_text(example_issue: Path, config: Config) -> None:
    """The text part reads the teaser as Markdown; the HTML showed the raw [link](url) and **stars**."""
    tada = example_issue / "articles" / "tada.de.md"
    text = tada.read_text(encoding="utf-8")
    teaser = next(line for line in text.splitlines() if line.startswith("teaser:"))
    markdown_teaser = 'teaser: "Jetzt [anmelden](https://example.org/a) – **bis 1. Mai** <script>x</script>"'
    tada.write_text(text.replace(teaser, markdown_teaser), encoding="utf-8")
    usa = Renderer(config).render(load_issue(example_issue, config), frozenset({"usa"}), "de")
    assert (
        '<strong>Jetzt <a href="https://example.org/a">anmelden</a> – <strong>bis 1. Mai</strong></strong>'
        in usa.html
    )
    assert "**" not in usa.html and "<script" not in usa.html
    assert "Jetzt anmelden (https://example.org/a) – bis 1. Mai" in usa.text


def test_phone_link_drops_the_trunk_zero_in_brackets(example_issue: Path, config: Config) -> None:
    schlesien = example_issue / "articles" / "schlesien.de.md"
    text = schlesien.read_text(encoding="utf-8")
    schlesien.write_text(
        text.replace(
            "    email: vogel@amz-sachsen.example\n",
            "    email: vogel@amz-sachsen.example\n    phone: +49 (0)371 123-45\n",
        ),
        encoding="utf-8",
    )
    poland = Renderer(config).render(load_issue(example_issue, config), frozenset({"poland"}), "de")
    assert '<a href="tel:+4937112345">+49 (0)371 123-45</a>' in poland.html
