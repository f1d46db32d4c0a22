"""CSV files from and for spreadsheets (Excel, LibreOffice, CRM exports).

Reading: UTF-8 with or without BOM or Windows-1252, told apart from the bytes (a file that is
neither is refused with the byte offset and line); ``,`` or ``;`` detected from the header line;
records named by the physical line they start on, so a quoted value with a line break does not
shift the numbers after it; a quote that is never closed is refused, not read to the end of the file.
Memory stays bounded whatever the file: the encoding check reads 1 MiB chunks, and the csv reader
gets physical lines of at most LINE_MAX characters (the rest of a longer line is skipped and the
record reported) and records of at most RECORD_MAX (newsletter/limits.py).

Writing: ``spreadsheet_safe`` neutralises cells a spreadsheet would run as a formula.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from ..limits import LINE_MAX, RECORD_MAX
from ..model import AudienceError, MemberFileError

ENCODINGS = {"utf-8-sig": "UTF-8 with BOM", "utf-8": "UTF-8", "cp1252": "Windows-1252"}

_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_QUOTED = re.compile(r'"[^"]*"')
_CONTROL = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f]")
_CHUNK = 1 << 20
_SEP_LINE = re.compile(r"^sep=([;,\t|])\s*$", re.IGNORECASE)
# What the office saves by mistake instead of a CSV export, by the file's first bytes.
_NOT_CSV = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a zip archive (an Excel .xlsx or LibreOffice .ods workbook)",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook",
}


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` (BOM), ``utf-8`` or ``cp1252``; MemberFileError with the byte offset otherwise."""
    return sniff(path)[0]


def sniff(path: Path) -> tuple[str, bool]:
    """(encoding as ``detect_encoding``, whether the file is plain ASCII and so may be Windows-1252 too)."""
    with path.open("rb") as f:
        start = f.read(8)
        kind = next((kind for magic, kind in _NOT_CSV.items() if start.startswith(magic)), None)
        if kind:
            raise MemberFileError(
                f'{path}: the file is {kind}, not a CSV file; in Excel use File → Save as → "CSV UTF-8 '
                '(Comma delimited)" and check that file'
            )
        if start[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):  # Excel's "Unicode Text"
            raise MemberFileError(
                f"{path}:1: byte 0x{start[0]:02X} at byte offset 0 starts a UTF-16 file, which is neither "
                f'UTF-8 nor Windows-1252; save the file as "CSV UTF-8" and try again'
            )
        bom = start[:3] == codecs.BOM_UTF8
        f.seek(0)
        offset, non_ascii = _first_invalid_utf8(f)
        if offset is None:
            return ("utf-8-sig" if bom else "utf-8"), not (bom or non_ascii)
        if bom or non_ascii:  # UTF-8 up to here: a broken or mixed file, not Windows-1252
            byte, line = _byte_at(f, offset)
            raise MemberFileError(
                f"{path}:{line}: invalid UTF-8 byte 0x{byte:02X} at byte offset {offset}, though the file "
                f'is UTF-8 before it; save the whole file again as "CSV UTF-8"'
            )
        f.seek(0)
        bad = _first_cp1252_undefined(f)
        if bad is None:
            return "cp1252", False
        byte, line = _byte_at(f, bad)
        raise MemberFileError(
            f"{path}:{line}: byte 0x{byte:02X} at byte offset {bad} is neither UTF-8 nor Windows-1252; "
            f'save the file as "CSV UTF-8" and try again'
        )


def _first_invalid_utf8(f: IO[bytes]) -> tuple[int | None, bool]:
    """Offset of the first byte that is not UTF-8 (None if all is), and whether non-ASCII came before."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    position, non_ascii = 0, False
    while True:
        chunk = f.read(_CHUNK)
        pending = len(decoder.getstate()[0])
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            return position - pending + exc.start, non_ascii or not exc.object[: exc.start].isascii()
        non_ascii = non_ascii or not text.isascii()
        if not chunk:
            return None, non_ascii
        position += len(chunk)


def _first_cp1252_undefined(f: IO[bytes]) -> int | None:
    position = 0
    while chunk := f.read(_CHUNK):
        found = _CP1252_UNDEFINED.search(chunk)
        if found:
            return position + found.start()
        position += len(chunk)
    return None


def _byte_at(f: IO[bytes], offset: int) -> tuple[int, int]:
    """The byte at ``offset`` and the physical line it is on."""
    f.seek(0)
    line, remaining = 1, offset
    while remaining > 0:
        chunk = f.read(min(_CHUNK, remaining))
        line += chunk.count(b"\n")
        remaining -= len(chunk)
    return f.read(1)[0], line


def open_csv(text: IO[str]) -> tuple[str, _Reader]:
    """Detect the delimiter from the first non-blank line (the header) and return a csv reader."""
    lines = _Lines(text)
    head: list[str] = []
    declared = None
    for physical in lines:
        sep = _SEP_LINE.match(physical) if declared is None else None
        if sep:  # Excel's "sep=;" line: it names the delimiter and is not the header
            declared = sep[1]
            physical = "\n"  # a blank record, so the lines after it keep their numbers
        head.append(physical)
        if physical.strip():
            break
    sample = _QUOTED.sub("", head[-1]) if head else ""
    delimiter = declared or (";" if sample.count(";") > sample.count(",") else ",")
    return delimiter, _Reader(itertools.chain(head, lines), lines, delimiter)


class _RecordTooLong(Exception):
    pass


class _Lines:
    """The physical lines of a text, none longer than LINE_MAX characters, so a giant line is never
    held whole: the rest of a longer line is skipped (its length remembered in ``cut``) and a ``"``
    added if the skipped part had an odd number of them, so the quoting after it stays as it was.
    A record (lines since ``record_done``) longer than RECORD_MAX raises ``_RecordTooLong``."""

    def __init__(self, text: IO[str]):
        self._readline = text.readline
        self._carry = ""  # a line read ahead while looking for the end of a cut one
        self.line = 0
        self.cut: dict[int, int] = {}  # physical line → its whole length, for lines that were cut
        self._record = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line, self._carry = self._carry or self._readline(LINE_MAX), ""
        if not line:
            raise StopIteration
        self.line += 1
        if len(line) == LINE_MAX and line[-1] not in "\r\n":
            line = self._skip_rest(line)
        elif len(line) == LINE_MAX and line[-1] == "\r":
            line = self._crlf(line)
        self._record += len(line)
        if self._record > RECORD_MAX:
            raise _RecordTooLong
        return line

    def _skip_rest(self, head: str) -> str:
        length, quotes, piece = len(head), 0, ""
        while piece[-1:] not in ("\r", "\n"):
            piece = self._readline(LINE_MAX)
            if not piece:
                break
            length, quotes = length + len(piece), quotes + piece.count('"')
        ending = piece[len(piece.rstrip("\r\n")) :]
        if ending == "\r" and len(piece) == LINE_MAX:
            ending = self._crlf(ending)
        if length - len(ending) > LINE_MAX:
            self.cut[self.line] = length - len(ending)
        return head + '"' * (quotes % 2) + ending

    def _crlf(self, line: str) -> str:
        """A line that the read limit ended right after its "\r": take the "\n" that may follow."""
        after = self._readline(LINE_MAX)
        if after == "\n":
            return line + after
        self._carry = after
        return line

    def record_done(self) -> None:
        self._record = 0


class _Reader:
    """``csv.reader`` (lenient about stray quotes, like Excel) that still notices a quoted value
    running into the end of the file: the non-strict reader returns it as if it were complete."""

    def __init__(self, lines: Iterator[str], physical: _Lines, delimiter: str):
        self._lines = lines
        self.physical = physical
        self._ended = False
        self._csv = csv.reader(self._next_line(), delimiter=delimiter)

    def _next_line(self) -> Iterator[str]:
        yield from self._lines
        self._ended = True

    def __iter__(self) -> _Reader:
        return self

    def __next__(self) -> list[str]:
        cells = next(self._csv)
        if self._ended:  # the reader asked for more lines to finish this record, and there were none
            raise csv.Error("unexpected end of data")
        return cells

    @property
    def line_num(self) -> int:
        return self._csv.line_num


def records(reader: _Reader, path: Path) -> Iterator[tuple[int, list[str], int]]:
    """(physical start line, cells, length of its longest line if that was cut, else 0) of every
    record that is not blank."""
    previous = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except (_RecordTooLong, csv.Error) as exc:
            raise _unreadable(path, previous + 1, exc) from None
        start, previous = previous + 1, reader.line_num
        reader.physical.record_done()
        cuts = reader.physical.cut
        cut = max((cuts.pop(n) for n in range(start, previous + 1) if n in cuts), default=0) if cuts else 0
        if cut or any(cell.strip() for cell in cells):
            yield start, cells, cut


def _unreadable(path: Path, line: int, exc: Exception) -> MemberFileError:
    if isinstance(exc, _RecordTooLong) or "field larger than field limit" in str(exc):
        limit = RECORD_MAX if isinstance(exc, _RecordTooLong) else csv.field_size_limit()
        return MemberFileError(
            f"{path}:{line}: the record starting on this line runs on for more than {limit:,} characters: "
            'a value in double quotes is probably never closed; add the missing "'
        )
    if str(exc) == "unexpected end of data":  # every line after the quote would be one value
        return MemberFileError(
            f"{path}:{line}: a value in double quotes starting on this line is never closed, "
            f'so the rest of the file would be read as part of it; add the missing "'
        )
    return MemberFileError(f"{path}:{line}: cannot read the CSV ({exc}); check the quotes")


def spreadsheet_safe(value: str) -> str:
    """A cell Excel/LibreOffice will not run as a formula: ``'`` before = + - @ tab CR LF."""
    value = _CONTROL.sub(lambda m: repr(m.group())[1:-1], value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r", "\n") else value


def write_spreadsheet(
    target: Path, header: Iterable[str], rows: Iterable[Iterable[str]], *, delimiter: str = ","
) -> None:
    """A CSV for Excel: UTF-8 with BOM, CRLF, every cell through ``spreadsheet_safe``."""
    try:
        with target.open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f, delimiter=delimiter, lineterminator="\r\n")
            writer.writerow([spreadsheet_safe(c) for c in header])
            writer.writerows([spreadsheet_safe(c) for c in row] for row in rows)
    except OSError as exc:  # a folder that does not exist, the file open in Excel …
        raise AudienceError(
            f"{target}: cannot write the file ({exc.strerror}); check that the folder exists "
            "and the file is not open in Excel"
        ) from None


__all__ = [
    "ENCODINGS",
    "detect_encoding",
    "open_csv",
    "records",
    "sniff",
    "spreadsheet_safe",
    "write_spreadsheet",
]
