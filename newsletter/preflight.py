"""The pre-flight gate (`newsletter check`, and `send` before the first message).

``check_issue`` returns every finding as a ``Problem`` with severity ``error`` or ``warning``:
content errors, missing translations (with the fallback used), edition size (Gmail clips at
~102 KB), images without alt text, empty links, leftover template syntax, long subjects, a footer
without Impressum or unsubscribe link, plain ``http:`` links and a missing public URL.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import unquote

from . import markdown, paths
from .compose import HeaderInjection, check_header_value
from .config import Config
from .content import load_issue, resolve_issue_path
from .frontmatter import Problems, parse_front_matter
from .model import ContentError, Edition, Issue, NewsletterError, Problem, RefusedError
from .render import Renderer, build_editions

SIZE_ERROR = 90 * 1024
SIZE_WARNING = 75 * 1024
SUBJECT_MAX = 70
_LEFTOVER = re.compile(r"\{\{|\}\}|\{%|%\}")
_STYLE = re.compile(r"<style\b.*?</style>", re.DOTALL | re.IGNORECASE)
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_SRC = re.compile(r"""\bsrc\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_ALT = re.compile(r"""\balt\s*=\s*("[^"]*\S[^"]*"|'[^']*\S[^']*')""", re.IGNORECASE)
_EMPTY_HREF = re.compile(r"""<a\b[^>]*\bhref\s*=\s*["']\s*#?\s*["']""", re.IGNORECASE)
_HREF = re.compile(r"""<a\b[^>]*\bhref\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_HTTP_HREF = re.compile(r"""\b(?:href|src)\s*=\s*["'](http:[^"']*)""", re.IGNORECASE)
_UNSUBSCRIBE = re.compile(r"""<a\b[^>]*href=["']\[\[nl:unsubscribe_url\]\]["'][^>]*>\s*[^<\s][^<]*</a>""")


class PreflightRefused(RefusedError):
    """``send`` or ``schedule`` refuses an issue that fails the pre-flight check: every error
    as ``path:line: message``, then one line saying what was refused and what to do."""

    def __init__(self, problems: Sequence[Problem], summary: str):
        self.problems = tuple(problems)
        super().__init__(summary)

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems] + [str(self)]


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)


def check_issue(issue_path: Path, config: Config) -> list[Problem]:
    """Every error and warning of an issue, content first, then per-edition checks."""
    path = resolve_issue_path(issue_path, config)
    found = Problems(config.root)
    try:
        issue = load_issue(path, config)
    except ContentError as exc:
        return list(exc.problems)
    _check_sources(issue, config, found)
    try:
        editions = build_editions(issue, config, Renderer(config))
    except NewsletterError as exc:
        found.items.extend(_as_problem(line, found.rel(path)) for line in exc.lines())
        return found.items
    _check_translations(issue, config, editions, found)
    for edition in editions:
        _check_edition(edition, config, found, path)
    if not config.public_url and not config.smtp.is_dev_sink:
        found.add(config.root / "newsletter.toml", 0, "NEWSLETTER_PUBLIC_URL is not set: mails to a real relay "
                  "get no web unsubscribe, browser view, calendar links or images; set it in .env", "warning")  # fmt: skip
    return _dedupe(found.items)


def _check_sources(issue: Issue, config: Config, found: Problems) -> None:
    _check_subjects(issue, config, found)
    listed = {v.name for v in issue.articles}
    for file in sorted((issue.path / "articles").glob("*.md")):
        if file.name.split(".")[0] not in listed and not file.name.startswith("."):
            found.add(
                file, 0, "not listed under 'articles' in issue.md, so no edition contains it", "warning"
            )
    sources = [(issue.path / "issue.md", issue.intro, issue.intro_line)]
    for translated in sorted(issue.path.glob("issue.*.md")):  # translated intros (issue.en.md …)
        fm = parse_front_matter(translated, Problems(config.root), require=False)
        if fm is not None:
            sources.append((translated, fm.body, fm.body_line))
    sources += [(a.path, a.body, a.body_line) for v in issue.articles for a in v.by_language.values()]
    for file, body, first_line in sources:
        for offset, line in enumerate(body.split("\n")):
            _check_line(file, first_line + offset, line, found, issue.path)


def _check_line(file: Path, number: int, line: str, found: Problems, issue_dir: Path) -> None:
    if _LEFTOVER.search(line):
        found.add(file, number, "template syntax ({{ … }} or {% … %}) is not processed in articles and would "
                  "show up in the mail; remove it (per-member values are [[nl:first_name]] etc.)")  # fmt: skip
    if "<" not in line and "](" not in line:
        return
    fragment = markdown.to_html(line)
    for img in _IMG.findall(fragment):
        if not _ALT.search(img):
            found.add(
                file, number, "image without alt text: write ![what the picture shows](file)", "warning"
            )
        src = _SRC.search(img)
        if src and not re.match(r"^([a-z][a-z0-9+.-]*:|//)", html.unescape(src[1]), re.IGNORECASE):
            _check_image_file(file, number, unquote(html.unescape(src[1])), found, issue_dir)
    if _EMPTY_HREF.search(fragment) or re.search(r"\]\(\s*#?\s*\)", line):
        found.add(file, number, "empty link (no address or '#'): add the URL or remove the link")
    for href in _HREF.findall(fragment):
        _check_link_target(file, number, html.unescape(href).strip(), found)
    for url in _HTTP_HREF.findall(fragment):
        found.add(file, number, f"insecure link {url}: use https:// if the site supports it", "warning")


def _check_link_target(file: Path, number: int, href: str, found: Problems) -> None:
    """A link without a scheme is relative to nothing in a mail: broken in every mail client."""
    if not href or href.startswith("#") or re.match(r"^[a-z][a-z0-9+.-]*:", href, re.IGNORECASE):
        return
    if "@" in href and "/" not in href:
        fix = f"write mailto:{href}"
    elif href.lower().startswith("www."):
        fix = f"write https://{href}"
    else:
        fix = "write the full address starting with https://"
    found.add(file, number, f"link '{href}' is not a full address and leads nowhere in a mail; {fix}")


def _check_image_file(file: Path, number: int, src: str, found: Problems, issue_dir: Path) -> None:
    """A Markdown image given as a path must be a file inside the issue folder (as ``image:`` must)."""
    src = paths.editor_path(src.split("?")[0].split("#")[0])
    reason = paths.refusal(issue_dir, src)
    if reason == paths.OUTSIDE:
        found.add(file, number, f"image '{src}' must be inside the issue folder, e.g. images/photo.jpg")
    elif reason == paths.LINK:
        found.add(file, number, f"image '{src}' is (or lies in) a symbolic link: use a copy of the file")
    elif reason == paths.HIDDEN:
        found.add(file, number, f"image '{src}' is a hidden file (a name starting with '.'): rename it")
    elif reason is not None:
        found.add(file, number, f"image file '{src}' not found in {found.rel(issue_dir)}/")


def _check_subjects(issue: Issue, config: Config, found: Problems) -> None:
    for lang in issue.languages:
        chain = config.language_chain(lang)
        # the language whose subject the edition uses, as render._localised picks it
        source = next((code for code in chain if code in issue.subject), None)
        if source is None:
            source = "*" if "*" in issue.subject else next(iter(issue.subject), "*")
        subject = issue.subject.get(source, "")
        try:
            check_header_value(subject, "the subject")
        except HeaderInjection as exc:  # a header break would end the mail's header block (PITFALLS)
            file, line = _subject_place(issue, source, config)
            found.add(file, line, f"subject for '{lang}' {exc.problem}; a subject must be one line of plain "
                      "text (a line break there could inject mail headers): remove it")  # fmt: skip
            continue
        if len(subject) <= SUBJECT_MAX:
            continue
        file, line = _subject_place(issue, source, config)
        found.add(file, line, f"subject for '{lang}' has {len(subject)} characters; mail clients cut it "
                  f"after about {SUBJECT_MAX}: shorten it", "warning")  # fmt: skip


def _subject_place(issue: Issue, source: str, config: Config) -> tuple[Path, int]:
    """The file and line the subject of language ``source`` comes from (see content._subject)."""
    translated = issue.path / f"issue.{source}.md"
    fm = (
        parse_front_matter(translated, Problems(config.root), require=False) if translated.is_file() else None
    )
    if fm and fm.data.get("subject"):
        return translated, fm.line(("subject",))
    main = parse_front_matter(issue.path / "issue.md", Problems(config.root), require=False)
    explicit = main.data.get("subject") if main else None
    if main and explicit and (not isinstance(explicit, dict) or source in explicit):
        return issue.path / "issue.md", main.line(("subject", source))
    if fm and fm.data.get("title"):
        return translated, fm.line(("title",))
    key = "subject" if main and "subject" in main.data else "title"
    return issue.path / "issue.md", main.line((key, source)) if main else 0


def _check_translations(issue: Issue, config: Config, editions: list[Edition], found: Problems) -> None:
    seen: set[tuple[str, str]] = set()
    for edition in editions:
        for fb in edition.fallbacks:
            if (fb.article, fb.wanted) in seen:
                continue
            seen.add((fb.article, fb.wanted))
            used = issue.path / "articles" / f"{fb.article}.{fb.used}.md"
            found.add(issue.path / "articles" / f"{fb.article}.{fb.wanted}.md", 0,
                      f"missing translation: '{fb.wanted}' editions use {found.rel(used)}", "warning")  # fmt: skip


def _check_edition(edition: Edition, config: Config, found: Problems, issue_path: Path) -> None:
    def add(message: str, severity: str = "error") -> None:
        found.add(issue_path, 0, f"edition {edition.key}: {message}", severity)

    size = len(edition.html.encode("utf-8"))
    if size > SIZE_ERROR:
        add(f"HTML is {size // 1024} KB; Gmail clips mails above ~102 KB (hiding the unsubscribe link): "
            f"shorten articles to stay under {SIZE_ERROR // 1024} KB")  # fmt: skip
    elif size > SIZE_WARNING:
        add(f"HTML is {size // 1024} KB, close to Gmail's ~102 KB clipping; keep it under {SIZE_WARNING // 1024} KB",
            "warning")  # fmt: skip
    body = _STYLE.sub("", edition.html)
    for label, text in (("HTML", body), ("text part", edition.text)):
        match = _LEFTOVER.search(text)
        if match:
            add(
                f"leftover template syntax '{match.group()}' in the {label}: check the templates and articles"
            )
    for img in _IMG.findall(body):
        if not _ALT.search(img):
            add(f"image without alt text: {img[:80]}", "warning")
    if _EMPTY_HREF.search(body):
        add('empty link (href="" or "#") in the HTML: check the templates')
    _check_footer(edition, config, body, add)


def _check_footer(edition: Edition, config: Config, body: str, report: Callable[[str], None]) -> None:
    chain = config.language_chain(edition.language)
    footer = next((config.footers[lang] for lang in chain if lang in config.footers), None)
    impressum = footer.impressum.strip() if footer else ""
    if not impressum:
        report("the footer has no Impressum: add [footer.<lang>] impressum in newsletter.toml")
    elif html.escape(impressum, quote=False) not in body and impressum not in body:
        report("the footer does not show the Impressum: check templates/partials/footer.mjml.j2")
    if not _UNSUBSCRIBE.search(body) or "[[nl:unsubscribe_url]]" not in edition.text:
        report("no visible unsubscribe link ([[nl:unsubscribe_url]]) in the footer: check the templates")


def _as_problem(line: str, default_path: str) -> Problem:
    """Turn a ``path:line: message`` (or ``path: message``) error line back into a Problem."""
    match = re.match(r"^(?P<path>[^:\s]+?)(?::(?P<line>\d+))?: (?P<message>.+)$", line, re.DOTALL)
    if match and ("/" in match["path"] or "." in match["path"]):
        return Problem(match["path"], int(match["line"] or 0), match["message"])
    return Problem(default_path, 0, line)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))
