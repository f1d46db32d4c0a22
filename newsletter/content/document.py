"""One front-matter file read for editing and written back the way a careful person would.

``read_document(issue_dir, "articles/x.de.md")`` gives the file's front matter as a ruamel.yaml
round-trip mapping, its Markdown body and its ``version`` (sha256 of the bytes; ``ABSENT`` for a
file that does not exist yet). A ``Draft`` collects changes (set or remove a key, change a nested
value in place and ``touch`` its key, replace the body) and ``save_draft`` writes it:

- **Untouched keys stay byte for byte as they were.** The new text is spliced: every top-level key
  that was not changed keeps its original lines (quoting, spacing, comments); only changed keys are
  written by ruamel.yaml, which keeps the comments and order inside them. Comments before the first
  key, and comment lines after a removed key, are kept.
- **Values YAML would misread are quoted** (``yaml_text``): the loader reads YAML 1.1 (``no`` is
  false, ``10:30`` is 630, ``+4937…`` a number), ruamel.yaml 1.2; a text is written plain only
  when both read it back as that text.
- **It reads back as meant**: before writing, the new text is parsed by the loader that ``check``
  uses, and every key must read as intended (untouched keys exactly as before); otherwise nothing
  is written (``WriteError``).
- **Nothing is silently overwritten**: the save names the version it was based on; when the file
  changed on disk since, ``StaleFile`` carries its current text and version and nothing is written.
- Writes are atomic and contained (``paths.write_contained``): nothing outside the issue folder,
  never through a link. A file with a BOM or Windows line ends keeps them.
"""

from __future__ import annotations

import copy
import hashlib
import io
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError as RuamelError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from .. import paths
from ..model import NewsletterError
from .frontmatter import FrontMatter, KeyPath, Problems, closing_line, parse_text
from .yamltext import assign

ABSENT = "absent"  # the version of a file that does not exist (yet): pass it to create one


class StaleFile(NewsletterError):
    """The file changed on disk since it was read: nothing was written. ``current_text`` (None: the
    file is gone) and ``current_version`` let the desk show both versions and save again."""

    def __init__(self, relative: str, current_text: str | None, current_version: str) -> None:
        gone = "was deleted" if current_text is None else "was changed"
        super().__init__(f"{relative} {gone} on disk after it was opened; nothing was saved: "
                         "compare both versions, then save again")  # fmt: skip
        self.relative = relative
        self.current_text = current_text
        self.current_version = current_version


class WriteError(NewsletterError):
    """A save that cannot be done as asked (refused path, unreadable file, bad value); nothing written."""


@dataclass(frozen=True)
class Document:
    """One file of an issue as read for editing. ``front`` is a fresh round-trip mapping (changing
    it writes nothing: make a ``Draft``); ``text`` is None for a file that does not exist."""

    issue_dir: Path
    relative: str  # inside the issue folder, e.g. "articles/schlesien.de.md"
    version: str
    text: str | None
    front: CommentedMap
    body: str
    fenced: bool = True  # False: an issue.<lang>.md without '---' lines (all of it is the intro)

    @property
    def exists(self) -> bool:
        return self.text is not None


def version_of(data: bytes | None) -> str:
    return ABSENT if data is None else hashlib.sha256(data).hexdigest()


def read_document(issue_dir: Path, relative: str) -> Document:
    """Read ``issue_dir/relative`` for editing (a missing file reads as an empty ``ABSENT`` one)."""
    reason = paths.refusal(issue_dir, relative)
    if reason is not None and reason != paths.MISSING:
        raise WriteError(f"{relative} {reason}; the desk edits only plain files of the issue folder")
    data = paths.read_contained(issue_dir, relative) if reason is None else None
    if data is None:
        return Document(issue_dir, relative, ABSENT, None, CommentedMap(), "")
    text = _decode(data, relative)
    _, yaml_lines, _, body, fenced = _split(text)
    return Document(issue_dir, relative, version_of(data), text, _load("\n".join(yaml_lines), relative), body,
                    fenced)  # fmt: skip


# ─────────────────────────────────── drafts ───────────────────────────────────


@dataclass
class Draft:
    """Changes to one ``Document``; ``order`` places new keys (the contract's key order)."""

    document: Document
    order: Sequence[str]
    front: CommentedMap = field(init=False)
    body: str = field(init=False)
    changed: set[str] = field(default_factory=set, init=False)
    removed: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.front = copy.deepcopy(self.document.front)
        self.body = self.document.body

    def set(self, key: str, value: Any) -> None:
        """Set a top-level key (a new one goes where ``order`` puts it)."""
        if key not in self.front:
            self.front.insert(self._position(key), key, value)
        else:
            assign(self.front, key, value)
        self.changed.add(key)

    def remove(self, key: str) -> None:
        if key in self.front:
            del self.front[key]
            self.changed.discard(key)
            self.removed.append(key)

    def touch(self, key: str) -> None:
        """``key``'s value was changed in place (an item of a list, a contact's e-mail)."""
        self.changed.add(key)

    def _position(self, key: str) -> int:
        rank = {name: index for index, name in enumerate(self.order)}
        mine = rank.get(key, len(rank))
        keys = list(self.front)
        before = [i for i, k in enumerate(keys) if rank.get(k, len(rank)) <= mine]
        return before[-1] + 1 if before else 0

    def text(self) -> str:
        """The new file: untouched keys as they were, changed ones written by ruamel.yaml."""
        return _assemble(self)


def save_draft(draft: Draft, version: str) -> Document:
    """Write the draft if the file is still at ``version``; returns the file as written."""
    document = draft.document
    if version != document.version:  # the caller's form is older than what this draft was made from
        raise StaleFile(document.relative, document.text, document.version)
    text = draft.text()
    _verify(draft, text)
    return write_text(document.issue_dir, document.relative, text, version)


def check_version(relative: str, current: bytes | None, version: str) -> None:
    """``StaleFile`` (with the file's text and version) unless ``current`` (None: no file) is at ``version``."""
    if version_of(current) != version:
        shown = None if current is None else current.decode("utf-8", errors="replace")
        raise StaleFile(relative, shown, version_of(current))


def write_text(issue_dir: Path, relative: str, text: str, version: str) -> Document:
    """Write ``text`` as the whole file if it is still at ``version`` (``ABSENT``: only if it does not
    exist yet); the BOM and Windows line ends of the file it replaces are kept. The desk's source
    view saves with it, and so does a conflict resolved by hand."""

    def unless_changed(current: bytes | None) -> bytes:
        check_version(relative, current, version)
        return _encode(text, current)

    try:
        paths.write_contained(issue_dir, relative, unless_changed)
    except paths.Refused as exc:
        raise WriteError(
            f"{exc}: nothing was written (the desk writes only plain files of the issue folder)"
        ) from None
    return read_document(issue_dir, relative)


# ─────────────────────────────── text in, text out ───────────────────────────────


def _decode(data: bytes, relative: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise WriteError(f"{relative}: not UTF-8 text ({exc.reason}); save the file as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _encode(text: str, like: bytes | None) -> bytes:
    """UTF-8, with the BOM and the Windows line ends of the file it replaces, if it had them."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if like is not None and b"\r\n" in like:
        text = text.replace("\n", "\r\n")
    bom = like is not None and like.startswith(b"\xef\xbb\xbf")
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def _split(text: str) -> tuple[str, list[str], str, str, bool]:
    """(opening line, front matter lines, closing line, body, fenced) by the loader's fence rule."""
    lines = text.split("\n")
    end = closing_line(lines)
    if end is None:
        return "---", [], "---", text, False
    return lines[0], lines[1:end], lines[end], "\n".join(lines[end + 1 :]), True


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = sys.maxsize  # never fold a long teaser onto two lines
    y.allow_unicode = True
    y.indent(mapping=2, sequence=4, offset=2)  # "articles:\n  - netzwerk", as the examples are written
    return y


def _load(source: str, relative: str) -> CommentedMap:
    try:
        data = _yaml().load(source) if source.strip() else CommentedMap()
    except RuamelError as exc:
        raise WriteError(f"{relative}: the front matter cannot be read ({_first_line(exc)}); "
                         "run `newsletter check` and fix it in the file") from None  # fmt: skip
    if not isinstance(data, CommentedMap):
        raise WriteError(f"{relative}: the front matter must be 'key: value' lines")
    return data


def _first_line(exc: Exception) -> str:
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    where = f" on line {mark.line + 2}" if mark is not None else ""
    return f"{problem or str(exc).splitlines()[0]}{where}"


def _assemble(draft: Draft) -> str:
    document = draft.document
    opening, lines, closing, body, _ = _split(document.text or "")
    if draft.body != document.body:
        body = draft.body.replace("\r\n", "\n").replace("\r", "\n")
        body = body if not body or body.endswith("\n") else body + "\n"
    if not draft.changed and not draft.removed:
        if draft.body == document.body and document.text is not None:
            return document.text
        front = lines if document.fenced else []
    else:
        front = _spliced(draft, lines if document.fenced else [])
    if not front and not document.fenced and document.text is not None:
        return body  # an issue.<lang>.md without front matter stays without it
    return "\n".join([opening, *front, closing]) + "\n" + body


def _spliced(draft: Draft, lines: list[str]) -> list[str]:
    """The front matter lines: each untouched key's original lines, each changed key as dumped."""
    old_header, old_regions = _regions(lines, draft.document.front)
    _text_leaves(draft)
    y = _yaml()
    _indent_like(y, "\n".join(lines))
    out = io.StringIO()
    y.dump(draft.front, out)
    dumped = out.getvalue().rstrip("\n").split("\n") if draft.front else []
    new_header, new_regions = _regions(
        dumped, _yaml().load(out.getvalue()) if draft.front else CommentedMap()
    )
    result = list(old_header if lines else new_header)
    original = list(old_regions)
    for key in draft.front:
        if key in old_regions and key not in draft.changed:
            result += old_regions[key]
        else:
            result += new_regions[key]
            # comment lines under the old value stay (a note after the last article of the list)
            kept = _trailing_comments(old_regions.get(key, []))
            result += [line for line in kept if line not in new_regions[key]]
        # comment lines that followed a removed key stay where they were
        later = original[original.index(key) + 1 :] if key in original else []
        for gone in later:
            if gone in draft.front:
                break
            result += _trailing_comments(old_regions[gone])
    first_kept = next((k for k in original if k in draft.front), None)
    for gone in original[: original.index(first_kept) if first_kept else len(original)]:
        result[len(old_header) : len(old_header)] = _trailing_comments(old_regions[gone])
    return result


def _regions(lines: list[str], front: CommentedMap) -> tuple[list[str], dict[str, list[str]]]:
    """(lines before the first key, each top-level key → its lines up to the next key)."""
    starts = sorted((front.lc.key(key)[0], key) for key in front)
    if not starts:
        return list(lines), {}
    regions = {}
    for (start, key), (end, _) in zip(starts, [*starts[1:], (len(lines), None)], strict=True):
        regions[str(key)] = lines[start:end]
    return lines[: starts[0][0]], regions


def _trailing_comments(region: list[str]) -> list[str]:
    end = len(region)
    while end > 1 and (not region[end - 1].strip() or region[end - 1].startswith("#")):
        end -= 1
    return [line for line in region[end:] if line.strip()]


def _indent_like(y: YAML, source: str) -> None:
    """Lists indented as this file indents them ("- x" under its key, or two spaces in)."""
    match = re.search(r"(?m)^(?P<key> *)[^\s#-][^\n]*:\s*\n(?P<dash> *)- ", source)
    if match:
        offset = len(match["dash"]) - len(match["key"])
        if 0 <= offset <= 4:
            y.indent(mapping=2, sequence=offset + 2, offset=offset)


_TYPED = ("date", "number")  # top-level keys whose value is not text


def _text_leaves(draft: Draft) -> None:
    """In the keys about to be written, every value that YAML read as a number, a truth value or a
    timestamp is text to the loader (``phone: +4937…``): write it as that text, quoted."""
    old = loader_view(draft.document)
    for key in draft.changed:
        if key not in _TYPED:
            draft.front[key] = _as_text(draft.front[key], (key,), old)


def _as_text(value: Any, where: KeyPath, old: FrontMatter | None) -> Any:
    if isinstance(value, dict):
        for key in list(value):
            value[key] = _as_text(value[key], (*where, key), old)
        return value
    if isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = _as_text(item, (*where, index), old)
        return value
    if value is None or isinstance(value, str):
        return value
    source = old.raw.get(where) if old is not None else None
    return DoubleQuotedScalarString(source if source is not None else _plain(value))


def loader_view(document: Document) -> FrontMatter | None:
    """The document as the loader reads it (None: no file, or YAML the loader cannot read)."""
    if document.text is None:
        return None
    return parse_text(document.issue_dir / document.relative, document.text, Problems(document.issue_dir))


def _verify(draft: Draft, text: str) -> None:
    """The new text, read by the loader ``check`` uses, holds exactly the intended values."""
    relative = draft.document.relative
    problems = Problems(draft.document.issue_dir)
    new = parse_text(draft.document.issue_dir / relative, text, problems)
    if new is None or problems.items:
        raise WriteError(f"{relative}: the new text would not read back ({problems.items[0].message if problems.items else 'unreadable'}); "
                         "nothing was saved")  # fmt: skip
    old = loader_view(draft.document)
    for key in draft.front:
        if key in draft.changed or old is None or key not in old.data:
            expected = _plain(draft.front[key])
        else:
            expected = _view(old, (key,))
        if key not in new.data or _view(new, (key,)) != expected:
            raise WriteError(f"{relative}: '{key}' would not read back as written; nothing was saved")
    if list(new.data) != [str(k) for k in draft.front]:
        raise WriteError(f"{relative}: the keys would not read back as written; nothing was saved")


def _view(fm: FrontMatter, where: KeyPath) -> Any:
    """A value as the loader sees it, every scalar as its text (``+4937…``, not 4937…)."""
    value = fm.value(where)
    if isinstance(value, dict):
        return {str(k): _view(fm, (*where, k)) for k in value}
    if isinstance(value, list):
        return [_view(fm, (*where, i)) for i in range(len(value))]
    return value if value is None or isinstance(value, str) else fm.source(where)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str):
        return None if value is None else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
