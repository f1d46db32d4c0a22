"""Issue and article files → a validated ``Issue``; every problem with its path and line.

An issue folder holds ``issue.md`` (optionally ``issue.<lang>.md`` with a translated title,
subject, preheader and intro) and ``articles/<name>.<lang>.md``. Each file is YAML front matter
between ``---`` lines followed by Markdown. ``load_issue`` collects every problem it finds and
raises one ``ContentError`` holding all of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import paths
from ..config import Config
from ..model import ArticleVariants, ContentError, Issue, Problem
from .articles import load_articles
from .frontmatter import FrontMatter, FrontMatters, Problems

ISSUE_KEYS = {"title": True, "date": True, "number": False, "subject": False, "preheader": False,
              "articles": True, "languages": False}  # fmt: skip
ISSUE_LANG_KEYS = {"title": False, "subject": False, "preheader": False}
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # safe in URLs and file names as it is


@dataclass(frozen=True)
class LocalisedIssue(Issue):
    """An ``Issue`` whose intro may be translated (``issue.<lang>.md``): language → Markdown."""

    intros: Mapping[str, str] = field(default_factory=dict)


def resolve_issue_path(issue: str | Path, config: Config) -> Path:
    """ISSUE as given on the command line: a folder, an issue.md, or a slug under issues/."""
    path = Path(issue)
    if path.name == "issue.md":
        path = path.parent
    if not path.is_dir() and not path.is_absolute() and (config.issues_dir / path).is_dir():
        path = config.issues_dir / path
    return path


@dataclass(frozen=True)
class Outline:
    """What ``check`` can still read of an issue that does not load, for the checks that need no
    rendering: the subject per language, the languages offered, the article names in issue.md."""

    subject: Mapping[str, str] = field(default_factory=dict)
    languages: tuple[str, ...] = ()
    articles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reading:
    """One pass over an issue folder: the Issue (None when there are errors), its outline, the errors,
    and every front matter it parsed (``check`` reads those again instead of the files)."""

    issue: Issue | None
    outline: Outline
    problems: tuple[Problem, ...]
    fronts: FrontMatters = field(default_factory=FrontMatters)


def load_issue(path: Path, config: Config) -> Issue:
    """Read and validate an issue folder; raise ContentError with every problem found."""
    reading = read_issue(path, config)
    if reading.issue is None:
        raise ContentError(reading.problems)
    return reading.issue


def read_issue(path: Path, config: Config) -> Reading:
    """Read an issue folder, collecting every problem instead of stopping at the first."""
    path = resolve_issue_path(path, config)
    problems = Problems(config.root)
    fronts = FrontMatters()
    issue_file = path / "issue.md"
    if not issue_file.is_file():
        problems.add(path, 0, "no issue.md here; create one with `newsletter new SLUG` or check the path")
        return Reading(None, Outline(), tuple(problems.items), fronts)
    if not _SLUG.match(path.resolve().name):
        problems.add(
            path,
            0,
            f"the folder name '{path.resolve().name}' becomes part of web-archive, image and calendar links; "
            "rename the folder using letters, digits, '.', '_' and '-' only (e.g. 2022-03-laenderfokus)",
        )
    if _report_links(path, problems) and paths.refusal(path, "issue.md") == paths.LINK:
        return Reading(None, Outline(), tuple(problems.items), fronts)
    fm = fronts.parse(issue_file, problems)
    head = _issue_head(fm, config, problems) if fm else {}
    variants = load_articles(path, head.get("articles", []), config, problems, fronts)
    translated = _load_translations(path, config, problems, fronts)
    languages = tuple(head.get("languages") or _languages_of(variants, config))
    outline = Outline(
        subject=_subject(head, translated) if "title" in head or "subject" in head else {},
        languages=languages,
        articles=tuple(name for name, _ in head.get("articles", [])),
    )
    if problems.items or fm is None:
        return Reading(None, outline, tuple(problems.items), fronts)
    issue = LocalisedIssue(
        slug=path.resolve().name,
        path=path,
        title=_merge(head["title"], translated, "title"),
        date=head["date"],
        subject=outline.subject,
        preheader=_merge(head.get("preheader") or {}, translated, "preheader"),
        intro=fm.body,
        intro_line=fm.body_line,
        articles=tuple(variants),
        languages=languages,
        number=head.get("number"),
        intros={lang: t.body for lang, t in translated.items() if t.body.strip()},
    )
    return Reading(issue, outline, (), fronts)


LINK_REFUSED = (
    "is a symbolic link; nothing outside the issue folder is read, copied or published, and a link "
    "is refused even when it points inside: put a copy of the file here instead"
)


def _report_links(path: Path, problems: Problems) -> bool:
    """Every symbolic link in the issue folder is an error; the loader then reads none of them."""
    links = list(paths.symlinks(path))
    for link in links:
        problems.add(link, 0, LINK_REFUSED)
    return bool(links)


# ─────────────────────────────────── issue.md ───────────────────────────────────


def _issue_head(fm: FrontMatter, config: Config, problems: Problems) -> dict[str, Any]:
    fm.check_keys((), ISSUE_KEYS, "issue.md")
    out: dict[str, Any] = {}
    for key in ("title", "subject", "preheader"):
        if key in fm.data:
            value = _per_language(fm, key, config)
            if value is not None:
                out[key] = value
    if "date" in fm.data:
        out["date"] = fm.date(("date",))
    if "number" in fm.data:
        number = fm.data["number"]
        if isinstance(number, bool) or not isinstance(number, int):
            fm.problem(("number",), f"number must be a whole number, not '{number}'")
        else:
            out["number"] = number
    if "articles" in fm.data:
        out["articles"] = _article_names(fm)
    if "languages" in fm.data:
        out["languages"] = _issue_languages(fm, config)
    return out


def _per_language(fm: FrontMatter, key: str, config: Config) -> dict[str, str] | None:
    value = fm.data[key]
    if isinstance(value, str) and value.strip():
        return {"*": value.strip()}
    if isinstance(value, dict) and value:
        result: dict[str, str] = {}
        for lang, text in value.items():
            if lang not in config.languages:
                fm.problem(
                    (key, lang),
                    f"unknown language '{lang}' in {key} (configured: {', '.join(config.languages)})",
                )
            elif not isinstance(text, str) or not text.strip():
                fm.problem((key, lang), f"{key} for '{lang}' must be non-empty text")
            else:
                result[str(lang)] = text.strip()
        return result
    fm.problem((key,), f"{key} must be text or a mapping per language like {{de: …, en: …}}")
    return None


def _article_names(fm: FrontMatter) -> list[tuple[str, int]]:
    value = fm.data["articles"]
    if not isinstance(value, list) or not value:
        fm.problem(("articles",), "articles must be a list of article names, e.g. [silesia, delegation]")
        return []
    names: list[tuple[str, int]] = []
    seen: set[str] = set()
    for index, name in enumerate(value):
        if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9][\w-]*$", name):
            fm.problem(
                ("articles", index), f"article name '{name}' must be a file stem like 'silesia-cluster'"
            )
        elif name in seen:
            fm.problem(("articles", index), f"article '{name}' is listed twice")
        else:
            seen.add(name)
            names.append((name, fm.line(("articles", index))))
    return names


def _issue_languages(fm: FrontMatter, config: Config) -> list[str]:
    value = fm.data["languages"]
    if not isinstance(value, list) or not value:
        fm.problem(("languages",), "languages must be a list like [de, en]")
        return []
    result = []
    for index, lang in enumerate(value):
        if lang not in config.languages:
            fm.problem(
                ("languages", index), f"unknown language '{lang}' (configured: {', '.join(config.languages)})"
            )
        elif lang not in result:
            result.append(lang)
    return result


def _load_translations(
    path: Path, config: Config, problems: Problems, fronts: FrontMatters
) -> dict[str, FrontMatter]:
    found: dict[str, FrontMatter] = {}
    for file in paths.listing(path, "", "issue.*.md"):  # links are reported by _report_links, never read
        lang = file.name.split(".")[1]
        if lang not in config.languages:
            problems.add(
                file,
                0,
                f"unknown language '{lang}' in the file name (configured: {', '.join(config.languages)})",
            )
            continue
        fm = fronts.parse(file, problems, require=False)
        if fm is None:
            continue
        fm.check_keys((), ISSUE_LANG_KEYS, "issue.<lang>.md")
        for key in ISSUE_LANG_KEYS:
            if key in fm.data and not (isinstance(fm.data[key], str) and fm.data[key].strip()):
                fm.problem((key,), f"{key} must be non-empty text")
        found[lang] = fm
    return found


def _merge(base: Mapping[str, str], translated: Mapping[str, FrontMatter], *keys: str) -> dict[str, str]:
    result = dict(base)
    for lang, fm in translated.items():
        for key in keys:
            value = fm.data.get(key)
            if isinstance(value, str) and value.strip():
                result[lang] = value.strip()
                break
    return result


def _subject(head: Mapping[str, Any], translated: Mapping[str, FrontMatter]) -> dict[str, str]:
    """Per language: issue.<lang>.md's subject, else issue.md's subject for that language, else the
    title of issue.<lang>.md, else issue.md's subject or title."""
    result = _merge(head.get("subject") or head["title"], translated, "subject", "title")
    explicit = head.get("subject") or {}
    for lang, fm in translated.items():
        if lang in explicit and not _merge({}, {lang: fm}, "subject"):
            result[lang] = explicit[lang]
    return result


def _languages_of(variants: list[ArticleVariants], config: Config) -> list[str]:
    present = {lang for v in variants for lang in v.by_language} | {config.default_language}
    return [lang for lang in config.languages if lang in present]


def issue_images(issue: Issue) -> list[str]:
    """Relative paths of the images to publish with an issue: every file under images/ and every
    article ``image:``; each path is still checked (paths.contained) by whoever reads it."""
    found = [f"images/{name}" for name in paths.files(issue.path / "images")]
    found += [a.image for v in issue.articles for a in v.by_language.values() if a.image]
    return list(dict.fromkeys(found))
