"""The header row of the member list → the contract's column names.

Names are matched in any case with the spaces around them trimmed. German member databases
export ``E-Mail``, ``Vorname``, ``Nachname``, ``Anrede``, ``Firma`` and ``Sprache``: those (and
``Mail``) are read as the contract's columns, and ``Header.read_as`` says so, so the office sees
which of its columns were taken. Two header cells that come to the same name refuse the file,
naming both as written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..model import MemberFileError

COLUMNS = ("email", "salutation", "first_name", "last_name", "company", "language", "segments", "timezone", "status")  # fmt: skip
ALIASES = {
    "e-mail": "email",
    "mail": "email",
    "vorname": "first_name",
    "nachname": "last_name",
    "anrede": "salutation",
    "firma": "company",
    "sprache": "language",
}


@dataclass(frozen=True)
class Header:
    """The header row: as written (trimmed) and the names the columns are read as."""

    written: tuple[str, ...]
    names: tuple[str, ...]  # contract name, or the lower-case header of another column; "" if blank

    @property
    def read_as(self) -> tuple[tuple[str, str], ...]:
        """(as written, contract name) of every column taken through an alias, e.g. ('E-Mail', 'email')."""
        return tuple(
            (written, name)
            for written, name in zip(self.written, self.names, strict=True)
            if name in COLUMNS and written.lower() != name
        )

    def label(self, name: str) -> str:
        """The column as the file names it, for messages: ``Vorname`` for first_name in a German export."""
        return self.written[self.names.index(name)] if name in self.names else name


class OtherColumns(Mapping[str, str]):
    """A member's cells of the columns the contract does not name (``member_no`` …), for templates.

    One shared name → position index per file and a tuple of values: about a third of a dict's
    size, which matters when a million members hold one each.
    """

    __slots__ = ("_names", "_values")

    def __init__(self, names: Mapping[str, int], values: tuple[str, ...]):
        self._names, self._values = names, values

    def __getitem__(self, name: str) -> str:
        return self._values[self._names[name]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return repr(dict(self))


def read_header(path: Path, line: int, cells: list[str]) -> Header:
    """The header of ``path`` (on ``line``); MemberFileError without an email column or with a name twice."""
    written = tuple(cell.strip() for cell in cells)
    names = tuple(ALIASES.get(cell.lower(), cell.lower()) for cell in written)
    if "email" not in names:
        found = ", ".join(repr(cell.lower()) for cell in written if cell) or "nothing"
        raise MemberFileError(
            f"{path}:{line}: the header has no 'email' column (found {found}); name the address column 'email'"
        )
    for name in dict.fromkeys(n for n in names if n):
        same = [written[i] for i, n in enumerate(names) if n == name]
        if len(same) > 1:
            both = " and ".join(repr(cell) for cell in same)
            raise MemberFileError(f"{path}:{line}: the header names column '{name}' twice ({both}); keep one")
    return Header(written, names)


__all__ = ["ALIASES", "COLUMNS", "Header", "OtherColumns", "read_header"]
