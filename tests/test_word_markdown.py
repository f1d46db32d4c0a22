"""The HTML mammoth makes of a Word file, as Markdown (newsletter/content/htmlmd.py)."""

from __future__ import annotations

import pytest

from newsletter.content.htmlmd import markdown_of
from newsletter.render.markdown import to_html


@pytest.mark.parametrize(("html", "markdown"), [
    ("<h1>Titel</h1><h2>Unter</h2><h5>Tief</h5>", "## Unter\n\n#### Tief\n"),
    ("<p>ein <em>kursives</em> und <strong> fettes </strong>Wort</p>", "ein *kursives* und  **fettes** Wort\n"),
    ("<ul><li>eins<ul><li>unter</li></ul></li><li>zwei</li></ul>", "- eins\n  - unter\n- zwei\n"),
    ("<ol><li>erst<ol><li>dann</li></ol></li></ol>", "1. erst\n   1. dann\n"),
    ("<p># kein Titel</p><p>- kein Punkt</p><p>1. keine Zahl</p>", "\\# kein Titel\n\n\\- kein Punkt\n\n1\\. keine Zahl\n"),
    ('<p><a href="https://amz.example/a(b)">Link</a></p>', "[Link](<https://amz.example/a(b)>)\n"),
    ('<p>Text<sup><a href="#footnote-1" id="footnote-ref-1">[1]</a></sup></p>'
     '<ol><li id="footnote-1"><p>Quelle: BMBF <a href="#footnote-ref-1">↑</a></p></li></ol>', "Text\n"),
])  # fmt: skip
def test_word_html_becomes_markdown(html: str, markdown: str) -> None:
    assert markdown_of(html).body == markdown


def test_footnotes_are_returned_for_the_list_of_findings() -> None:
    html = ('<p>Text<sup><a href="#footnote-1">[1]</a></sup></p>'
            '<ol><li id="footnote-1"><p>Quelle: BMBF <a href="#footnote-ref-1">↑</a></p></li></ol>')  # fmt: skip
    assert markdown_of(html).footnotes == ["Quelle: BMBF"]


def test_the_markdown_renders_to_what_word_showed() -> None:
    body = markdown_of(
        "<p><strong>Kontakt<br /></strong>Jens Jungmann<br />Telefon +49 351 564 80600</p>"
    ).body
    assert (
        to_html(body) == "<p><strong>Kontakt</strong><br>\nJens Jungmann<br>\nTelefon +49 351 564 80600</p>"
    )
