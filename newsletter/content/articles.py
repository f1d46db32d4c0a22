"""Article files (``articles/<name>.<lang>.md``) → ``ArticleVariants``: the article half of ``content``.

Every problem is added to the caller's ``Problems`` with the file and line it was found on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from .. import paths
from ..config import Config
from ..model import Article, ArticleVariants, Contact, Event
from .frontmatter import FrontMatter, FrontMatters, Problems

ARTICLE_KEYS = {"title": True, "segments": False, "kicker": False, "teaser": False, "date": False,
                "author": False, "image": False, "image_alt": False, "image_caption": False,
                "image_credit": False, "contacts": False, "event": False}  # fmt: skip
CONTACT_KEYS = {"name": True, "email": True, "phone": False, "role": False}
EVENT_KEYS = {"title": True, "start": True, "end": False, "location": True}
ARTICLE_FILE = re.compile(r"^(?P<name>[A-Za-z0-9][\w-]*)\.(?P<lang>[a-z]{2,3})\.md$")
_EMAIL = re.compile(r"^[^@\s:<>,;\"]+@[^@\s:<>,;\"]+\.[^@\s:<>,;\"]+$")  # no "mailto:", no "Name <…>"


def load_articles(path: Path, names: list[tuple[str, int]], config: Config, problems: Problems,
                  fronts: FrontMatters | None = None) -> list[ArticleVariants]:  # fmt: skip
    """The listed articles (name, line in issue.md) of the issue at ``path``, every language file
    that exists; problems are added, symbolic links skipped (content reports them)."""
    fronts = fronts or FrontMatters()
    files: dict[str, dict[str, Path]] = {}
    for file in paths.listing(path, "articles", "*.md"):  # no macOS ._x.de.md, lock files; links: reported
        match = ARTICLE_FILE.match(file.name)
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
            expected = problems.rel(path / "articles" / f"{name}.{config.default_language}.md")
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
            fm = fronts.parse(files[name][lang], problems)
            article = _load_article(fm, name, lang, path, config, segment_lines) if fm else None
            if article is not None:
                by_language[lang] = article
        _check_same_segments(by_language, problems, segment_lines)
        variants.append(ArticleVariants(name=name, by_language=by_language))
    return variants


def _load_article(fm: FrontMatter, name: str, lang: str, issue_dir: Path, config: Config,
                  segment_lines: dict[Path, int]) -> Article:  # fmt: skip
    file = fm.path
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
    if problem := image_problem(issue_dir, image, fm.problems.rel(issue_dir)):
        fm.problem(("image",), problem)
    return image


def image_problem(issue_dir: Path, image: str, shown_dir: str, *, example: str = "") -> str | None:
    """What is wrong with an image path an editor wrote (``image:`` here, ``![…](…)`` in the
    pre-flight check), by the one containment rule of ``paths``; None for a file of the issue."""
    reason = paths.refusal(issue_dir, image)
    if reason == paths.OUTSIDE:
        return f"image '{image}' must be inside the issue folder{example}"
    if reason == paths.LINK:
        return f"image '{image}' is (or lies in) a symbolic link: use a copy of the file"
    if reason == paths.HIDDEN:
        return f"image '{image}' is a hidden file (a name starting with '.'): rename it"
    if reason is not None:
        return f"image file '{image}' not found in {shown_dir}/"
    return None


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
        email = (fm.text((*where, "email")) if "email" in item else None) or ""  # missing: reported above
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
