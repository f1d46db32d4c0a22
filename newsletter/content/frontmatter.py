"""YAML front matter with line numbers: the parsing half of ``content``.

The front matter is composed into PyYAML's node tree so every key and list item keeps the line it
was written on; problems point there (``articles/x.de.md:7: unknown key 'teasr' …``). Timestamps
are not resolved by YAML: dates and datetimes stay strings and are parsed (and checked) here.
"""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from difflib import get_close_matches
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from ..model import Problem
from ..zones import did_you_mean

log = logging.getLogger("newsletter.content")  # one debug record per parsed file (tests count them)
KeyPath = tuple[Any, ...]
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_ZONE_SUFFIX = re.compile(r"^(?P<stamp>.+?)(?:\s+|\[)(?P<zone>[A-Za-z_]+(?:/[A-Za-z0-9_+-]+)+)\]?$")


class _Loader(yaml.SafeLoader):
    """SafeLoader without implicit timestamps: '2022-02-30' must not crash the loader.

    Aliases (``*name``) are refused: front matter has no use for them, and nested ones make a
    ten-line file expand to billions of values (the line index and messages walk the values).
    """

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"found the alias '*{event.anchor}'", event.start_mark
            )
        return super().compose_node(parent, index)  # type: ignore[no-any-return]


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class Problems:
    """Collects problems; paths are shown relative to the project root when inside it."""

    root: Path
    items: list[Problem] = field(default_factory=list)

    def rel(self, path: Path) -> str:
        # the folder is resolved, the name is not: a symbolic link is named as itself, not its target
        resolved = path.resolve() if path.name in ("", ".", "..") else path.parent.resolve() / path.name
        try:
            return str(resolved.relative_to(self.root.resolve()))
        except ValueError:
            return str(path)

    def add(self, path: Path, line: int, message: str, severity: str = "error") -> None:
        self.items.append(Problem(self.rel(path), line, message, severity))


@dataclass
class FrontMatter:
    path: Path
    data: dict[str, Any]
    body: str
    body_line: int
    lines: dict[KeyPath, int]
    problems: Problems
    # Source text of plain scalars that YAML 1.1 turned into numbers or booleans: a phone
    # '+4937112345' (int), '0371123456' (octal), a time '16:00' (sexagesimal 960), 'no' (False).
    raw: dict[KeyPath, str] = field(default_factory=dict)
    fenced: bool = True  # False: no '---' first line, the whole file is the body

    def line(self, where: KeyPath) -> int:
        """Line of a key (or list item); for a missing one, its nearest existing parent."""
        while where and where not in self.lines:
            where = where[:-1]
        return self.lines.get(where, 1)

    def problem(self, where: KeyPath, message: str) -> None:
        self.problems.add(self.path, self.line(where), message)

    def value(self, where: KeyPath) -> Any:
        value: Any = self.data
        for part in where:
            value = value[part]
        return value

    def check_keys(self, where: KeyPath, spec: dict[str, bool], what: str) -> None:
        mapping = self.value(where)
        for key in mapping:
            if key not in spec:
                hint = get_close_matches(str(key), list(spec), n=1, cutoff=0.6)
                tail = f"did you mean '{hint[0]}'?" if hint else f"known keys: {', '.join(spec)}"
                self.problem((*where, key), f"unknown key '{key}' ({tail})")
        for key, required in spec.items():
            if required and key not in mapping:
                self.problem(where, f"missing required key '{key}' in {what}")
            elif required and (mapping[key] is None or mapping[key] == ""):
                self.problem((*where, key), f"'{key}' is empty")

    def text(self, where: KeyPath) -> str | None:
        value = self.value(where)
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            self.problem(
                where, f"'{where[-1]}' must be text, not a {'list' if isinstance(value, list) else 'mapping'}"
            )
            return None
        return self.source(where).strip() or None

    def source(self, where: KeyPath) -> str:
        """A scalar as written in the file (``+4937112345``, not ``4937112345``)."""
        value = self.value(where)
        return value if isinstance(value, str) else self.raw.get(where, str(value))

    def date(self, where: KeyPath) -> date | None:
        raw = self.source(where)
        try:
            return date.fromisoformat(str(raw).strip())
        except ValueError:
            self.problem(where, f"invalid date '{raw}' for {where[-1]}: use YYYY-MM-DD, e.g. 2022-03-24")
            return None

    def datetime(self, where: KeyPath) -> datetime | None:
        raw = self.source(where).strip()
        stamp, zone = raw, None
        match = _ZONE_SUFFIX.match(raw)
        if match:
            stamp = match["stamp"].strip()
            try:
                zone = ZoneInfo(match["zone"])
            except (ZoneInfoNotFoundError, ValueError):
                self.problem(
                    where, f"unknown time zone '{match['zone']}' in {where[-1]}{did_you_mean(match['zone'])}"
                )
                return None
        try:
            value = datetime.fromisoformat(stamp)
        except ValueError:
            self.problem(where, f"invalid date and time '{raw}' for {where[-1]}: "
                                "use ISO format with a zone, e.g. 2022-05-30T09:00+02:00")  # fmt: skip
            return None
        if zone is not None and value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        if value.tzinfo is None:
            self.problem(where, f"{where[-1]} '{raw}' has no time zone: add an offset "
                                "(2022-05-30T09:00+02:00) or a zone (2022-05-30T09:00 Europe/Berlin)")  # fmt: skip
            return None
        return value


def parse_front_matter(path: Path, problems: Problems, *, require: bool = True) -> FrontMatter | None:
    """Split ``---`` YAML front matter from the Markdown body; None (with problems) when broken."""
    front = _parse(path, problems)
    return _required(front, problems) if require else front


class FrontMatters:
    """Each file's front matter parsed once per command: ``check`` reads again what loading the
    issue parsed (its problems are replayed, the values rebound to the asking collector)."""

    def __init__(self) -> None:
        self._parsed: dict[Path, tuple[FrontMatter | None, tuple[Problem, ...]]] = {}

    def parse(self, path: Path, problems: Problems, *, require: bool = True) -> FrontMatter | None:
        if path not in self._parsed:
            found = Problems(problems.root)
            self._parsed[path] = (_parse(path, found), tuple(found.items))
        front, found_items = self._parsed[path]
        problems.items.extend(found_items)
        if front is not None:  # a copy: loading normalises values in place (a single contact → a list)
            front = replace(front, problems=problems, data=copy.deepcopy(front.data), lines=dict(front.lines),
                            raw=dict(front.raw))  # fmt: skip
        return _required(front, problems) if require else front


def _required(front: FrontMatter | None, problems: Problems) -> FrontMatter | None:
    if front is not None and not front.fenced:
        problems.add(front.path, 1, "the file must start with a line '---', then the YAML keys, then '---'")
        return None
    return front


def _parse(path: Path, problems: Problems) -> FrontMatter | None:
    log.debug("parsing the front matter of %s", path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.add(path, 0, f"not UTF-8 text ({exc.reason}); save the file as UTF-8")
        return None
    return parse_text(path, text, problems)


def closing_line(lines: list[str]) -> int | None:
    """Index of the line that closes the front matter (``---`` or ``...``), None when the file does
    not start with ``---`` or the block is not closed: the one fence rule of every reader and writer."""
    if not lines or lines[0].strip() != "---":
        return None
    return next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)


def parse_text(path: Path, text: str, problems: Problems) -> FrontMatter | None:
    """``parse_front_matter`` of text already read (``path`` names it in problems): the writer
    checks with it that a file it is about to write reads back as meant."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return FrontMatter(path, {}, text, 1, {}, problems, fenced=False)
    end = closing_line(lines)
    if end is None:
        problems.add(path, 1, "front matter is not closed: add a line '---' after the last key")
        return None
    source = "\n".join(lines[1:end])
    data, line_map, raw = _compose(path, source, problems)
    if data is None:
        return None
    body = "\n".join(lines[end + 1 :])
    return FrontMatter(path, data, body, end + 2, line_map, problems, raw)


def _compose(
    path: Path, source: str, problems: Problems
) -> tuple[dict | None, dict[KeyPath, int], dict[KeyPath, str]]:
    loader = _Loader(source)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 2 if mark else 1
        message = f"malformed YAML: {exc.problem or exc.context}"
        if exc.context and exc.problem and exc.context_mark and exc.context_mark.line + 2 != line:
            message += f" ({exc.context} on line {exc.context_mark.line + 2})"
        problems.add(path, line, message + _yaml_hint(str(exc.problem)))
        return None, {}, {}
    except yaml.YAMLError as exc:
        problems.add(path, 1, f"malformed YAML: {exc}")
        return None, {}, {}
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        problems.add(path, 2, "the front matter must be 'key: value' lines")
        return None, {}, {}
    line_map: dict[KeyPath, int] = {}
    raw: dict[KeyPath, str] = {}
    _index(node, (), line_map, path, problems, raw)
    return data, line_map, raw


_QUOTE_STAR = 'a value starting with * or & must be in double quotes, e.g. teaser: "*Neu* …"'
_YAML_HINTS = (
    ("found character '\\t'", "indent and separate with spaces, not tabs"),
    ("cannot start any token", 'put the value in double quotes, e.g. teaser: "@AMZ …"'),
    (
        "mapping values are not allowed",
        'a value containing ": " must be in double quotes, e.g. title: "Polen: …"',
    ),
    ("found the alias", _QUOTE_STAR),
    ("expected alphabetic or numeric character", _QUOTE_STAR),
    ("but found '<scalar>'", "a quoted value ends at its second quote: use „…“ or '…' inside \"…\""),
)


def _yaml_hint(problem: str) -> str:
    """What to do about the YAML mistakes editors make most (PyYAML only says what it found)."""
    return next((f"; {hint}" for text, hint in _YAML_HINTS if text in problem), "")


def _index(node: yaml.Node | None, where: KeyPath, out: dict[KeyPath, int], path: Path,
           problems: Problems, raw: dict[KeyPath, str]) -> None:  # fmt: skip
    if isinstance(node, yaml.ScalarNode):
        raw[where] = node.value
    elif isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 2
            if key in seen:
                problems.add(path, line, f"duplicate key '{key}'; keep one")
            seen.add(key)
            out[(*where, key)] = line
            _index(value_node, (*where, key), out, path, problems, raw)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out[(*where, index)] = item.start_mark.line + 2
            _index(item, (*where, index), out, path, problems, raw)
