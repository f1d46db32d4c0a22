"""Subscriber CSV → the member list: reading, validating, de-duplicating and counting members.

The file is an export from the office's Excel or CRM: UTF-8 with or without BOM, or
Windows-1252 (detected from the bytes); ``,`` or ``;`` between cells (detected from the header).
It is streamed: the csv reader runs over a decoded text stream and each record becomes a
``Member`` (or a rejection) at once; only the final members are held.

Every rejected row is a ``Problem`` ``CSV:line: column …: what is wrong; what to do``, named by
the physical line the record starts on (header = line 1), and the valid rows go on. A value that
could end up in a mail header and carries a line break, NUL, another control character or an
RFC 2047 encoded word (``=?UTF-8?Q?=0A?=Bcc: …``) rejects its row: on Python 3.11.7 such a value
becomes a real header at the receiver (CVE-2024-6923), so it never gets near the composer.

``Member.address`` is the normalised, lower-case envelope address (see ``newsletter.address``):
the one key that the member list, the suppression list, tokens and the ledger share.
Duplicates (same address after trimming, any case) are merged into the first row: segments
united, the first row's other fields kept, ``unsubscribed`` in either row wins.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .address import AddressChecker, InvalidAddress
from .columns import COLUMNS, Header, read_header
from .config import Config
from .csvfile import ENCODINGS, detect_encoding, open_csv, records, spreadsheet_safe, write_spreadsheet
from .model import GENERAL, Member, MemberFileError, Problem, segment_key

_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")  # tab is allowed
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bq]\?[^?]*\?=", re.IGNORECASE)
_SEGMENT_SEPARATORS = re.compile(r"[|;,]")
_NO_EXTRA: Mapping[str, str] = MappingProxyType({})
_UNSEEN = object()


@dataclass(frozen=True)
class Rejection:
    """One reason a row was rejected, with the row's original cells (for the office's report)."""

    line: int
    column: str  # "" when the row as a whole is wrong
    message: str  # without the "CSV:line: " prefix
    cells: tuple[str, ...]


@dataclass(frozen=True)
class Counts:
    """Members per segment (``general`` = no segment), language, segment × language and edition."""

    total: int
    per_segment: Mapping[str, int]
    per_language: Mapping[str, int]
    per_segment_language: Mapping[tuple[str, str], int]
    per_edition: Mapping[str, int]  # Edition.key-style, "poland+usa.de"


@dataclass(frozen=True)
class AudienceReport:
    """What ``read_members`` found: the mailing list, and everything the office should fix."""

    path: Path
    encoding: str  # "utf-8-sig", "utf-8" or "cp1252"
    delimiter: str
    header: tuple[str, ...]  # the header cells as written (trimmed)
    rows: int  # records read, blank lines not counted
    members: tuple[Member, ...]  # the mailing list: valid, subscribed, de-duplicated, in file order
    unsubscribed: tuple[Member, ...]  # valid rows with status=unsubscribed: never mailed
    rejected: tuple[Problem, ...]  # one per reason; a row may have several
    rejections: tuple[Rejection, ...]  # the same, with column and original cells
    duplicates: tuple[Problem, ...]  # warnings naming both lines
    counts: Counts  # of ``members``
    read_as: tuple[
        tuple[str, str], ...
    ] = ()  # (header as written, column) taken via an alias: ("E-Mail", "email")

    @property
    def ok(self) -> bool:
        return not self.rejected

    @property
    def rejected_rows(self) -> int:
        return len({r.line for r in self.rejections})

    @property
    def unsubscribed_count(self) -> int:
        return len(self.unsubscribed)

    @property
    def per_segment(self) -> Mapping[str, int]:
        return self.counts.per_segment

    @property
    def per_language(self) -> Mapping[str, int]:
        return self.counts.per_language

    @property
    def per_segment_language(self) -> Mapping[tuple[str, str], int]:
        return self.counts.per_segment_language


def read_members(path: Path, config: Config, *, check_dns: bool = False) -> AudienceReport:
    """Read the subscriber CSV; raise MemberFileError (exit 2) only if the file cannot be read at all."""
    path = Path(path)
    try:
        encoding = detect_encoding(path)
        with path.open(encoding=encoding, newline="") as text:
            delimiter, reader = open_csv(text)
            rows = records(reader, path)
            header_line, header = next(rows, (0, []))
            if not header_line:
                raise MemberFileError(
                    f"{path}: the file is empty; it needs a header row with at least 'email'"
                )
            builder = _Builder(path, config, read_header(path, header_line, header), delimiter, check_dns)
            for line, cells in rows:
                builder.add(line, cells)
    except FileNotFoundError:
        raise MemberFileError(
            f"{path}: no such file; export the member list or set NEWSLETTER_SUBSCRIBERS"
        ) from None
    except (IsADirectoryError, PermissionError) as exc:
        raise MemberFileError(f"{path}: cannot be read ({exc.strerror})") from None
    return builder.report(encoding, delimiter)


# ───────────────────────────────── rows → members ─────────────────────────────────


class _Builder:
    """Turns records into members, rejections and duplicate warnings, one record at a time."""

    def __init__(self, path: Path, config: Config, header: Header, delimiter: str, check_dns: bool):
        self.path, self.header, self.delimiter, self.check_dns = path, header, delimiter, check_dns
        self.columns = header.names
        self.index = {name: i for i, name in enumerate(self.columns) if name}
        self.labels = {name: header.label(name) for name in self.index}  # as the file names them
        self.extra = tuple((name, i) for name, i in self.index.items() if name not in COLUMNS)
        self.languages = {lang.lower(): lang for lang in config.languages}
        self.default_language = config.default_language
        self.segments = {seg.lower(): seg for seg in config.segments}
        self.addresses = AddressChecker(
            check_dns=check_dns, resolver=_caching_resolver() if check_dns else None
        )
        self.by_address: dict[str, Member] = {}
        self.rejections: list[Rejection] = []
        self.duplicates: list[Problem] = []
        self.withdrawn: set[str] = set()  # addresses of rejected rows that say status=unsubscribed
        self.rows = 0
        self._sets: dict[frozenset[str], frozenset[str]] = {}
        self.email = self.index["email"]
        self.names = tuple(self.index.get(n) for n in ("first_name", "last_name", "salutation", "company"))
        # column → (index or None, check, cache of results per cell text: the checks are pure functions)
        self.checks: dict[str, tuple[int | None, Any, dict[str, Any]]] = {
            column: (self.index.get(column), check, {})
            for column, check in (
                ("language", self._language),
                ("segments", self._segments),
                ("timezone", _timezone),
                ("status", _status),
            )
        }

    def add(self, line: int, cells: list[str]) -> None:
        self.rows += 1
        problems = self._shape(cells)
        member = None
        if not problems:
            problems = self._check(cells)
            padded = (
                cells + [""] * (len(self.columns) - len(cells)) if len(cells) < len(self.columns) else cells
            )
            member = self._member(line, padded, problems)
        if problems:
            problems.sort(key=lambda problem: self.index.get(problem[0], -1))
            cells_kept = tuple(cells)
            self.rejections.extend(Rejection(line, col, msg, cells_kept) for col, msg in problems)
            self._withdraw(cells)
        elif member is not None:
            self._keep(member)

    def _shape(self, cells: list[str]) -> list[tuple[str, str]]:
        width = len(self.columns)
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            message = (
                f"the row has {len(cells)} cells but the header has {width} columns; "
                f"a value containing {self.delimiter!r} must be in double quotes"
            )
            return [("", message)]
        return []

    def _check(self, cells: list[str]) -> list[tuple[str, str]]:
        """Header-injection check over every named cell (one regex pass over the joined row first)."""
        joined = "\t".join(cells)
        if not _CONTROL.search(joined) and "=?" not in joined:
            return []
        problems = []
        for name, i in self.index.items():
            if i < len(cells) and (message := _injection(cells[i])):
                problems.append((name, f"column {self.labels[name]}: {_show(cells[i])} {message}"))
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
                problems.append(("email", f"column {label}: {_show(cells[self.email])} {exc.reason}"))
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
            extra={name: cells[i].strip() for name, i in self.extra} or _NO_EXTRA,
        )

    def _value(self, column: str, cells: list[str], problems: list[tuple[str, str]], seen: set[str]) -> Any:
        """The checked value of one column (cached per cell text), or None with a problem appended."""
        i, check, cache = self.checks[column]
        text = cells[i].strip() if i is not None else ""
        result = cache.get(text, _UNSEEN)
        if result is _UNSEEN:
            try:
                result = check(text)
            except _Bad as bad:
                result = bad
            if len(cache) < 10_000:
                cache[text] = result
        if isinstance(result, _Bad):
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
            raise _Bad(
                f"unknown language {value!r}; use one of {known} (empty = {self.default_language})"
            ) from None

    def _segments(self, value: str) -> frozenset[str]:
        wanted = [s.strip().lower() for s in _SEGMENT_SEPARATORS.split(value) if s.strip()]
        unknown = [s for s in wanted if s not in self.segments]
        if unknown:
            names = ", ".join(repr(s) for s in unknown)
            known = ", ".join(self.segments) or "none configured"
            plural = "s" if len(unknown) > 1 else ""
            raise _Bad(f"unknown segment{plural} {names}; known: {known} (several separated by |)")
        found = frozenset(self.segments[s] for s in wanted)
        return self._sets.setdefault(found, found)

    def _withdraw(self, cells: list[str]) -> None:
        """A rejected row still says 'unsubscribed': its address is not mailed from another row either."""
        status = self.index.get("status")
        if status is None or status >= len(cells) or cells[status].strip().lower() != "unsubscribed":
            return
        if self.email < len(cells) and not _injection(cells[self.email]):
            with suppress(InvalidAddress):
                self.withdrawn.add(self.addresses.check(cells[self.email]))

    def _keep(self, member: Member) -> None:
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
        note = "" if member.subscribed == first.subscribed else "; unsubscribed in one of them, so not mailed"
        self.duplicates.append(
            Problem(
                str(self.path),
                member.line,
                f"duplicate of line {first.line} ({member.address}): segments merged, "
                f"the other fields of line {first.line} kept{note}",
                severity="warning",
            )
        )

    def report(self, encoding: str, delimiter: str) -> AudienceReport:
        everyone = tuple(
            replace(m, subscribed=False) if m.subscribed and m.address in self.withdrawn else m
            for m in self.by_address.values()
        )
        self.by_address = {}
        members = tuple(m for m in everyone if m.subscribed)
        path = str(self.path)
        return AudienceReport(
            path=self.path,
            encoding=encoding,
            delimiter=delimiter,
            header=self.header.written,
            rows=self.rows,
            members=members,
            unsubscribed=tuple(m for m in everyone if not m.subscribed),
            rejected=tuple(Problem(path, r.line, r.message) for r in self.rejections),
            rejections=tuple(self.rejections),
            duplicates=tuple(self.duplicates),
            counts=count_members(members),
            read_as=self.header.read_as,
        )


class _Bad(ValueError):
    """A cell value that is not allowed; the message says why and what to write instead."""


def _injection(value: str) -> str | None:
    if _CONTROL.search(value):
        return (
            "contains a line break (CR/LF), NUL or another control character, which could inject "
            "mail headers; remove it"
        )
    if _ENCODED_WORD.search(value):
        return (
            "contains an RFC 2047 encoded word (=?…?=), which could hide a line break and inject "
            "mail headers; write the text plainly"
        )
    return None


def _timezone(value: str) -> str | None:
    if not value:
        return None
    zone = _zones().get(value.lower())
    if zone is None:
        raise _Bad(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin or America/New_York")
    return zone


def _status(value: str) -> bool:
    status = value.lower()
    if status in ("", "subscribed"):
        return True
    if status == "unsubscribed":
        return False
    raise _Bad(f"unknown status {value!r}; use subscribed or unsubscribed (empty = subscribed)")


@cache
def _zones() -> Mapping[str, str]:
    from zoneinfo import available_timezones

    return {name.lower(): name for name in available_timezones()}


def _caching_resolver() -> Any:
    from email_validator import caching_resolver

    return caching_resolver(timeout=10)


def _show(value: str, limit: int = 60) -> str:
    """A cell for a one-line message: quoted, control characters escaped, long ones cut."""
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


# ─────────────────────────────── counts and reports ───────────────────────────────


def count_members(members: Iterable[Member]) -> Counts:
    """Per segment (a member in two segments counts in both; none = ``general``), language, both, edition."""
    total = 0
    per_segment: Counter[str] = Counter()
    per_language: Counter[str] = Counter()
    both: Counter[tuple[str, str]] = Counter()
    editions: Counter[str] = Counter()
    for member in members:
        total += 1
        per_language[member.language] += 1
        editions[f"{segment_key(member.segments)}.{member.language}"] += 1
        for segment in member.segments or (GENERAL,):
            per_segment[segment] += 1
            both[(segment, member.language)] += 1
    return Counts(total, dict(per_segment), dict(per_language), dict(both), dict(editions))


def write_report(report: AudienceReport, target: Path) -> int:
    """The rejected rows for the office: line, column, message and the original cells.

    UTF-8 with BOM (so Excel opens it as UTF-8), the input file's delimiter, formula-safe cells.
    Returns the number of rows written.
    """
    header = ("line", "column", "message", *report.header)
    rows = ((str(r.line), r.column, r.message, *r.cells) for r in report.rejections)
    write_spreadsheet(Path(target), header, rows, delimiter=report.delimiter)
    return len(report.rejections)


__all__ = [
    "COLUMNS",
    "ENCODINGS",
    "AudienceReport",
    "Counts",
    "Rejection",
    "count_members",
    "detect_encoding",
    "read_members",
    "spreadsheet_safe",
    "write_report",
]
