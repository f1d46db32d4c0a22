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

from . import paths
from .config import Config
from .frontmatter import FrontMatter, Problems, parse_front_matter
from .model import Article, ArticleVariants, Contact, ContentError, Event, Issue

ISSUE_KEYS = {"title": True, "date": True, "number": False, "subject": False, "preheader": False,
              "articles": True, "languages": False}  # fmt: skip
ISSUE_LANG_KEYS = {"title": False, "subject": False, "preheader": False}
ARTICLE_KEYS = {"title": True, "segments": False, "kicker": False, "teaser": False, "date": False,
                "author": False, "image": False, "image_alt": False, "image_caption": False,
                "image_credit": False, "contacts": False, "event": False}  # fmt: skip
CONTACT_KEYS = {"name": True, "email": True, "phone": False, "role": False}
EVENT_KEYS = {"title": True, "start": True, "end": False, "location": True}
_ARTICLE_FILE = re.compile(r"^(?P<name>[A-Za-z0-9][\w-]*)\.(?P<lang>[a-z]{2,3})\.md$")
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # safe in URLs and file names as it is
_EMAIL = re.compile(r"^[^@\s:<>,;\"]+@[^@\s:<>,;\"]+\.[^@\s:<>,;\"]+$")  # no "mailto:", no "Name <…>"


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


def load_issue(path: Path, config: Config) -> Issue:
    """Read and validate an issue folder; raise ContentError with every problem found."""
    path = resolve_issue_path(path, config)
    problems = Problems(config.root)
    issue_file = path / "issue.md"
    if not issue_file.is_file():
        problems.add(path, 0, "no issue.md here; create one with `newsletter new SLUG` or check the path")
        raise ContentError(problems.items)
    if not _SLUG.match(path.resolve().name):
        problems.add(
            path,
            0,
            f"the folder name '{path.resolve().name}' becomes part of web-archive, image and calendar links; "
            "rename the folder using letters, digits, '.', '_' and '-' only (e.g. 2022-03-laenderfokus)",
        )
    if _report_links(path, problems) and issue_file.is_symlink():
        raise ContentError(problems.items)
    fm = parse_front_matter(issue_file, problems)
    head = _issue_head(fm, config, problems) if fm else {}
    variants = _load_articles(path, head.get("articles", []), fm, config, problems)
    translated = _load_translations(path, config, problems)
    if problems.items:
        raise ContentError(problems.items)
    assert fm is not None
    languages = head.get("languages") or _languages_of(variants, config)
    return LocalisedIssue(
        slug=path.resolve().name,
        path=path,
        title=_merge(head["title"], translated, "title"),
        date=head["date"],
        subject=_subject(head, translated),
        preheader=_merge(head.get("preheader") or {}, translated, "preheader"),
        intro=fm.body,
        intro_line=fm.body_line,
        articles=tuple(variants),
        languages=tuple(languages),
        number=head.get("number"),
        intros={lang: t.body for lang, t in translated.items() if t.body.strip()},
    )


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


def _load_translations(path: Path, config: Config, problems: Problems) -> dict[str, FrontMatter]:
    found: dict[str, FrontMatter] = {}
    for file in sorted(path.glob("issue.*.md")):
        if file.is_symlink():  # reported by _report_links, never read
            continue
        lang = file.name.split(".")[1]
        if lang not in config.languages:
            problems.add(
                file,
                0,
                f"unknown language '{lang}' in the file name (configured: {', '.join(config.languages)})",
            )
            continue
        fm = parse_front_matter(file, problems, require=False)
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


# ─────────────────────────────────── articles ───────────────────────────────────


def _load_articles(path: Path, names: list[tuple[str, int]], issue_fm: FrontMatter | None,
                   config: Config, problems: Problems) -> list[ArticleVariants]:  # fmt: skip
    folder = path / "articles"
    files: dict[str, dict[str, Path]] = {}
    for file in sorted(folder.glob("*.md")) if folder.is_dir() and not folder.is_symlink() else []:
        if file.name.startswith(".") or file.is_symlink():  # macOS ._x.de.md, lock files; links: reported
            continue
        match = _ARTICLE_FILE.match(file.name)
        if not match:
            problems.add(file, 0, "article files are named <name>.<lang>.md, e.g. silesia.de.md")
        elif match["lang"] not in config.languages:
            problems.add(file, 0, f"unknown language '{match['lang']}' in the file name "
                                  f"(configured: {', '.join(config.languages)})")  # fmt: skip
        else:
            files.setdefault(match["name"], {})[match["lang"]] = file
    variants = []
    for name, line in names:
        if name not in files:
            expected = problems.rel(folder / f"{name}.{config.default_language}.md")
            other = next((n for n in files if n.lower() == name.lower()), None)
            if other is not None:  # file names are case-sensitive (not on the editor's laptop, perhaps)
                found = problems.rel(next(iter(files[other].values())))
                problems.add(path / "issue.md", line, f"article '{name}' has no file, but {found} differs "
                             f"only in upper/lower case; write '{other}' here or rename the file")  # fmt: skip
            else:
                problems.add(path / "issue.md", line, f"article '{name}' has no file; create {expected}")
            continue
        by_language = {}
        segment_lines: dict[Path, int] = {}
        for lang in sorted(files[name], key=config.languages.index):
            article = _load_article(files[name][lang], name, lang, path, config, problems, segment_lines)
            if article is not None:
                by_language[lang] = article
        _check_same_segments(by_language, problems, segment_lines)
        variants.append(ArticleVariants(name=name, by_language=by_language))
    return variants


def _load_article(file: Path, name: str, lang: str, issue_dir: Path, config: Config,
                  problems: Problems, segment_lines: dict[Path, int]) -> Article | None:  # fmt: skip
    fm = parse_front_matter(file, problems)
    if fm is None:
        return None
    segment_lines[file] = fm.line(("segments",))
    fm.check_keys((), ARTICLE_KEYS, "an article")
    data = fm.data
    text = {k: fm.text((k,)) for k in ("title", "kicker", "teaser", "author", "image_alt",
                                        "image_caption", "image_credit") if k in data}  # fmt: skip
    image = _image(fm, issue_dir) if "image" in data else None
    return Article(
        name=name,
        language=lang,
        path=file,
        title=text.get("title") or "",
        body=fm.body,
        body_line=fm.body_line,
        segments=_segments(fm, config) if "segments" in data else None,
        kicker=text.get("kicker"),
        teaser=text.get("teaser"),
        date=fm.date(("date",)) if "date" in data else None,
        author=text.get("author"),
        image=image,
        image_alt=text.get("image_alt"),
        image_caption=text.get("image_caption"),
        image_credit=text.get("image_credit"),
        contacts=_contacts(fm) if "contacts" in data else (),
        event=_event(fm) if "event" in data else None,
    )


def _segments(fm: FrontMatter, config: Config) -> frozenset[str] | None:
    value = fm.data["segments"]
    if isinstance(value, str):  # "segments: poland, usa" without brackets means the same list
        value = [part for part in re.split(r"[,;|]", value) if part.strip()]
    if not isinstance(value, list):
        fm.problem(("segments",), "segments must be a list of segment ids, e.g. [poland]")
        return None
    known = sorted(config.segments)
    result = set()
    for index, seg in enumerate(value):
        where = ("segments", index) if isinstance(fm.data["segments"], list) else ("segments",)
        seg_id = str(seg).strip().lower()
        if seg_id not in config.segments:
            hint = _suggest(seg_id, known)
            tail = f"did you mean '{hint}'?" if hint else f"known: {', '.join(known)}"
            fm.problem(where, f"unknown segment '{seg}' ({tail})")
        else:
            result.add(seg_id)
    return frozenset(result)


def _image(fm: FrontMatter, issue_dir: Path) -> str | None:
    image = fm.text(("image",))
    if not image:
        return None
    if not fm.data.get("image_alt"):
        fm.problem(("image",), "image needs image_alt: describe the picture for readers who cannot see it")
    if re.match(r"^[a-z]+:", image, re.IGNORECASE):
        fm.problem(("image",), f"image '{image}' must be a file in the issue folder, e.g. images/photo.jpg")
        return None
    if "\\" in image:  # a path copied from Windows Explorer
        fm.problem(("image",), f"image '{image}': write the path with / instead of \\, "
                               f"e.g. {image.replace(chr(92), '/')}")  # fmt: skip
        return image
    image = paths.editor_path(image)
    reason = paths.refusal(issue_dir, image)
    if reason == paths.OUTSIDE:
        fm.problem(("image",), f"image '{image}' must be inside the issue folder")
    elif reason == paths.LINK:
        fm.problem(("image",), f"image '{image}' is (or lies in) a symbolic link: use a copy of the file")
    elif reason == paths.HIDDEN:
        fm.problem(("image",), f"image '{image}' is a hidden file (a name starting with '.'): rename it")
    elif reason is not None:
        fm.problem(("image",), f"image file '{image}' not found in {fm.problems.rel(issue_dir)}/")
    return image


def _contacts(fm: FrontMatter) -> tuple[Contact, ...]:
    value = fm.data["contacts"]
    if isinstance(value, dict):  # a single contact written without the list dash
        value = fm.data["contacts"] = [value]
        for key, line in list(fm.lines.items()):
            if key[:1] == ("contacts",) and len(key) > 1:
                fm.lines[("contacts", 0, *key[1:])] = line
        fm.lines[("contacts", 0)] = fm.line(("contacts",))
        for key, source in list(fm.raw.items()):
            if key[:1] == ("contacts",) and len(key) > 1:
                fm.raw[("contacts", 0, *key[1:])] = source
    if not isinstance(value, list):
        fm.problem(("contacts",), "contacts must be a list of {name, email, phone?, role?}")
        return ()
    result = []
    for index, item in enumerate(value):
        where = ("contacts", index)
        if not isinstance(item, dict):
            fm.problem(where, "each contact must be a mapping with name and email")
            continue
        fm.check_keys(where, CONTACT_KEYS, "a contact")
        email = fm.text((*where, "email")) or ""
        if email and not _EMAIL.match(email):
            fm.problem((*where, "email"), f"contact email '{email}' is not an e-mail address")
        fields = {k: fm.text((*where, k)) for k in ("name", "phone", "role") if k in item}
        if "name" in item and "email" in item:
            result.append(Contact(name=fields.get("name") or "", email=email,
                                  phone=fields.get("phone"), role=fields.get("role")))  # fmt: skip
    return tuple(result)


def _event(fm: FrontMatter) -> Event | None:
    where = ("event",)
    if not isinstance(fm.data["event"], dict):
        fm.problem(where, "event must be a mapping with title, start, end and location")
        return None
    fm.check_keys(where, EVENT_KEYS, "an event")
    item = fm.data["event"]
    start = fm.datetime((*where, "start")) if "start" in item else None
    end = fm.datetime((*where, "end")) if "end" in item else None
    if start and end and end < start:
        fm.problem((*where, "end"), "event end is before its start")
    if not start or "title" not in item or "location" not in item:
        return None
    return Event(title=fm.text((*where, "title")) or "", start=start, end=end,
                 location=fm.text((*where, "location")))  # fmt: skip


def _check_same_segments(by_language: Mapping[str, Article], problems: Problems,
                         segment_lines: Mapping[Path, int]) -> None:  # fmt: skip
    items = list(by_language.values())
    for other in items[1:]:
        if other.segments != items[0].segments:
            problems.add(other.path, segment_lines.get(other.path, 1), f"segments differ from {problems.rel(items[0].path)}; "
                                        "all language versions of an article go to the same segments")  # fmt: skip


def _suggest(word: str, candidates: list[str]) -> str | None:
    from difflib import get_close_matches

    matches = get_close_matches(word, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


def issue_images(issue: Issue) -> list[str]:
    """Relative paths of the images to publish with an issue: every file under images/ and every
    article ``image:``; each path is still checked (paths.contained) by whoever reads it."""
    found = [f"images/{name}" for name in paths.files(issue.path / "images")]
    found += [a.image for v in issue.articles for a in v.by_language.values() if a.image]
    return list(dict.fromkeys(found))
