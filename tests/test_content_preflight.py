"""`check_issue`: the pre-flight gate's errors and warnings (``Preflight.problems``)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from newsletter.config import Config
from newsletter.preflight import Preflight, check_issue

REPO = Path(__file__).resolve().parent.parent
SLUG = "issues/2022-03-laenderfokus"


def _lines(result: Preflight) -> list[str]:
    return [str(p) for p in result.problems]


def _article(issue: Path, name: str, front: str, body: str) -> None:
    (issue / "articles" / name).write_text(f"---\n{front}\n---\n{body}", encoding="utf-8")


def _list_articles(issue: Path, *names: str) -> None:
    text = (issue / "issue.md").read_text(encoding="utf-8")
    extra = "".join(f"  - {n}\n" for n in names)
    (issue / "issue.md").write_text(text.replace("  - tada\n", "  - tada\n" + extra), encoding="utf-8")


def test_example_issue_has_only_translation_warnings(example_issue: Path, config: Config) -> None:
    assert _lines(check_issue(example_issue, config)) == [
        f"{SLUG}/articles/delegation.pl.md: warning: missing translation: 'pl' editions use {SLUG}/articles/delegation.en.md",
        f"{SLUG}/articles/tada.pl.md: warning: missing translation: 'pl' editions use {SLUG}/articles/tada.en.md",
    ]


def test_content_errors_come_first_then_the_warnings(example_issue: Path, config: Config) -> None:
    """Issue 10 item 16: warnings that need no rendering are shown together with the errors."""
    _article(example_issue, "tada.de.md", "title: TADA\nsegments: [usa]\nteasr: x", "Text.\n")
    problems = check_issue(example_issue, config)
    assert _lines(problems) == [
        f"{SLUG}/articles/tada.de.md:4: unknown key 'teasr' (did you mean 'teaser'?)",
        f"{SLUG}/articles/delegation.pl.md: warning: missing translation: 'pl' editions use {SLUG}/articles/delegation.en.md",
        f"{SLUG}/articles/tada.pl.md: warning: missing translation: 'pl' editions use {SLUG}/articles/tada.en.md",
    ]
    assert problems.has_errors


def test_size_error_and_warning(example_issue: Path, config: Config) -> None:
    paragraph = "Ein langer Absatz über Zulieferer in Sachsen und Schlesien. " * 20 + "\n\n"
    _article(example_issue, "gross.de.md", "title: Groß\nsegments: [poland]", paragraph * 45)
    _article(example_issue, "mittel.de.md", "title: Mittel\nsegments: [usa]", paragraph * 22)
    _list_articles(example_issue, "gross", "mittel")
    lines = _lines(check_issue(example_issue, config))
    assert any(
        line.startswith(f"{SLUG}: edition poland.de: HTML is ") and "Gmail clips" in line for line in lines
    )
    assert any(line.startswith(f"{SLUG}: edition all.de: HTML is ") for line in lines)
    assert any(line.startswith(f"{SLUG}: warning: edition usa.de: HTML is ") for line in lines)


def test_links_alt_text_and_leftover_template_syntax(example_issue: Path, config: Config) -> None:
    body = (
        "Hallo {{ first_name }},\n\n"
        "Ein [leerer Link]() und ein [Anker](#).\n\n"
        "Alte Seite: [hier](http://www.amz-sachsen.example/alt).\n\n"
        "![](images/sachsen-schlesien.png)\n"
    )
    _article(example_issue, "pruef.de.md", "title: Prüfung", body)
    _list_articles(example_issue, "pruef")
    lines = _lines(check_issue(example_issue, config))
    art = f"{SLUG}/articles/pruef.de.md"
    assert (
        f"{art}:4: {{{{ first_name }}}} is not filled in articles and would reach members as typed: "
        "write [[nl:first_name]]"
    ) in lines
    assert f"{art}:6: empty link (no address or '#'): add the URL or remove the link" in lines
    assert (
        f"{art}:8: warning: insecure link http://www.amz-sachsen.example/alt: use https:// if the site supports it"
        in lines
    )
    assert f"{art}:10: warning: image without alt text: write ![what the picture shows](file)" in lines
    assert not any("check the templates" in line for line in lines)  # once, at its line (issue 10 item 17)


def test_long_subject_is_a_warning_with_its_line(example_issue: Path, config: Config) -> None:
    issue_md = example_issue / "issue.md"
    long = "Länderfokus 2022: Schlesien, Detroit, Silicon Valley und noch viel mehr aus dem Netzwerk"
    text = issue_md.read_text(encoding="utf-8").replace(
        'subject: "Länderfokus 2022: Schlesien, Detroit und das Silicon Valley"', f'subject: "{long}"'
    )
    issue_md.write_text(text, encoding="utf-8")
    problems = check_issue(example_issue, config)
    assert (
        f"{SLUG}/issue.md:5: warning: subject for 'de' has {len(long)} characters; mail clients cut it after "
        "about 70: shorten it"
    ) in _lines(problems)
    assert not problems.has_errors


def test_long_subject_names_the_file_and_line_it_comes_from(project: Path, config: Config) -> None:
    """pl falls back to the subject of issue.en.md; a per-language subject points at its own line."""
    issue = project / "issues" / "x"
    (issue / "articles").mkdir(parents=True)
    long_de = "Betreff " * 10
    (issue / "issue.md").write_text(
        f"---\ntitle: Titel\ndate: 2022-04-01\nsubject:\n  de: {long_de}\narticles: [a]\n"
        "languages: [de, en, pl]\n---\nHallo.\n",
        encoding="utf-8",
    )
    long_en = "This is a very long English subject line that certainly goes beyond seventy characters"
    (issue / "issue.en.md").write_text(
        f"---\ntitle: Title\nsubject: {long_en}\n---\nHello.\n", encoding="utf-8"
    )
    _article(issue, "a.de.md", "title: Artikel", "Text.\n")
    lines = [line for line in _lines(check_issue(issue, config)) if "subject" in line]
    tail = "characters; mail clients cut it after about 70: shorten it"
    assert lines == [
        f"issues/x/issue.md:5: warning: subject for 'de' has {len(long_de.strip())} {tail}",
        f"issues/x/issue.en.md:3: warning: subject for 'en' has {len(long_en)} {tail}",
        f"issues/x/issue.en.md:3: warning: subject for 'pl' has {len(long_en)} {tail}",
    ]


def test_subject_with_a_line_break_or_encoded_newline_is_an_error(project: Path, config: Config) -> None:
    """PITFALLS: CVE-2024-6923; the gate names the line instead of the send failing later."""
    issue = project / "issues" / "x"
    (issue / "articles").mkdir(parents=True)
    (issue / "issue.md").write_text(
        '---\ntitle: "Titel =?UTF-8?Q?=0A?=Bcc: x@evil.example"\ndate: 2022-04-01\narticles: [a]\n'
        "languages: [de, en]\n---\nHallo.\n",
        encoding="utf-8",
    )
    (issue / "issue.en.md").write_text(
        '---\nsubject: "Subject\\nBcc: x@evil.example"\n---\nHello.\n', encoding="utf-8"
    )
    _article(issue, "a.de.md", "title: Artikel", "Text.\n")
    problems = check_issue(issue, config)
    tail = (
        "a subject must be one line of plain text (a line break there could inject mail headers): remove it"
    )
    assert [line for line in _lines(problems) if "subject" in line] == [
        "issues/x/issue.md:2: subject for 'de' contains an encoded line break or control character "
        f"(=?UTF-8?Q?=0A?=); {tail}",
        f"issues/x/issue.en.md:2: subject for 'en' contains the control character U+000A; {tail}",
    ]
    assert problems.has_errors


def test_markdown_images_must_be_files_inside_the_issue(example_issue: Path, config: Config) -> None:
    body = (
        "![Karte](images/sachsen-schlesien.png) ![Logo](https://example.org/logo.png)\n\n"
        "![Foto](images/tippfehler.jpg)\n\n![Geheim](../../../../etc/passwd) ![Host](/etc/hosts)\n"
    )
    _article(example_issue, "bilder.de.md", "title: Bilder", body)
    _list_articles(example_issue, "bilder")
    lines = [line for line in _lines(check_issue(example_issue, config)) if "bilder.de.md:" in line]
    assert lines == [
        f"{SLUG}/articles/bilder.de.md:4: remote image https://example.org/logo.png: a mail shows only images "
        "of the issue (no tracking pixels, no pictures from other sites); put the file in the issue's images/ "
        "folder and write images/logo.png (it then travels with the mail, or loads from NEWSLETTER_PUBLIC_URL)",
        f"{SLUG}/articles/bilder.de.md:6: image file 'images/tippfehler.jpg' not found in {SLUG}/",
        f"{SLUG}/articles/bilder.de.md:8: image '../../../../etc/passwd' must be inside the issue folder, "
        "e.g. images/photo.jpg",
        f"{SLUG}/articles/bilder.de.md:8: image '/etc/hosts' must be inside the issue folder, e.g. images/photo.jpg",
    ]


def test_translated_intro_problems_name_their_file_and_line(example_issue: Path, config: Config) -> None:
    issue_en = example_issue / "issue.en.md"
    text = issue_en.read_text(encoding="utf-8")
    issue_en.write_text(text + "\nHello {{ first_name }}, see [here]().\n", encoding="utf-8")
    line = len(text.split("\n")) + 1
    lines = [line for line in _lines(check_issue(example_issue, config)) if "issue.en.md" in line]
    assert lines == [
        f"{SLUG}/issue.en.md:{line}: {{{{ first_name }}}} is not filled in articles and would reach members as "
        "typed: write [[nl:first_name]]",
        f"{SLUG}/issue.en.md:{line}: empty link (no address or '#'): add the URL or remove the link",
    ]


def test_hidden_files_in_articles_are_ignored(example_issue: Path, config: Config) -> None:
    """A macOS ._x.de.md (zip or USB stick) or an editor's lock file must not block the issue."""
    (example_issue / "articles" / "._tada.de.md").write_bytes(b"\x00\x05\x16\x07Mac OS X")
    (example_issue / "articles" / ".#tada.de.md").write_text("user@host.1234", encoding="utf-8")
    assert _lines(check_issue(example_issue, config)) == [
        f"{SLUG}/articles/delegation.pl.md: warning: missing translation: 'pl' editions use {SLUG}/articles/delegation.en.md",
        f"{SLUG}/articles/tada.pl.md: warning: missing translation: 'pl' editions use {SLUG}/articles/tada.en.md",
    ]


def test_links_without_scheme_are_errors(example_issue: Path, config: Config) -> None:
    body = (
        "[Programm](www.amz-sachsen.example/programm), [Mail](vogel@amz-sachsen.example), "
        "[PDF](images/programm.pdf), [oben](#top), [ok](https://example.org)\n"
    )
    _article(example_issue, "links.de.md", "title: Links", body)
    _list_articles(example_issue, "links")
    lines = [line for line in _lines(check_issue(example_issue, config)) if "links.de.md:" in line]
    tail = "is not a full address and leads nowhere in a mail"
    assert lines == [
        f"{SLUG}/articles/links.de.md:4: link 'www.amz-sachsen.example/programm' {tail}; "
        "write https://www.amz-sachsen.example/programm",
        f"{SLUG}/articles/links.de.md:4: link 'vogel@amz-sachsen.example' {tail}; "
        "write mailto:vogel@amz-sachsen.example",
        f"{SLUG}/articles/links.de.md:4: link 'images/programm.pdf' {tail}; "
        "write the full address starting with https://",
    ]


def test_footer_without_impressum_is_an_error(example_issue: Path, config: Config) -> None:
    footers = {lang: dataclasses.replace(f, impressum="") for lang, f in config.footers.items()}
    lines = _lines(check_issue(example_issue, dataclasses.replace(config, footers=footers)))
    assert (
        f"{SLUG}: edition poland.de: the footer has no Impressum: add [footer.<lang>] impressum in newsletter.toml"
    ) in lines


def test_footer_without_unsubscribe_link_is_an_error(
    example_issue: Path, config: Config, tmp_path: Path
) -> None:
    templates = tmp_path / "own-templates"
    shutil.copytree(REPO / "templates", templates)
    footer = templates / "partials" / "footer.mjml.j2"
    footer.write_text(
        footer.read_text(encoding="utf-8").replace(
            'href="[[nl:unsubscribe_url]]"', 'href="https://amz-sachsen.example/"'
        ),
        encoding="utf-8",
    )
    problems = check_issue(example_issue, dataclasses.replace(config, templates=templates))
    assert (
        f"{SLUG}: edition usa.en: no visible unsubscribe link ([[nl:unsubscribe_url]]) in the footer: check the templates"
    ) in _lines(problems)
    assert problems.has_errors


def test_missing_public_url_with_a_real_relay_is_a_warning(example_issue: Path, config: Config) -> None:
    relay = dataclasses.replace(config.smtp, host="smtp.example.org", username="news")
    lines = _lines(check_issue(example_issue, dataclasses.replace(config, smtp=relay)))
    assert lines[-1] == (
        "newsletter.toml: warning: NEWSLETTER_PUBLIC_URL is not set: mails to a real relay get no web unsubscribe, "
        "browser view or calendar links (and carry their pictures inside); set it in .env"
    )
    public = dataclasses.replace(config, smtp=relay, public_url="https://news.amz-sachsen.example")
    assert not any("NEWSLETTER_PUBLIC_URL" in line for line in _lines(check_issue(example_issue, public)))


def test_unlisted_article_file_is_a_warning(example_issue: Path, config: Config) -> None:
    _article(example_issue, "vergessen.de.md", "title: Vergessen", "Text.\n")
    assert (
        f"{SLUG}/articles/vergessen.de.md: warning: not listed under 'articles' in issue.md, so no edition contains it"
    ) in _lines(check_issue(example_issue, config))
