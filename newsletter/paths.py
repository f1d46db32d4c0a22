"""One containment rule for every file the tool reads, copies or serves from a folder it was given.

The folder is an issue (``build``, ``archive``, the preview, ``check``) or the built ``site/``
(``newsletter serve``). A relative path may be used only when every part of it is a plain name:
no absolute path, no ``..`` or ``.``, no hidden part (``.env``), and **no symbolic link anywhere
on the way**, whatever the link points to. Links are refused rather than resolved, because a link
that points inside today may be re-pointed tomorrow, and copying follows it without a word
(``shutil.copytree`` copied ``images/x.png -> /etc/passwd`` into the public archive).

Files are opened with ``O_NOFOLLOW``, so a link swapped in after the check still reads nothing.
Writes (``write_contained``, ``delete_contained``: the editor's desk, Word import, uploads) walk
the folders one by one with ``O_NOFOLLOW`` from the root, so no link on the way is ever followed,
and replace a file atomically (a hidden temporary file in the same folder, fsync, ``os.replace``).
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

OUTSIDE = "leaves the folder"
LINK = "is a symbolic link"
HIDDEN = "is a hidden file"
MISSING = "does not exist"
NOT_A_FILE = "is not a regular file"
EXISTS = "already exists"


class Refused(Exception):
    """A write the containment rule does not allow: ``reason`` is one of the constants above."""

    def __init__(self, relative: str, reason: str) -> None:
        super().__init__(f"{relative} {reason}")
        self.relative = relative
        self.reason = reason


def refusal(root: Path, relative: str, *, directory: bool = False) -> str | None:
    """Why ``root/relative`` may not be used (one of the constants above), or None when it is a
    regular file inside ``root`` (or, with ``directory=True``, a folder inside it)."""
    parts, reason = _parts(relative)
    if reason:
        return reason
    current = root.resolve()
    mode = 0
    for part in parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except OSError:  # missing, or a parent is a file (ENOTDIR)
            return MISSING
        if stat.S_ISLNK(mode):
            return LINK
    if stat.S_ISREG(mode) or (directory and stat.S_ISDIR(mode)):
        return None
    return NOT_A_FILE


def contained(root: Path, relative: str, *, directory: bool = False) -> Path | None:
    """``root/relative`` (with ``root`` resolved) if ``refusal`` finds nothing wrong, else None."""
    if refusal(root, relative, directory=directory) is not None:
        return None
    parts, _ = _parts(relative)
    return root.resolve().joinpath(*parts)


def read_contained(root: Path, relative: str) -> bytes | None:
    """The bytes of a contained regular file, opened without following a last-moment link."""
    target = contained(root, relative)
    return None if target is None else read_regular(target)


def read_regular(path: Path) -> bytes | None:
    """The bytes of ``path`` if it is a regular file, opened without following a link in its last
    part; None for a link, a folder or a file gone meanwhile."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None
        return fh.read()


def files(root: Path) -> Iterator[str]:
    """Relative paths (``images/a.png``) of the regular, non-hidden files under ``root``, sorted;
    links are neither followed nor listed, hidden folders are not entered."""
    for relative, is_link in _walk(root.resolve(), ""):
        if not is_link:
            yield relative


def symlinks(root: Path) -> Iterator[Path]:
    """Every symbolic link under ``root`` (hidden ones included), sorted, none of them followed."""
    base = root.resolve()
    for relative, is_link in _walk(base, "", hidden=True):
        if is_link:
            yield base / relative


def copy_contained(root: Path, relatives: Iterable[str], dest: Path) -> int:
    """Copy each contained file ``root/rel`` to ``dest/rel``; anything refused is skipped. Returns
    how many files were copied (each path once)."""
    copied = 0
    for relative in dict.fromkeys(relatives):
        data = read_contained(root, relative)
        if data is None:
            continue
        target = dest.joinpath(*relative.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():  # never write through a link left in the output folder
            target.unlink()
        target.write_bytes(data)
        copied += 1
    return copied


def listing(root: Path, folder: str, pattern: str) -> list[Path]:
    """The entries of ``root/folder`` (``folder`` "" for ``root`` itself) whose names match
    ``pattern`` (``*.md``), sorted: never a hidden name or a symbolic link, and none at all when the
    folder is refused by the rule above (a link, hidden, outside, missing). Each is still read
    through ``refusal``/``read_contained``; this only decides what is looked at."""
    if folder and refusal(root, folder, directory=True) is not None:
        return []
    base = root / folder if folder else root
    if not base.is_dir():
        return []
    return [p for p in sorted(base.glob(pattern)) if not p.name.startswith(".") and not p.is_symlink()]


def editor_path(relative: str) -> str:
    """A path as an editor writes it in an article, without a leading ``./`` (``./images/a.png``)."""
    while relative.startswith("./"):
        relative = relative[2:]
    return relative


def write_contained(root: Path, relative: str, data: bytes | Callable[[bytes | None], bytes], *,
                    exclusive: bool = False) -> Path:  # fmt: skip
    """Write ``data`` to ``root/relative`` atomically; returns the path written.

    Missing folders on the way are created (never through a link); an existing link, folder or
    other non-file at the target is refused (``Refused``), as is any path ``refusal`` would refuse.
    ``data`` may be a function of the current bytes (None: no file yet), called under a lock on
    the folder, so two writes through this function never interleave between reading and
    replacing; it raises to stop the write. ``exclusive``: refuse (``EXISTS``) when the file exists.
    """
    parts = _checked(relative)
    with _folder(root, parts[:-1], create=True) as folder:
        current = _read_at(folder, parts[-1], relative)
        if exclusive and current is not None:
            raise Refused(relative, EXISTS)
        if callable(data):
            data = data(current)
        temporary = f".{parts[-1]}.{secrets.token_hex(6)}.tmp"  # hidden: no reader ever looks at it
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC, 0o666,
                     dir_fd=folder)  # fmt: skip
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if exclusive:  # a link fails if the name appeared meanwhile; replace would overwrite it
                try:
                    os.link(temporary, parts[-1], src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
                except FileExistsError:
                    raise Refused(relative, EXISTS) from None  # the temporary file goes below
                os.unlink(temporary, dir_fd=folder)
            else:
                os.replace(temporary, parts[-1], src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            _unlink_quietly(temporary, folder)
            raise
        os.fsync(folder)  # the new directory entry survives a crash too
    return root.resolve().joinpath(*parts)


def delete_contained(
    root: Path, relative: str, *, check: Callable[[bytes | None], None] | None = None
) -> bool:
    """Remove the regular file ``root/relative`` (``check`` as for ``write_contained``); False when
    there was none. A link or folder there is refused, never followed or removed."""
    parts = _checked(relative)
    try:
        with _folder(root, parts[:-1], create=False) as folder:
            current = _read_at(folder, parts[-1], relative)
            if check is not None:
                check(current)
            if current is None:
                return False
            os.unlink(parts[-1], dir_fd=folder)
            os.fsync(folder)
            return True
    except FileNotFoundError:  # a folder on the way is missing: so is the file
        if check is not None:
            check(None)
        return False


_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC


def _checked(relative: str) -> tuple[str, ...]:
    parts, reason = _parts(relative)
    if reason:
        raise Refused(relative, reason if reason != MISSING else "is not a plain relative path")
    return parts


@contextmanager
def _folder(root: Path, parts: tuple[str, ...], *, create: bool) -> Iterator[int]:
    """A descriptor of ``root/parts…`` opened one folder at a time without following links, held
    under an exclusive lock (released when it closes)."""
    import fcntl  # POSIX only, like O_NOFOLLOW: imported where it is needed

    fd = os.open(root.resolve(), _FOLDER_FLAGS)
    try:
        for index, part in enumerate(parts):
            try:
                child = os.open(part, _FOLDER_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with suppress(FileExistsError):  # another first upload made it meanwhile
                    os.mkdir(part, dir_fd=fd)
                child = os.open(part, _FOLDER_FLAGS, dir_fd=fd)
            except OSError as exc:  # ELOOP: a link; ENOTDIR: a file where a folder belongs
                shown = "/".join(parts[: index + 1])
                raise Refused(shown, LINK if os.path.islink(root.resolve().joinpath(*parts[: index + 1]))
                              else NOT_A_FILE) from exc  # fmt: skip
            os.close(fd)
            fd = child
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


def _read_at(folder: int, name: str, relative: str) -> bytes | None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC, dir_fd=folder)
    except FileNotFoundError:
        return None
    except OSError as exc:
        is_link = stat.S_ISLNK(os.lstat(name, dir_fd=folder).st_mode)
        raise Refused(relative, LINK if is_link else NOT_A_FILE) from exc
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise Refused(relative, NOT_A_FILE)
        return fh.read()


def _unlink_quietly(name: str, folder: int) -> None:
    with suppress(OSError):
        os.unlink(name, dir_fd=folder)


def _parts(relative: str) -> tuple[tuple[str, ...], str | None]:
    if not relative or "\x00" in relative or "\\" in relative:
        return (), MISSING
    if relative.startswith("/"):
        return (), OUTSIDE
    parts = tuple(relative.split("/"))
    if ".." in parts:
        return (), OUTSIDE
    if any(part in ("", ".") for part in parts):
        return (), MISSING  # "a//b", "./a": not how the tool writes paths; refuse, don't normalise
    if any(part.startswith(".") for part in parts):
        return (), HIDDEN
    return parts, None


def _walk(base: Path, prefix: str, *, hidden: bool = False) -> Iterator[tuple[str, bool]]:
    """(relative path, is a link) for every file and link under ``base/prefix``, sorted; folders
    are entered (never through a link), hidden entries only with ``hidden=True``."""
    try:
        with os.scandir(base / prefix if prefix else base) as entries:
            items = sorted(entries, key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return
    for entry in items:
        if entry.name.startswith(".") and not hidden:
            continue
        relative = f"{prefix}/{entry.name}" if prefix else entry.name
        if entry.is_symlink():
            yield relative, True
        elif entry.is_dir(follow_symlinks=False):
            yield from _walk(base, relative, hidden=hidden)
        elif entry.is_file(follow_symlinks=False):
            yield relative, False
