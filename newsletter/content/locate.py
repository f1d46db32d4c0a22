"""Problems on their fields: ``path:line: message`` → the file and the front-matter key it is about.

The loader and ``check`` name a file and a line; the desk shows each problem beside its field as
well. ``locate`` reads each named file's line index (the same one the loader built the message
from) and finds the key on that line: ``("contacts", 1, "email")``; a line in the body is the
body, line 0 the whole file. Where a line holds more than one key (``segments: [poland, mexico]``)
the key or value the message quotes wins; a missing key (``missing required key 'email' in a
contact``) is placed where it belongs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .. import paths
from ..model import Problem
from .frontmatter import FrontMatter, KeyPath, Problems, parse_text

Area = Literal["front", "body", "file", "elsewhere"]
_MISSING = re.compile(r"missing required key '([^']+)'")
_QUOTED = re.compile(r"'([^']*)'")


@dataclass(frozen=True)
class FieldProblem:
    problem: Problem
    file: str | None  # inside the issue folder ("articles/x.de.md"); None: not a file of this issue
    area: Area  # "front": ``field`` names the key; "body": the Markdown; "file": the file as a whole
    field: KeyPath = ()


def locate(problems: Iterable[Problem], issue_dir: Path, root: Path) -> tuple[FieldProblem, ...]:
    """Each problem with its file and field; ``root`` is the folder problem paths are relative to
    (``config.root``)."""
    fronts: dict[str, FrontMatter | None] = {}
    result = []
    for problem in problems:
        relative = _inside(Path(problem.path), issue_dir, root)
        if relative is None:
            result.append(FieldProblem(problem, None, "elsewhere"))
            continue
        if relative not in fronts:
            fronts[relative] = _front(issue_dir, relative)
        result.append(_place(problem, relative, fronts[relative]))
    return tuple(result)


def _inside(path: Path, issue_dir: Path, root: Path) -> str | None:
    full = path if path.is_absolute() else root / path
    try:
        return (full.parent.resolve() / full.name).relative_to(issue_dir.resolve()).as_posix()
    except ValueError:
        return None


def _front(issue_dir: Path, relative: str) -> FrontMatter | None:
    data = paths.read_contained(issue_dir, relative)
    if data is None:
        return None
    text = data.decode("utf-8-sig", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    return parse_text(issue_dir / relative, text, Problems(issue_dir))


def _place(problem: Problem, relative: str, fm: FrontMatter | None) -> FieldProblem:
    if problem.line <= 0 or fm is None:
        return FieldProblem(problem, relative, "file")
    if not fm.fenced or problem.line >= fm.body_line:
        return FieldProblem(problem, relative, "body")
    on_line = sorted((k for k, line in fm.lines.items() if line == problem.line), key=len)
    missing = _MISSING.search(problem.message)
    if missing:
        parent = on_line[0] if on_line and _is_parent(on_line[0], fm) else ()  # a contact, the event
        return FieldProblem(problem, relative, "front", (*parent, missing[1]))
    if not on_line:
        return FieldProblem(problem, relative, "front" if problem.line > 1 else "file")
    quoted = set(_QUOTED.findall(problem.message))
    for key in sorted(on_line, key=len, reverse=True):
        if str(key[-1]) in quoted or fm.raw.get(key) in quoted:
            return FieldProblem(problem, relative, "front", key)
    return FieldProblem(problem, relative, "front", on_line[0])


def _is_parent(where: KeyPath, fm: FrontMatter) -> bool:
    """A contact or the event: a mapping whose own key is missing one of its keys."""
    try:
        return isinstance(fm.value(where), dict)
    except (KeyError, IndexError, TypeError):
        return False
