"""A Word file (.docx) becomes an article: ``newsletter import`` and the desk's upload button.

``import_docx(issue_dir, data, config=…, filename="pm.docx")`` converts with mammoth (headings,
paragraphs, bold and italic, lists, links, tables as text lines, pictures), sanitises the HTML
with nh3, writes it as Markdown (``htmlmd``) and saves ``articles/<name>.<lang>.md`` through the
writer (quoted where YAML needs it, atomic, inside the issue folder). The first heading is the
title; the name defaults to a slug of it. Pictures go into ``images/`` through the upload rules
(PNG, JPEG, GIF, WebP by content, size-capped, safe names); their description in Word becomes the
alt text. The article is added at the end of the issue's article list (an office editor should
not have to open ``issue.md`` in a text editor to see it), unless the name is listed already (a
translation imported with ``--lang``).

Nothing is dropped silently: every ``Finding`` says what was left out (pictures linked from the
web, pictures too large or not a picture, embedded HTML or objects, macros, comments, footnotes,
link targets that are not http/https/mailto/tel, Word styles without a counterpart) or what the
editor should check (a picture without a description, a table flattened to text, a title taken
from a paragraph). ``UnreadableWord`` (exit 2): not a .docx at all; ``RefusedError`` (exit 2): no
such issue; ``WriteError`` (exit 1): the article exists already, a bad name or language; nothing is
written then.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import mammoth
import nh3

from .. import limits
from ..config import Config
from ..limits import IMAGE_MAX_BYTES, WORD_FILE_MAX_BYTES, WORD_PART_MAX_BYTES
from ..model import NewsletterError, RefusedError
from . import htmlmd
from .document import ABSENT, Document, WriteError
from .forms import ArticleFields
from .slugs import slug
from .uploads import ImageRefused, StoredImage, check_image, store_image
from .writer import (
    add_article,
    article_names,
    article_path,
    check_language,
    open_article,
    open_issue,
    save_article,
)

_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "strong", "b", "em", "i", "ul", "ol", "li", "a",
         "img", "table", "thead", "tbody", "tr", "td", "th", "sup", "sub"}  # fmt: skip
_ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt"}, "li": {"id"}}
_PLACEHOLDER = "word-picture-{}"  # the src of picture n until it is stored


class UnreadableWord(NewsletterError):
    """The file is not a Word document this tool can read (exit 2); nothing was written."""

    exit_code = 2


@dataclass(frozen=True)
class Finding:
    kind: Literal["left out", "check"]
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass(frozen=True)
class Converted:
    """A Word file as an article, nothing written yet: ``body`` names picture n as ``word-picture-n``."""

    title: str | None
    body: str
    pictures: tuple[
        tuple[int, bytes, str], ...
    ]  # (n, bytes, kind) of each picture kept: the n-th in the file
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class ImportedArticle:
    name: str
    lang: str
    article: Document  # the file as written
    issue: Document | None  # issue.md with the name added; None when it was listed already
    images: tuple[StoredImage, ...]
    findings: tuple[Finding, ...]


def import_docx(issue_dir: Path, data: bytes, *, config: Config, filename: str = "the Word file",
                name: str | None = None, lang: str | None = None) -> ImportedArticle:  # fmt: skip
    """Convert ``data`` and write it as ``articles/<name>.<lang>.md`` of the issue at ``issue_dir``."""
    lang = lang or config.default_language
    check_language(lang, config)
    issue = open_issue(issue_dir)
    if not issue.exists:
        raise RefusedError(f"{issue_dir.name}: no issue.md there; name an existing issue or start one "
                           "with `newsletter new SLUG`")  # fmt: skip
    converted = convert_docx(data, filename=filename)
    findings = list(converted.findings)
    title = converted.title or _title_from_body(converted, findings) or Path(filename).stem
    name = name or slug(title) or "artikel"
    relative = article_path(name, lang)
    if open_article(issue_dir, name, lang).exists:
        raise WriteError(f"{relative} exists already; nothing was imported (choose another name with --name)")
    body, images = _store_pictures(issue_dir, name, converted, findings)
    fields = ArticleFields(title=title, body=body)
    if name in article_names(issue):
        return ImportedArticle(name, lang, save_article(issue_dir, name, lang, fields, version=ABSENT), None,
                               images, tuple(findings))  # fmt: skip
    added = add_article(issue_dir, name, fields, lang=lang, version=issue.version, config=config)
    return ImportedArticle(name, lang, added.article, added.issue, images, tuple(findings))


def convert_docx(data: bytes, *, filename: str = "the Word file") -> Converted:
    """The article a Word file holds (``UnreadableWord`` when it is none); nothing is written."""
    findings = _inspect(data, filename)
    pictures: list[tuple[int, bytes, str]] = []
    seen = [0]  # pictures met so far, kept or not: "picture 3" is the third picture in the file
    kept_bytes = [0]

    def picture(image: Any) -> dict[str, str]:
        seen[0] += 1
        number = seen[0]
        most, room = limits.WORD_PICTURES_MAX, limits.WORD_PICTURES_MAX_BYTES - kept_bytes[0]
        too_many = (f"more than {most} pictures or {limits.WORD_PICTURES_MAX_BYTES // (1024 * 1024)} MB "
                    "of pictures in one file: import the rest in a second file")  # fmt: skip
        if len(pictures) >= most or room <= 0:
            findings.append(Finding("left out", f"picture {number} ({too_many})"))
            return {}
        try:
            with image.open() as stream:
                kept = check_image(f"picture {number}", stream, limit=IMAGE_MAX_BYTES)
        except ImageRefused as exc:
            findings.append(Finding("left out", f"picture {number} ({exc.reason})"))
            return {}
        if len(kept[0]) > room:
            findings.append(Finding("left out", f"picture {number} ({too_many})"))
            return {}
        kept_bytes[0] += len(kept[0])
        pictures.append((number, *kept))
        return {"src": _PLACEHOLDER.format(number), "alt": (image.alt_text or "").strip()}

    try:
        result = mammoth.convert_to_html(io.BytesIO(data), convert_image=mammoth.images.img_element(picture),
                                         external_file_access=False)  # fmt: skip
    except Exception as exc:  # mammoth raises KeyError, ValueError, XML errors for broken parts
        raise UnreadableWord(f"{filename}: cannot be read as a Word document ({_short(exc)}); "
                             "open it in Word and save it again as .docx") from None  # fmt: skip
    findings += [f for f in map(_finding, result.messages) if f is not None]
    raw = htmlmd.parse_html(result.value)
    clean = nh3.clean(result.value, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes=set(htmlmd.SAFE_SCHEMES),
                      link_rel=None, strip_comments=True)  # fmt: skip
    conversion = htmlmd.markdown_of(clean)
    for text, href in htmlmd.links(raw):
        if not htmlmd.is_safe_link(href) and not href.startswith("#"):
            findings.append(Finding("left out", f"the target of the link '{text.strip()}' ({href[:80]}): "
                                    "only http, https, mailto and tel links are kept"))  # fmt: skip
    findings += [
        Finding("left out", f"footnote {n}: „{text[:80]}“") for n, text in enumerate(conversion.footnotes, 1)
    ]
    if conversion.tables:
        findings.append(Finding("check", f"{conversion.tables} table(s) became text, one line per row "
                                         "(cells separated by ·)"))  # fmt: skip
    return Converted(conversion.title, conversion.body, tuple(pictures), tuple(_unique(findings)))


def _inspect(data: bytes, filename: str) -> list[Finding]:
    """Refuse what is no .docx; list what mammoth would skip without a word (comments, objects)."""
    if len(data) > WORD_FILE_MAX_BYTES:
        raise UnreadableWord(f"{filename}: larger than {WORD_FILE_MAX_BYTES // (1024 * 1024)} MB; "
                             "save the pictures smaller in Word and try again")  # fmt: skip
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableWord(
            f"{filename}: an old Word 97–2003 .doc file; open it in Word and save it as .docx"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = {info.filename: info for info in archive.infolist()}
    except (zipfile.BadZipFile, ValueError, OSError):
        what = "the file is empty" if not data else "not a Word document"
        raise UnreadableWord(
            f"{filename}: {what} (.docx); save it from Word as .docx and try again"
        ) from None
    if "word/document.xml" not in entries:
        raise UnreadableWord(
            f"{filename}: a zip file without a Word document in it; save it from Word as .docx"
        )
    if any(info.file_size > WORD_PART_MAX_BYTES for info in entries.values()):
        raise UnreadableWord(f"{filename}: a part of it unpacks to more than "
                             f"{WORD_PART_MAX_BYTES // (1024 * 1024)} MB; this is no ordinary Word file")  # fmt: skip
    if sum(info.file_size for info in entries.values()) > limits.WORD_TOTAL_MAX_BYTES:
        raise UnreadableWord(f"{filename}: its parts unpack to more than "
                             f"{limits.WORD_TOTAL_MAX_BYTES // (1024 * 1024)} MB in all; this is no ordinary "
                             "Word file")  # fmt: skip
    findings = []
    document = _part(archive, "word/document.xml")
    comments = len(re.findall(rb"<w:comment\b", _part(archive, "word/comments.xml")))
    if comments:
        findings.append(Finding("left out", f"{comments} comment(s) of the reviewers"))
    objects = len(re.findall(rb"<w:object\b|<w:embed\w*\b|<o:OLEObject\b", document))
    if objects:
        findings.append(Finding("left out", f"{objects} embedded object(s) (e.g. an Excel table or a video)"))
    if any(name.endswith("vbaProject.bin") for name in entries):
        findings.append(Finding("left out", "the macros of the file"))
    return findings


def _part(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        with archive.open(name) as stream:
            return stream.read(WORD_PART_MAX_BYTES)
    except (KeyError, zipfile.BadZipFile, OSError):
        return b""


_STYLE = re.compile(r"Unrecognised (paragraph|run) style: '?([^']*?)'? \(Style ID: ([^)]*)\)")
_ELEMENT = re.compile(r"An unrecognised element was ignored: (\S+)")
_EXTERNAL = re.compile(r"could not (?:open|find) external image:? '([^']*)'")


def _finding(message: Any) -> Finding | None:
    text = str(message.message)
    if "was referenced but not defined" in text or "is unlikely to display in web browsers" in text:
        return None  # an undefined style's text is there as plain text; pictures are checked by content
    style = _STYLE.search(text)
    if style:
        if style[3] in ("Hyperlink", "CommentReference"):
            return None  # links are links; comments are listed by themselves
        shown = style[2] if style[2] != "None" else style[3]
        return Finding("left out", f"the look of the Word style '{shown}' ({style[1]}s became plain text)")
    element = _ELEMENT.search(text)
    if element:
        what = (
            "embedded HTML (w:altChunk)" if element[1] == "w:altChunk" else f"a Word element ({element[1]})"
        )
        return Finding("left out", what)
    external = _EXTERNAL.search(text)
    if external:
        return Finding("left out", f"a picture linked from {external[1][:80]} (not inside the file): "
                                   "insert the picture itself in Word")  # fmt: skip
    return Finding("left out", text.splitlines()[0][:160])


def _title_from_body(converted: Converted, findings: list[Finding]) -> str | None:
    first = next(
        (line for line in converted.body.split("\n") if line.strip() and "word-picture-" not in line), None
    )
    if first is None:
        return None
    findings.append(Finding("check", "no heading in the file: the first paragraph became the title"))
    return re.sub(r"\\(.)", r"\1", first.rstrip("\\")).replace("**", "").strip()


def _store_pictures(issue_dir: Path, name: str, converted: Converted,
                    findings: list[Finding]) -> tuple[str, tuple[StoredImage, ...]]:  # fmt: skip
    body = converted.body
    stored = []
    for number, data, kind in converted.pictures:
        image = store_image(issue_dir, f"{name}-{number}.{kind}", data)
        stored.append(image)
        body = body.replace(f"]({_PLACEHOLDER.format(number)})", f"]({image.relative})")
        if f"![]({image.relative})" in body:
            findings.append(Finding("check", f"picture {number} ({image.relative}) has no description in "
                                    "Word: write what it shows between the brackets of ![…]"))  # fmt: skip
    return body, tuple(stored)


def _unique(findings: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))


def _short(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:120]
