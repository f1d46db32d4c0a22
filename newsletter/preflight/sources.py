"""The pre-flight checks that read the issue's files as written, without rendering an edition.

They need only the files and the issue's ``Outline``, so ``check`` runs them even when the issue
does not load (an editor fixing seven errors should not meet four new warnings afterwards):
subjects, articles not listed in issue.md, missing translations, an intro that opens with its own
greeting, an event ending in another zone, and at its line in every intro and article (front
matter values included): template syntax and placeholders, images (a file of the issue, never a
remote one), links. Symbolic links are never read.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from urllib.parse import unquote

from .. import paths
from ..config import Config
from ..content import Outline, Reading
from ..content.articles import ARTICLE_FILE, image_problem
from ..content.frontmatter import FrontMatter, FrontMatters, Problems
from ..mail.headers import HeaderInjection, check_header_value
from ..model import ARTICLE_PLACEHOLDERS, PLACEHOLDERS, NewsletterError, Problem
from ..render import markdown
from ..render.labels import words
from ..render.localise import same_zone, zone_label

SUBJECT_MAX = 70
LEFTOVER = re.compile(r"\{\{|\}\}|\{%|%\}")
IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
ALT = re.compile(r"""\balt\s*=\s*("[^"]*\S[^"]*"|'[^']*\S[^']*')""", re.IGNORECASE)
EMPTY_HREF = re.compile(r"""<a\b[^>]*\bhref\s*=\s*["']\s*#?\s*["']""", re.IGNORECASE)
_SRC = re.compile(r"""\bsrc\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_HREF = re.compile(r"""<a\b[^>]*\bhref\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_HTTP_HREF = re.compile(r"""\bhref\s*=\s*["'](http:[^"']*)""", re.IGNORECASE)  # an http: src is remote
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)
PLACEHOLDER_NAMES = frozenset(p[len("[[nl:") : -2] for p in PLACEHOLDERS)


@dataclass(frozen=True)
class Source:
    """One Markdown file of the issue (issue.md, issue.<lang>.md, a listed article), parsed."""

    path: Path
    front: FrontMatter


def check_sources(path: Path, config: Config, reading: Reading, files: list[Source]) -> list[Problem]:
    """Every finding the issue's files (``files``: ``sources``) give without rendering, in the order
    an editor reads them."""
    found, outline = Problems(config.root), reading.outline
    _check_subjects(path, outline, config, found, reading.fronts)
    _check_unlisted(path, outline, found)
    for source in files:
        _check_front_matter(source, found, path)
        if source.path.parent == path:  # issue.md, issue.<lang>.md: the intro
            _check_greeting(source, config, found)
        elif isinstance(source.front.data.get("event"), dict):
            _check_event_zones(source, found)
        body = source.front.body.split("\n")
        for offset, line in enumerate(body):
            check_line(source.path, source.front.body_line + offset, line, found, path)
    _check_translations(path, outline, config, found)
    return found.items


def sources(path: Path, reading: Reading, config: Config) -> list[Source]:
    """issue.md, the translated intros, then each listed article's language files (links never read),
    as ``read_issue`` parsed them (a file it did not read, e.g. when issue.md is broken, is parsed now)."""
    files = [path / "issue.md", *paths.listing(path, "", "issue.*.md")]
    languages = article_files(path, config)
    for name in (
        reading.outline.articles or languages
    ):  # issue.md unreadable: every article file, as a best guess
        files += [languages[name][lang] for lang in config.languages if lang in languages.get(name, {})]
    found = []
    for file in files:
        if paths.refusal(path, file.relative_to(path).as_posix()) is not None:  # links are never read
            continue
        front = reading.fronts.parse(file, Problems(config.root), require=False)
        if front is not None:  # broken front matter is a content error already
            found.append(Source(file, front))
    return found


def article_files(path: Path, config: Config) -> dict[str, dict[str, Path]]:
    """Article name → language → file, for the well-named article files (no links, no hidden files)."""
    result: dict[str, dict[str, Path]] = {}
    for file in paths.listing(path, "articles", "*.md"):
        match = ARTICLE_FILE.match(file.name)
        if match and match["lang"] in config.languages:
            result.setdefault(match["name"], {})[match["lang"]] = file
    return result


def _check_unlisted(path: Path, outline: Outline, found: Problems) -> None:
    if not outline.articles:  # issue.md lists none or cannot be read: that is an error already
        return
    listed = set(outline.articles)
    for file in paths.listing(path, "articles", "*.md"):
        if file.name.split(".")[0] not in listed:
            found.add(
                file, 0, "not listed under 'articles' in issue.md, so no edition contains it", "warning"
            )


def _check_translations(path: Path, outline: Outline, config: Config, found: Problems) -> None:
    """A language of the issue without the article's file: the edition falls back along the chain."""
    files = article_files(path, config)
    for name in outline.articles:
        present = files.get(name, {})
        for wanted in outline.languages:
            if not present or wanted in present:
                continue
            used = next(lang for lang in (*config.language_chain(wanted), *present) if lang in present)
            found.add(present[used].with_name(f"{name}.{wanted}.md"), 0,
                      f"missing translation: '{wanted}' editions use {found.rel(present[used])}", "warning")  # fmt: skip


# ─────────────────────────────────── lines ───────────────────────────────────


def check_line(file: Path, number: int, line: str, found: Problems, issue_dir: Path) -> None:
    """Template syntax, placeholders, images and links on one line of Markdown."""
    check_placeholders(file, number, line, found)
    if "<" not in line and "](" not in line:
        return
    fragment = markdown.to_html(line)
    check_images(file, number, fragment, found, issue_dir)
    if EMPTY_HREF.search(fragment) or re.search(r"\]\(\s*#?\s*\)", line):
        found.add(file, number, "empty link (no address or '#'): add the URL or remove the link")
    for href in _HREF.findall(fragment):
        _check_link_target(file, number, html.unescape(href).strip(), found)
    for url in _HTTP_HREF.findall(fragment):
        found.add(file, number, f"insecure link {url}: use https:// if the site supports it", "warning")


def check_images(file: Path, number: int, fragment: str, found: Problems, issue_dir: Path) -> None:
    """Every image of rendered Markdown: alt text, and a file inside the issue, never a remote URL."""
    for img in IMG.findall(fragment):
        if not ALT.search(img):
            found.add(
                file, number, "image without alt text: write ![what the picture shows](file)", "warning"
            )
        src = _SRC.search(img)
        if not src:
            continue
        url = html.unescape(src[1]).strip()
        if _SCHEME.match(url):
            found.add(file, number, _remote_image(url))
        else:
            _check_image_file(file, number, unquote(url), found, issue_dir)


def _remote_image(url: str) -> str:
    """README "No tracking": an image from elsewhere tells that site who opened the mail, and when."""
    name = unquote(url.split("?")[0].split("#")[0].rstrip("/").rsplit("/", 1)[-1]) or "photo.jpg"
    if "." not in name or "/" in name or ":" in name:
        name = "photo.jpg"
    return (
        f"remote image {url}: a mail shows only images of the issue (no tracking pixels, no pictures from "
        f"other sites); put the file in the issue's images/ folder and write images/{name} "
        "(it then travels with the mail, or loads from NEWSLETTER_PUBLIC_URL)"
    )


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
    if problem := image_problem(issue_dir, src, found.rel(issue_dir), example=", e.g. images/photo.jpg"):
        found.add(file, number, problem)


# ─────────────────────────────────── placeholders ───────────────────────────────────

_KNOWN = ", ".join(f"[[nl:{name}]]" for name in ARTICLE_PLACEHOLDERS)
_CURLY = re.compile(r"\{\{\s*(.*?)\s*\}\}|\{%.*?%\}")
_NL = re.compile(r"\[\[\s*nl\s*:(.*?)\]\]", re.IGNORECASE)  # lenient: [[nl: Email ]] is not filled either
_ALIASES = {"vorname": "first_name", "firstname": "first_name", "nachname": "last_name",
            "lastname": "last_name", "firma": "company", "anrede": "salutation", "imie": "first_name",
            "nazwisko": "last_name"}  # fmt: skip


def check_placeholders(file: Path, number: int, text: str, found: Problems) -> None:
    """``{{ … }}`` once per expression, with the [[nl:…]] spelling when there is one; an unknown
    ``[[nl:…]]`` (compose would mail it as typed)."""
    for match in _CURLY.finditer(text):
        name = _ALIASES.get(_plain_name(match[1] or ""), _plain_name(match[1] or ""))
        if name in ARTICLE_PLACEHOLDERS:
            fix = f"write [[nl:{name}]]"
        else:
            fix = f"remove it (an article may use {_KNOWN})"
        found.add(
            file, number, f"{match[0]} is not filled in articles and would reach members as typed: {fix}"
        )
    if LEFTOVER.search(_CURLY.sub("", text)):  # a lone {{ or %} (a typo, or a brace pair cut by a line break)
        found.add(file, number, "template syntax ({{ or }}, {% or %}) is not processed in articles and would "
                  f"reach members as typed: remove it (an article may use {_KNOWN})")  # fmt: skip
    for match in _NL.finditer(text):
        if match[1] in ARTICLE_PLACEHOLDERS and match[0] == f"[[nl:{match[1]}]]":
            continue
        if match[1].strip() in PLACEHOLDER_NAMES:
            what = f"{match[0]} belongs to the templates (every mail's footer and header already carry it)"
        else:
            hint = get_close_matches(_plain_name(match[1]), ARTICLE_PLACEHOLDERS, n=1, cutoff=0.7)
            what = f"unknown placeholder {match[0]}" + (f" (did you mean [[nl:{hint[0]}]]?)" if hint else "")
        found.add(file, number, f"{what}: members would get it as typed; an article may use {_KNOWN}")


def _plain_name(expression: str) -> str:
    """``member.first_name`` → ``first_name``; anything that is not a plain name → ''."""
    word = expression.strip().lower()
    return word.rsplit(".", 1)[-1] if re.fullmatch(r"[a-z_][\w.]*", word) else ""


@dataclass(frozen=True)
class Explained:
    """What the issue's own files hold that also shows up in every edition: the edition checks leave
    it to the line-exact messages above (one message at its line, not one per edition saying
    "check the templates")."""

    template_syntax: bool = False
    placeholders: frozenset[str] = frozenset()
    empty_links: bool = False
    images_without_alt: bool = False


def explained(sources: list[Source]) -> Explained:
    texts = [text for s in sources for text in (s.front.body, *_strings(s.front.data))]
    fragments = [markdown.to_html(text) for text in texts]
    return Explained(
        template_syntax=any(LEFTOVER.search(text) for text in texts),
        placeholders=frozenset(m[1] for text in texts for m in _NL.finditer(text)),
        empty_links=any(EMPTY_HREF.search(f) for f in fragments),
        images_without_alt=any(not ALT.search(img) for f in fragments for img in IMG.findall(f)),
    )


def _check_front_matter(source: Source, found: Problems, issue_dir: Path) -> None:
    """Placeholders in front matter values (title, teaser, kicker …): they are filled like the body."""
    for where, text in _strings_at(source.front.data, ()):
        if source.path.name.startswith("issue") and where[:1] == ("subject",):
            continue  # the subject is not personalised: _check_subjects says so
        check_placeholders(source.path, source.front.line(where), text, found)
        if where == ("teaser",):  # the one front matter value rendered as Markdown (render.renderer)
            check_images(source.path, source.front.line(where), markdown.inline_html(text), found, issue_dir)


def _strings(data: object) -> list[str]:
    return [text for _, text in _strings_at(data, ())]


def _strings_at(data: object, where: tuple) -> list[tuple[tuple, str]]:
    if isinstance(data, str):
        return [(where, data)]
    if isinstance(data, dict):
        return [item for key, value in data.items() for item in _strings_at(value, (*where, key))]
    if isinstance(data, list):
        return [item for index, value in enumerate(data) for item in _strings_at(value, (*where, index))]
    return []


def _check_event_zones(source: Source, found: Problems) -> None:
    """An end in another zone than the start is shown as written (localise.event_when); say so, in
    case ``America/Los_Angeles`` was meant for both or a copy-and-paste left the wrong one."""
    event, front = source.front.data["event"], source.front
    if not ("start" in event and "end" in event):
        return
    start, end = front.datetime(("event", "start")), front.datetime(("event", "end"))
    if start and end and not same_zone(start, end):
        found.add(source.path, front.line(("event", "end")), f"the event starts in {zone_label(start)} and ends "
                  f"in {zone_label(end)}; the mail and the calendar file show each time in its own zone: check "
                  "that both are meant", "warning")  # fmt: skip


# ─────────────────────────────────── greeting ───────────────────────────────────

_NAME = r"(?:\[\[nl:\w+\]\]|[^.:;?!,\n])"  # a word of the greeting, [[nl:first_name]] included
_GREETING = re.compile(
    r"^(?:\[\[nl:salutation\]\]|(?:liebe[rs]?|sehr\s+geehrte[rs]?|hallo|guten\s+(?:tag|morgen|abend)|moin"
    r"|servus|grüß\s+gott|dear|hello|hi|good\s+(?:morning|afternoon|evening)|greetings|szanown[iay]"
    rf"|drodzy|drog[ai]|dzień\s+dobry|witam|witajcie)\b{_NAME}{{0,60}}[,!])",
    re.IGNORECASE,
)


def _check_greeting(source: Source, config: Config, found: Problems) -> None:
    """The templates put the member's salutation before the intro: an intro opening with its own
    "Liebe Mitglieder und Partner," greets every member twice."""
    for offset, line in enumerate(source.front.body.split("\n")):
        if not line.strip():
            continue
        match = _GREETING.match(line.strip().lstrip("#*_> ").strip())
        if match:
            lang = (
                source.path.name.split(".")[1] if source.path.name != "issue.md" else config.default_language
            )
            try:
                ours = f" ('{words(config, lang).salutation.female.format(last='Muster')}')"
            except NewsletterError:  # a broken catalogue is reported once, by the edition checks
                ours = ""
            found.add(source.path, source.front.body_line + offset, f"the intro starts with a greeting "
                      f"('{match[0]}'), but every mail already opens with the member's salutation{ours}: "
                      "remove it, or members read two greetings", "warning")  # fmt: skip
        return


# ─────────────────────────────────── subjects ───────────────────────────────────


def _check_subjects(
    path: Path, outline: Outline, config: Config, found: Problems, fronts: FrontMatters
) -> None:
    for lang in outline.languages if outline.subject else ():
        chain = config.language_chain(lang)
        # the language whose subject the edition uses, as render.renderer.localised picks it
        source = next((code for code in chain if code in outline.subject), None)
        if source is None:
            source = "*" if "*" in outline.subject else next(iter(outline.subject), "*")
        subject = outline.subject.get(source, "")
        personal = _NL.search(subject) or _CURLY.search(subject)
        if personal:
            file, line = _subject_place(path, source, config, fronts)
            found.add(file, line, f"the subject is the same for every member, so {personal[0]} is not filled "
                      "there and would arrive as typed: remove it")  # fmt: skip
        try:
            check_header_value(subject, "the subject")
        except HeaderInjection as exc:  # a header break would end the mail's header block (PITFALLS)
            file, line = _subject_place(path, source, config, fronts)
            found.add(file, line, f"subject for '{lang}' {exc.problem}; a subject must be one line of plain "
                      "text (a line break there could inject mail headers): remove it")  # fmt: skip
            continue
        if len(subject) <= SUBJECT_MAX:
            continue
        file, line = _subject_place(path, source, config, fronts)
        found.add(file, line, f"subject for '{lang}' has {len(subject)} characters; mail clients cut it "
                  f"after about {SUBJECT_MAX}: shorten it", "warning")  # fmt: skip


def _subject_place(path: Path, source: str, config: Config, fronts: FrontMatters) -> tuple[Path, int]:
    """The file and line the subject of language ``source`` comes from (see content.issue._subject)."""
    translated = path / f"issue.{source}.md"
    readable = paths.refusal(path, translated.name) is None
    fm = fronts.parse(translated, Problems(config.root), require=False) if readable else None
    if fm and fm.data.get("subject"):
        return translated, fm.line(("subject",))
    main = fronts.parse(path / "issue.md", Problems(config.root), require=False)
    explicit = main.data.get("subject") if main else None
    if main and explicit and (not isinstance(explicit, dict) or source in explicit):
        return path / "issue.md", main.line(("subject", source))
    if fm and fm.data.get("title"):
        return translated, fm.line(("title",))
    key = "subject" if main and "subject" in main.data else "title"
    return path / "issue.md", main.line((key, source)) if main else 0
