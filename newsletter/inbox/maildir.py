"""A local Maildir as the inbox's mailbox: mail is read from ``new/`` and ``cur/`` without renaming,
moving or re-flagging anything; processed mail is renamed, under its own name (flags included), into
the Maildir++ subfolder ``.Processed`` (created when missing, with its ``maildirfolder`` marker).

Only real folders and regular files are used: a symbolic link (a message file pointing at
/etc/shadow, a ``.Processed`` pointing elsewhere) is never read through, written through or moved.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..paths import read_regular
from .mailbox import Mail, MailboxError

_SUBDIRS = ("new", "cur")


class MaildirMailbox:
    def __init__(self, root: Path, processed: str | None = None):
        self.root = root
        name = (processed or "Processed").strip().lstrip(".")
        if not name or "/" in name or name in (".", ".."):
            raise MailboxError(
                f"[inbox] processed_folder {processed!r}: name one Maildir subfolder, e.g. Processed"
            )
        self.target = root / f".{name}"
        self.shown = str(root)
        self.processed = str(self.target)
        for sub in _SUBDIRS:
            if not _real_dir(root / sub):
                raise MailboxError(
                    f"NEWSLETTER_INBOX {root}: not a Maildir (no folder {sub}/; symbolic links are not followed)"
                )

    def mails(self) -> Iterator[Mail]:
        for sub in _SUBDIRS:
            with os.scandir(self.root / sub) as entries:
                names = sorted(e.name for e in entries if not e.name.startswith("."))
            for name in names:
                raw = read_regular(self.root / sub / name)
                if raw is not None:
                    yield Mail(f"{sub}/{name}", raw)

    def move(self, refs: Sequence[str]) -> None:
        if not refs:
            return
        self._make_target()
        for ref in refs:
            sub, _, name = ref.partition("/")
            if sub not in _SUBDIRS or not name or "/" in name:
                raise MailboxError(f"{ref}: not a mail of {self.root}")
            try:
                os.rename(self.root / sub / name, self.target / sub / name)
            except FileNotFoundError:
                continue  # moved meanwhile (by the mail program or another run)
            except OSError as exc:
                raise MailboxError(
                    f"{self.root / ref}: cannot be moved to {self.target}: {exc.strerror}"
                ) from None

    def close(self) -> None:
        return None

    def _make_target(self) -> None:
        try:
            for sub in ("", "tmp", "new", "cur"):
                folder = self.target / sub if sub else self.target
                if not folder.exists() and not folder.is_symlink():
                    folder.mkdir(mode=0o700)
                if not _real_dir(folder):
                    raise MailboxError(f"{folder}: not a folder (symbolic links are not followed)")
            marker = self.target / "maildirfolder"
            if not marker.exists():
                marker.touch(mode=0o600)
        except OSError as exc:
            raise MailboxError(f"{self.target}: cannot be created: {exc.strerror}") from None


def _real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


__all__ = ["MaildirMailbox"]
