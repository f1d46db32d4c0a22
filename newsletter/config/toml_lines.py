"""Where each key of a TOML text is written: ``key_lines(text)`` → {key path: line}.

tomllib parses without positions, so problems in newsletter.toml could not name their line. This
scanner walks text that tomllib has already accepted and records the 1-based line of every table
header, array-of-tables entry, key (dotted keys, inline tables included) and array element.

Paths are tuples of keys and indices, as in the parsed document: ``("sending", "rate")``,
``("segments", 1)`` for the second ``[[segments]]`` header, ``("segments", 1, "names", "de")``,
``("sending", "retry_backoff", 2)`` for the third element of that array.
"""

from __future__ import annotations

import bisect
import re
import tomllib

Path = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = re.compile(r"[,\]}\n#]")


def key_lines(text: str) -> dict[Path, int]:
    """Line of every key path in ``text`` (valid TOML); an empty map if the text is not understood."""
    try:
        return _Scanner(text).run()
    except (IndexError, ValueError, tomllib.TOMLDecodeError):
        return {}  # never worse than tomllib: problems are then reported without a line


class _Scanner:
    def __init__(self, text: str):
        self.s = text
        self.i = 0
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        self.lines: dict[Path, int] = {}
        self.arrays: dict[Path, int] = {}  # resolved array-of-tables path → index of its last entry

    def run(self) -> dict[Path, int]:
        table: Path = ()
        while self._skip(newlines=True) < len(self.s):
            if self.s.startswith("[[", self.i):
                table = self._array_header()
            elif self.s[self.i] == "[":
                line = self.line()
                self.i += 1
                table = self._resolve(self._key())
                self._note(table, line)
                self._expect("]")
            else:
                self._pair(table)
        return self.lines

    # ── structure ──

    def _array_header(self) -> Path:
        line = self.line()
        self.i += 2
        path = self._resolve(self._key())
        index = self.arrays.get(path, -1) + 1
        self.arrays[path] = index
        self._note(path, line)
        self._note((*path, index), line)
        self._expect("]]")
        return (*path, index)

    def _resolve(self, keys: tuple[str, ...]) -> Path:
        """A header's keys with the current entry of every array of tables on the way."""
        path: Path = ()
        for depth, key in enumerate(keys, 1):
            path = (*path, key)
            if depth < len(keys) and path in self.arrays:
                path = (*path, self.arrays[path])
        return path

    def _pair(self, table: Path) -> None:
        line = self.line()
        keys = self._key()
        for depth in range(1, len(keys) + 1):
            self._note((*table, *keys[:depth]), line)
        self._skip()
        self._expect("=")
        self._value((*table, *keys))

    def _value(self, path: Path) -> None:
        self._skip()
        char = self.s[self.i]
        if char in "\"'":
            self._string()
        elif char == "[":
            self._array(path)
        elif char == "{":
            self._inline_table(path)
        else:
            end = _SCALAR_END.search(self.s, self.i)
            self.i = end.start() if end else len(self.s)

    def _array(self, path: Path) -> None:
        self.i += 1
        index = 0
        while True:
            self._skip(newlines=True)
            if self.s[self.i] == "]":
                self.i += 1
                return
            self._note((*path, index), self.line())
            self._value((*path, index))
            index += 1
            self._skip(newlines=True)
            if self.s[self.i] == ",":
                self.i += 1

    def _inline_table(self, path: Path) -> None:
        self.i += 1
        while True:
            self._skip()
            if self.s[self.i] == "}":
                self.i += 1
                return
            self._pair(path)
            self._skip()
            if self.s[self.i] == ",":
                self.i += 1

    # ── tokens ──

    def _key(self) -> tuple[str, ...]:
        keys = []
        while True:
            self._skip()
            char = self.s[self.i]
            if char in "\"'":
                start = self.i
                self._string()
                keys.append(tomllib.loads(f"k = {self.s[start : self.i]}")["k"])
            else:
                match = _BARE_KEY.match(self.s, self.i)
                if not match:
                    raise ValueError(f"no key at offset {self.i}")
                keys.append(match.group())
                self.i = match.end()
            self._skip()
            if self.i < len(self.s) and self.s[self.i] == ".":
                self.i += 1
                continue
            return tuple(keys)

    def _string(self) -> None:
        quote = self.s[self.i]
        if self.s.startswith(quote * 3, self.i):
            end = self._closing(quote * 3, self.i + 3)
            for _ in range(2):  # up to two quotes may end the content: """a""""" is 'a""'
                if self.s.startswith(quote * 4, end):
                    end += 1
            self.i = end + 3
        else:
            self.i = self._closing(quote, self.i + 1) + 1

    def _closing(self, delimiter: str, start: int) -> int:
        at = start
        while True:
            at = self.s.index(delimiter, at)
            if delimiter[0] == "'" or not _escaped(self.s, at):
                return at
            at += 1

    def _skip(self, *, newlines: bool = False) -> int:
        """Skip spaces and comments (and line breaks if ``newlines``); the new offset."""
        blanks = " \t\r\n" if newlines else " \t"
        while self.i < len(self.s):
            char = self.s[self.i]
            if char in blanks:
                self.i += 1
            elif char == "#" and newlines:
                end = self.s.find("\n", self.i)
                self.i = len(self.s) if end < 0 else end
            else:
                break
        return self.i

    def _expect(self, token: str) -> None:
        self._skip()
        if not self.s.startswith(token, self.i):
            raise ValueError(f"expected {token!r} at offset {self.i}")
        self.i += len(token)

    def _note(self, path: Path, line: int) -> None:
        self.lines.setdefault(path, line)

    def line(self) -> int:
        return bisect.bisect_left(self.newlines, self.i) + 1


def _escaped(text: str, at: int) -> bool:
    """Whether the character at ``at`` is preceded by an odd number of backslashes."""
    count = 0
    while at - count - 1 >= 0 and text[at - count - 1] == "\\":
        count += 1
    return count % 2 == 1
