"""What the issue page shows: the article list with each article's segments and languages, the
language matrix (where a fallback will be used), and the pre-flight's problems, each linked to
its field on this page or in the article editor.

Everything is read from the files through the content library (``writer.open_*``,
``forms.*_fields``, ``content.locate``); nothing here writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ... import paths
from ...config import Config
from ...content import writer
from ...content.articles import ARTICLE_FILE
from ...content.forms import IssueFields, TranslationFields, article_fields, issue_fields, translation_fields
from ...content.locate import FieldProblem, locate
from ...model import NewsletterError, Problem
from ...preflight import check_issue
from .drafts import input_name


@dataclass(frozen=True)
class Cell:
    """One article in one language: its own file, a fallback to another language, or nothing."""

    lang: str
    exists: bool
    fallback: str | None  # the language shown instead, when the file is missing


@dataclass(frozen=True)
class ArticleRow:
    name: str
    title: str
    segments: tuple[str, ...]  # segment names in the page's language; () = for everybody
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class LinkedProblem:
    text: str  # path:line: message
    href: str  # where its field is ("#f-subject_de", "/issues/x/articles/y/de#f-title")
    severity: str


@dataclass(frozen=True)
class IssueView:
    version: str
    fields: IssueFields
    languages: tuple[str, ...]
    articles: tuple[ArticleRow, ...]
    loose: tuple[str, ...]  # article files whose name is no longer in the list (delete them here)
    translations: dict[str, tuple[str, TranslationFields]]  # lang → (version, fields) of issue.<lang>.md


def issue_translations(
    issue_dir: Path, languages: tuple[str, ...]
) -> dict[str, tuple[str, TranslationFields]]:
    """The issue's texts in ``issue.<lang>.md`` files: where they exist, the page edits them there."""
    found = {}
    for lang in languages[1:]:
        document = writer.open_issue(issue_dir, lang)
        if document.exists:
            found[lang] = (document.version, translation_fields(document))
    return found


def issue_languages(fields: IssueFields, config: Config) -> tuple[str, ...]:
    return tuple(fields.languages or config.languages)


def read_issue_view(config: Config, issue_dir: Path, lang: str) -> IssueView:
    document = writer.open_issue(issue_dir)
    fields = issue_fields(document)
    languages = issue_languages(fields, config)
    names = writer.article_names(document)
    rows = tuple(_row(config, issue_dir, name, languages, lang) for name in names)
    translations = issue_translations(issue_dir, languages)
    return IssueView(document.version, fields, languages, rows, _loose(issue_dir, names), translations)


def _row(config: Config, issue_dir: Path, name: str, languages: tuple[str, ...], lang: str) -> ArticleRow:
    have: dict[str, bool] = {}
    for code in config.languages:
        try:
            have[code] = writer.open_article(issue_dir, name, code).exists
        except NewsletterError:
            have[code] = False
    cells = []
    for code in languages:
        fallback = (
            None if have.get(code) else next((c for c in config.language_chain(code) if have.get(c)), None)
        )
        cells.append(Cell(code, bool(have.get(code)), fallback))
    title: str = name
    segments: tuple[str, ...] = ()
    first = next((c for c in (config.default_language, *languages) if have.get(c)), None)
    if first is not None:
        fields = article_fields(writer.open_article(issue_dir, name, first))
        title = fields.title or name
        segments = tuple(
            config.segments[s].name(lang) if s in config.segments else s for s in fields.segments or ()
        )
    return ArticleRow(name, title, segments, tuple(cells))


def _loose(issue_dir: Path, names: list[str]) -> tuple[str, ...]:
    """Names of article files the list does not name (removed from the issue, files kept)."""
    if paths.refusal(issue_dir, "articles", directory=True) is not None:
        return ()
    found = []
    for relative in paths.files(issue_dir / "articles"):
        match = ARTICLE_FILE.fullmatch(relative)
        if match and "/" not in relative:
            stem = relative.rsplit(".", 2)[0]
            if stem not in names:
                found.append(stem)
    return tuple(dict.fromkeys(found))


def article_files(issue_dir: Path, name: str, config: Config) -> dict[str, str]:
    """Language → version of each file of an article (for deleting them, each at its version)."""
    found = {}
    for code in config.languages:
        document = writer.open_article(issue_dir, name, code)
        if document.exists:
            found[code] = document.version
    return found


def preflight_problems(config: Config, issue_dir: Path, slug: str) -> tuple[LinkedProblem, ...]:
    """``newsletter check`` on the files as saved, each problem linked to its field."""
    try:
        problems: tuple[Problem, ...] = tuple(check_issue(issue_dir, config).problems)
    except NewsletterError as exc:
        return tuple(LinkedProblem(line, "#issue-fields", "error") for line in exc.lines())
    return tuple(_linked(placed, slug, config) for placed in locate(problems, issue_dir, config.root))


def _linked(placed: FieldProblem, slug: str, config: Config) -> LinkedProblem:
    problem, file = placed.problem, placed.file or ""
    if file == "issue.md" or not file.startswith("articles/"):
        href = "#issue-fields"
        translated = re.fullmatch(r"issue\.([a-z]{2,3})\.md", file)
        if file == "issue.md":
            href = "#f-intro" if placed.area == "body" else _issue_anchor(placed.field, config)
        elif translated:  # issue.<lang>.md: its own inputs on this page
            lang = translated[1]
            key = str(placed.field[0]) if placed.area == "front" and placed.field else "intro"
            href = f"#f-{key}_{lang}"
        return LinkedProblem(str(problem), href, problem.severity)
    stem, lang = file.removeprefix("articles/").rsplit(".", 2)[:2]
    anchor = ""
    if placed.area == "body":
        anchor = "#f-body"
    elif placed.area == "front" and placed.field:
        anchor = f"#f-{input_name(placed.field)}"
        if placed.field[0] == "contacts" and len(placed.field) > 1:
            anchor += f"-{placed.field[1]}"
    return LinkedProblem(str(problem), f"/issues/{slug}/articles/{stem}/{lang}{anchor}", problem.severity)


def _issue_anchor(field: tuple[object, ...], config: Config) -> str:
    if not field:
        return "#issue-fields"
    key = str(field[0])
    if key in ("title", "subject", "preheader"):
        lang = str(field[1]) if len(field) > 1 else config.default_language
        return f"#f-{key}_{lang}"
    if key == "articles":
        return "#articles"
    return f"#f-{key}"


__all__ = ["ArticleRow", "Cell", "IssueView", "LinkedProblem", "article_files", "issue_languages", "issue_translations",
           "preflight_problems", "read_issue_view"]  # fmt: skip
