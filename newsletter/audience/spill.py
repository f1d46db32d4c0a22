"""An append-only list that keeps a bounded number of items in memory and spills the rest to disk.

Reading a member list must not grow with the file: in a 200 MB export whose every row is rejected,
holding each rejected row's cells took 0.78 GB. Every one of them must still reach stderr and the
office's report, so they are not dropped: beyond the first ``keep`` items, they are pickled in
batches to a temporary file (deleted with the list, or at exit) and read back, in order, by each
iteration. The items are our own frozen values, so unpickling them is safe.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import IO, Generic, TypeVar

T = TypeVar("T")
U = TypeVar("U")


class Spill(Collection[T], Generic[T]):
    """``append``/``extend`` while reading; afterwards iterate (any number of times), ``len``, ``bool``."""

    def __init__(self, *, keep: int = 1000, batch: int = 1000):
        self._keep, self._batch = keep, batch
        self._head: list[T] = []  # the first ``keep`` items: most lists never spill
        self._tail: list[T] = []  # items not yet written
        self._file: IO[bytes] | None = None
        self._path = ""
        self._count = 0

    def append(self, item: T) -> None:
        self._count += 1
        if len(self._head) < self._keep:
            self._head.append(item)
            return
        self._tail.append(item)
        if len(self._tail) >= self._batch:
            self._write()

    def extend(self, items: Iterable[T]) -> None:
        for item in items:
            self.append(item)

    def _write(self) -> None:
        if self._file is None:
            handle, self._path = tempfile.mkstemp(prefix="newsletter-", suffix=".spill")
            self._file = os.fdopen(handle, "wb")
            weakref.finalize(self, _remove, self._file, self._path)
        pickle.dump(self._tail, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self._tail = []

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __iter__(self) -> Iterator[T]:
        yield from self._head
        if self._file is not None:
            self._file.flush()
            with open(self._path, "rb") as spilled:  # a handle of its own: iterations may overlap
                while True:
                    try:
                        batch = pickle.load(spilled)  # noqa: S301  (our own file, just written)
                    except EOFError:
                        break
                    yield from batch
        yield from list(self._tail)

    def __contains__(self, item: object) -> bool:
        return any(item == mine for mine in self)

    def __repr__(self) -> str:
        return f"Spill({self._count} items, {len(self._head)} in memory)"


class Mapped(Collection[U], Generic[T, U]):
    """A view of a ``Spill`` with ``convert`` applied to each item as it is read."""

    def __init__(self, source: Collection[T], convert: Callable[[T], U]):
        self._source, self._convert = source, convert

    def __len__(self) -> int:
        return len(self._source)

    def __bool__(self) -> bool:
        return bool(self._source)

    def __iter__(self) -> Iterator[U]:
        return map(self._convert, self._source)

    def __contains__(self, item: object) -> bool:
        return any(item == mine for mine in self)


def _remove(file: IO[bytes], path: str) -> None:
    file.close()
    with contextlib.suppress(OSError):  # gone already, or (Windows) open elsewhere: temp cleanup has it
        os.unlink(path)


__all__ = ["Mapped", "Spill"]
