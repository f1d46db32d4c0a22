"""Subscriber CSV → the member list: reading, validating, de-duplicating and counting members.

The file is an export from the office's Excel or CRM: UTF-8 with or without BOM, or
Windows-1252 (detected from the bytes); ``,`` or ``;`` between cells (detected from the header).
It is streamed: the csv reader runs over a decoded text stream and each record becomes a
``Member`` (or a rejection) at once (``audience.rows``); only the final members are held.

Every rejected row is a ``Problem`` ``CSV:line: column …: what is wrong; what to do``, named by
the physical line the record starts on (header = line 1), and the valid rows go on. A value that
could end up in a mail header and carries a line break, NUL, another control character or an
RFC 2047 encoded word (``=?UTF-8?Q?=0A?=Bcc: …``) rejects its row: on Python 3.11.7 such a value
becomes a real header at the receiver (CVE-2024-6923), so it never gets near the composer.

``Member.address`` is the normalised, lower-case envelope address (see ``audience.address``):
the one key that the member list, the suppression list, tokens and the ledger share.
Duplicates (same address after trimming, any case) are merged into the first row: segments
united, the first row's other fields kept, ``unsubscribed`` in either row wins.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..model import GENERAL, EditionKey, Member, MemberFileError, Problem
from .columns import COLUMNS, read_header
from .csvfile import ENCODINGS, detect_encoding, open_csv, records, sniff, spreadsheet_safe, write_spreadsheet
from .rows import MemberRows, Rejection
from .spill import Mapped


@dataclass(frozen=True)
class Counts:
    """Members per segment (``general`` = no segment), language, segment × language and edition."""

    total: int
    per_segment: Mapping[str, int]
    per_language: Mapping[str, int]
    per_segment_language: Mapping[tuple[str, str], int]
    per_edition: Mapping[str, int]  # str(EditionKey), "poland+usa.de"


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
    # The lists below may be long (every row of a broken export): held in memory up to a bound,
    # the rest on disk (audience.spill). Iterate them; len() and bool() are cheap.
    rejected: Collection[Problem]  # one per reason; a row may have several
    rejections: Collection[Rejection]  # the same, with column and original cells
    duplicates: Collection[Problem]  # warnings naming both lines
    counts: Counts  # of ``members``
    # (header as written, column) of the columns taken via an alias, e.g. ("E-Mail", "email")
    read_as: tuple[tuple[str, str], ...] = ()
    # about rows that are still mailed: a '?' that is probably a letter lost in a Windows-1252 export
    warnings: Collection[Problem] = ()
    rejected_rows: int = 0  # rows with at least one rejection

    @property
    def ok(self) -> bool:
        return not self.rejected

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
        encoding, plain_ascii = sniff(path)
        with path.open(encoding=encoding, newline="") as text:
            delimiter, reader = open_csv(text)
            rows = records(reader, path)
            header_line, header, cut = next(rows, (0, [], 0))
            if not header_line:
                raise MemberFileError(
                    f"{path}: the file is empty; it needs a header row with at least 'email'"
                )
            if cut:
                raise MemberFileError(
                    f"{path}:{header_line}: the header line is {cut:,} characters long, which no header is; "
                    'check that this is the member list, exported as "CSV UTF-8"'
                )
            columns = read_header(path, header_line, header)
            cp1252 = encoding == "cp1252" or plain_ascii
            rows_read = MemberRows(path, config, columns, delimiter, check_dns, cp1252=cp1252)
            for line, cells, cut in rows:
                rows_read.add(line, cells, cut)
    except FileNotFoundError:
        raise MemberFileError(
            f"{path}: no such file; export the member list or set NEWSLETTER_SUBSCRIBERS"
        ) from None
    except (IsADirectoryError, PermissionError) as exc:
        raise MemberFileError(f"{path}: cannot be read ({exc.strerror})") from None
    return _report(rows_read, encoding, delimiter)


def _report(rows: MemberRows, encoding: str, delimiter: str) -> AudienceReport:
    everyone = rows.everyone()
    rows.by_address = {}
    members = tuple(m for m in everyone if m.subscribed)
    path = str(rows.path)
    return AudienceReport(
        path=rows.path,
        encoding=encoding,
        delimiter=delimiter,
        header=rows.header.written,
        rows=rows.rows,
        members=members,
        unsubscribed=tuple(m for m in everyone if not m.subscribed),
        rejected=Mapped(rows.rejections, lambda r: Problem(path, r.line, r.message)),
        rejections=rows.rejections,
        duplicates=rows.duplicates,
        counts=count_members(members),
        read_as=rows.header.read_as,
        warnings=rows.warnings,
        rejected_rows=rows.rejected_rows,
    )


# ─────────────────────────────── counts and reports ───────────────────────────────


def count_members(members: Iterable[Member]) -> Counts:
    """Per segment (a member in two segments counts in both; none = ``general``), language, both, edition.

    Members are grouped by (segments, language) first: a list of 100,000 has a few dozen groups."""
    groups: Counter[tuple[frozenset[str], str]] = Counter((m.segments, m.language) for m in members)
    per_segment: Counter[str] = Counter()
    per_language: Counter[str] = Counter()
    both: Counter[tuple[str, str]] = Counter()
    editions: Counter[str] = Counter()
    for (segments, language), n in groups.items():
        per_language[language] += n
        editions[str(EditionKey(segments, language))] += n
        for segment in segments or (GENERAL,):
            per_segment[segment] += n
            both[(segment, language)] += n
    total = sum(groups.values())
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
