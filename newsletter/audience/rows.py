"""Records of the member list → members, rejected rows and warnings, one record at a time.

A row that fails any check is rejected with one ``Rejection`` per reason (the office fixes them
all at once); the other rows go on. Duplicates (same address after trimming, any case) are merged
into the first row: segments united, the first row's other fields kept, ``unsubscribed`` in any of
them wins — also when that row is rejected for another reason.

A row with more cells than the header is a value holding the delimiter without quotes. Excel
writes every column, so the extra cell is usually empty and the tell is the values after it,
shifted one column on (``unknown language 'Co. KG'``): the reader looks for the one value that,
joined again, makes the row valid, and names it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..config import Config
from ..limits import LINE_MAX, NAME_COLUMNS, NAME_MAX
from ..model import Member, Problem
from . import cells as cell
from .address import AddressChecker, InvalidAddress
from .columns import COLUMNS, Header, OtherColumns
from .spill import Spill

_NO_EXTRA: Mapping[str, str] = MappingProxyType({})
_UNSEEN = object()
_SEGMENT_SEPARATORS = re.compile(r"[|;,]")
_CACHED_TEXT_MAX = 64  # cell texts longer than this are checked each time, not remembered


@dataclass(frozen=True)
class Rejection:
    """One reason a row was rejected, with the row's original cells (for the office's report)."""

    line: int
    column: str  # "" when the row as a whole is wrong
    message: str  # without the "CSV:line: " prefix
    cells: tuple[str, ...]


class MemberRows:
    """Turns records into members, rejections and duplicate warnings."""

    def __init__(
        self, path: Path, config: Config, header: Header, delimiter: str, check_dns: bool, *, cp1252: bool
    ):
        self.path, self.header, self.delimiter = path, header, delimiter
        self.columns = header.names
        self.index = {name: i for i, name in enumerate(self.columns) if name}
        self.labels = {name: header.label(name) for name in self.index}  # as the file names them
        self.extra = tuple((name, i) for name, i in self.index.items() if name not in COLUMNS)
        self.extra_names = {name: k for k, (name, _) in enumerate(self.extra)}  # shared by every member
        self.languages = {lang.lower(): lang for lang in config.languages}
        self.default_language = config.default_language
        self.segments = {seg.lower(): seg for seg in config.segments}
        self.addresses = AddressChecker(
            check_dns=check_dns, resolver=_caching_resolver() if check_dns else None
        )
        self.by_address: dict[str, Member] = {}
        self.rejections: Spill[Rejection] = Spill()
        self.duplicates: Spill[Problem] = Spill()
        self.warnings: Spill[Problem] = Spill()  # about rows that are still used
        self.withdrawn: set[str] = set()  # addresses of rejected rows that say status=unsubscribed
        self.unsubscribed_at: dict[str, int] = {}  # address → first valid line saying unsubscribed
        self.rows = self.rejected_rows = 0
        self._sets: dict[frozenset[str], frozenset[str]] = {}
        self._suggestions = 1000
        self.email = self.index["email"]
        self.names = tuple(self.index.get(n) for n in ("first_name", "last_name", "salutation", "company"))
        self.name_cells = tuple((n, self.index[n]) for n in NAME_COLUMNS if n in self.index)
        # Windows-1252 (or plain ASCII, which may be it): the name cells where '?' may be a lost letter
        self.lossy = self.name_cells if cp1252 else ()
        # column → (index or None, check, cache of results per cell text: the checks are pure functions)
        self.checks: dict[str, tuple[int | None, Any, dict[str, Any]]] = {
            column: (self.index.get(column), check, {})
            for column, check in (
                ("language", self._language),
                ("segments", self._segments),
                ("timezone", self._timezone),
                ("status", cell.status),
            )
        }

    def add(self, line: int, cells: list[str], cut: int = 0) -> None:
        """One record; ``cut`` is the length of its line when that was too long to be read whole."""
        self.rows += 1
        if cut:
            message = (
                f"the line is {cut:,} characters long, far more than a member row (at most {LINE_MAX:,}): "
                "only its start was read; check that the export holds only the member list"
            )
            self._reject(line, cells, [("", message)], cells)
            return
        if self.lossy:
            self._lost_letters(line, cells)
        member, meant = None, cells
        problems: list[tuple[str, str]] = []
        if len(cells) > len(self.columns):
            problems, meant = self._too_wide(cells)
        if not problems:
            problems = self._check(cells)
            padded = (
                cells + [""] * (len(self.columns) - len(cells)) if len(cells) < len(self.columns) else cells
            )
            member = self._member(line, padded, problems)
        if problems:
            self._reject(line, cells, problems, meant)
        elif member is not None:
            self._keep(member)

    def _lost_letters(self, line: int, cells: list[str]) -> None:
        for name, i in self.lossy:
            if i < len(cells) and (message := cell.lost_letter(cells[i])):
                text = f"column {self.labels[name]}: {cell.show(cells[i].strip())} {message}"
                self.warnings.append(Problem(str(self.path), line, text, severity="warning"))

    def _reject(self, line: int, cells: list[str], problems: list[tuple[str, str]], meant: list[str]) -> None:
        problems.sort(key=lambda problem: self.index.get(problem[0], -1))
        kept = tuple(cells)
        self.rejected_rows += 1
        self.rejections.extend(Rejection(line, column, message, kept) for column, message in problems)
        self._withdraw(meant)

    def _too_wide(self, cells: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
        """The shape problem of a row with more cells than the header, and the row as probably meant."""
        width, n = len(self.columns), len(cells)
        spilled = any(c.strip() for c in cells[width:])
        if not spilled and self._valid(cells):
            return [], cells  # a delimiter after the last value, as some exports write it
        for extra in range(n - width, 0, -1):
            if any(c.strip() for c in cells[width + extra :]):
                break  # fewer joins would leave a value beyond the header
            fits = [i for i in range(width) if self._valid(_joined(cells, i, extra, self.delimiter))]
            if fits:
                spaced = [i for i in fits if cells[i + 1][:1].isspace()]  # "Lange GmbH; Co. KG"
                i = (spaced or fits)[-1]
                value = self.delimiter.join(cells[i : i + extra + 1])
                message = (
                    f"the row has {n} cells but the header has {width} columns: {cell.show(value)} (column "
                    f"{self.header.written[i] or i + 1}) probably contains {self.delimiter!r} and must be in double quotes"
                )
                return [("", message)], _joined(cells, i, extra, self.delimiter)
        if not spilled:
            return [], cells  # no join helps: the row's own problems say more
        message = (
            f"the row has {n} cells but the header has {width} columns; "
            f"a value containing {self.delimiter!r} must be in double quotes"
        )
        return [("", message)], cells

    def _valid(self, cells: list[str]) -> bool:
        """Whether the row (at least as wide as the header) passes every check; records nothing."""
        return not self._check(cells) and self._member(0, cells, []) is not None

    def _check(self, cells: list[str]) -> list[tuple[str, str]]:
        """Header-injection check over every named cell (one regex pass over the joined row first)."""
        joined = "\t".join(cells)
        if not cell.might_inject(joined):
            return []
        problems = []
        for name, i in self.index.items():
            if i < len(cells) and (message := cell.injection(cells[i])):
                problems.append((name, f"column {self.labels[name]}: {cell.show(cells[i])} {message}"))
        return problems

    def _member(self, line: int, cells: list[str], problems: list[tuple[str, str]]) -> Member | None:
        """The member of a (padded) row, or None with its problems appended (columns already wrong skipped)."""
        seen = {column for column, _ in problems}
        address = ""
        if "email" not in seen:
            try:
                address = self.addresses.check(cells[self.email])
            except InvalidAddress as exc:
                label = self.labels["email"]
                problems.append(("email", f"column {label}: {cell.show(cells[self.email])} {exc.reason}"))
        for name, i in self.name_cells:  # the composer's limits (newsletter/limits.py)
            if len(cells[i]) > NAME_MAX and name not in seen and (reason := cell.too_long(cells[i].strip())):
                problems.append((name, f"column {self.labels[name]}: {cell.show(cells[i].strip())} {reason}"))
        language = self._value("language", cells, problems, seen)
        segments = self._value("segments", cells, problems, seen)
        timezone = self._value("timezone", cells, problems, seen)
        subscribed = self._value("status", cells, problems, seen)
        if problems:
            return None
        first_name, last_name, salutation, company = (
            cells[i].strip() if i is not None else "" for i in self.names
        )
        return Member(
            address=address,
            line=line,
            language=language,
            segments=segments,
            first_name=sys.intern(first_name),  # names repeat a lot in a member list: share them
            last_name=sys.intern(last_name),
            salutation=sys.intern(salutation),
            company=sys.intern(company),
            timezone=timezone,
            subscribed=subscribed,
            extra=OtherColumns(self.extra_names, tuple(cells[i].strip() for _, i in self.extra))
            if self.extra
            else _NO_EXTRA,
        )

    def _value(self, column: str, cells: list[str], problems: list[tuple[str, str]], seen: set[str]) -> Any:
        """The checked value of one column (cached per cell text), or None with a problem appended."""
        i, check, cache = self.checks[column]
        text = cells[i].strip() if i is not None else ""
        result = cache.get(text, _UNSEEN)
        if result is _UNSEEN:
            try:
                result = check(text)
            except cell.BadCell as bad:
                result = bad
            if len(cache) < 10_000 and len(text) <= _CACHED_TEXT_MAX:
                cache[text] = result
        if isinstance(result, cell.BadCell):
            if column not in seen:
                problems.append((column, f"column {self.labels.get(column, column)}: {result}"))
            return None
        return result

    def _language(self, value: str) -> str:
        if not value:
            return self.default_language
        try:
            return self.languages[value.lower()]
        except KeyError:
            known = ", ".join(self.languages)
            raise cell.BadCell(
                f"unknown language {value!r}; use one of {known} (empty = {self.default_language})"
            ) from None

    def _timezone(self, value: str) -> str | None:
        """``cells.timezone``; suggestions (≈ 1 ms each) only for the first distinct typos of a file."""
        try:
            return cell.timezone(value, suggest=self._suggestions > 0)
        except cell.BadCell:
            self._suggestions -= 1
            raise

    def _segments(self, value: str) -> frozenset[str]:
        wanted = [s.strip().lower() for s in _SEGMENT_SEPARATORS.split(value) if s.strip()]
        unknown = [s for s in wanted if s not in self.segments]
        if unknown:
            names = ", ".join(repr(s) for s in unknown)
            known = ", ".join(self.segments) or "none configured"
            plural = "s" if len(unknown) > 1 else ""
            raise cell.BadCell(f"unknown segment{plural} {names}; known: {known} (several separated by |)")
        found = frozenset(self.segments[s] for s in wanted)
        return self._sets.setdefault(found, found)

    def _withdraw(self, cells: list[str]) -> None:
        """A rejected row still says 'unsubscribed': its address is not mailed from another row either."""
        status = self.index.get("status")
        if status is None or status >= len(cells) or cells[status].strip().lower() != "unsubscribed":
            return
        if self.email < len(cells) and not cell.injection(cells[self.email]):
            with suppress(InvalidAddress):
                self.withdrawn.add(self.addresses.check(cells[self.email]))

    def _keep(self, member: Member) -> None:
        if not member.subscribed:  # the line to name when a duplicate of it is not mailed
            self.unsubscribed_at.setdefault(member.address, member.line)
        first = self.by_address.get(member.address)
        if first is None:
            self.by_address[member.address] = member
            return
        segments = first.segments | member.segments
        self.by_address[member.address] = replace(
            first,
            segments=self._sets.setdefault(segments, segments),
            subscribed=first.subscribed and member.subscribed,
        )
        # The warning is printed at this line, so name the line that says unsubscribed, whichever it is.
        unsubscribed = self.unsubscribed_at.get(member.address)
        note = f"; line {unsubscribed} says unsubscribed, so not mailed" if unsubscribed else ""
        self.duplicates.append(
            Problem(
                str(self.path),
                member.line,
                f"duplicate of line {first.line} ({member.address}): segments merged, "
                f"the other fields of line {first.line} kept{note}",
                severity="warning",
            )
        )

    def everyone(self) -> list[Member]:
        """Every valid de-duplicated row in file order, unsubscribed by a rejected row where one said so."""
        return [
            replace(m, subscribed=False) if m.subscribed and m.address in self.withdrawn else m
            for m in self.by_address.values()
        ]


def _joined(cells: list[str], i: int, extra: int, delimiter: str) -> list[str]:
    """The row with cells i … i+extra joined again by the delimiter they were split at."""
    return [*cells[:i], delimiter.join(cells[i : i + extra + 1]), *cells[i + extra + 1 :]]


def _caching_resolver() -> Any:
    from email_validator import caching_resolver

    return caching_resolver(timeout=10)


__all__ = ["MemberRows", "Rejection"]
