"""The mailbox the inbox runner reads: the interface it uses and its construction from NEWSLETTER_INBOX.

``NEWSLETTER_INBOX`` is ``imaps://USER@HOST[:PORT]/FOLDER`` (IMAP over TLS, port 993 by default,
password in NEWSLETTER_INBOX_PASSWORD, a private CA in NEWSLETTER_INBOX_CA_FILE) or the path of a
Maildir (relative to the project folder). ``open_mailbox(config)`` is all a caller needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from ..config import Config
from ..model import ConfigError, NewsletterError


class MailboxError(NewsletterError):
    """The mailbox could not be reached, logged into or changed (the next run tries again)."""

    exit_code = 1


@dataclass(frozen=True)
class Mail:
    ref: str  # the reader's name for it: an IMAP UID, a Maildir file ("new/1712.M1P2.host")
    raw: bytes


class Mailbox(Protocol):
    shown: str  # the mailbox as messages name it, without a password
    processed: str  # the folder processed mail is moved to, as shown

    def mails(self) -> Iterator[Mail]:
        """Every mail in the folder, read without changing anything (IMAP: BODY.PEEK, no \\Seen)."""
        ...

    def move(self, refs: Sequence[str]) -> None:
        """Move these mails to the Processed folder (created when missing); never delete one."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ImapUrl:
    user: str
    host: str
    port: int
    folder: str

    @property
    def shown(self) -> str:
        return f"imaps://{self.user}@{self.host}:{self.port}/{self.folder}"


def parse_imap_url(url: str) -> ImapUrl:
    """``imaps://USER@HOST[:PORT]/FOLDER`` (USER may be written with %40 for an @)."""
    parts = urlsplit(url)
    try:
        port = parts.port or 993
    except ValueError:
        raise ConfigError(
            f"NEWSLETTER_INBOX {hide_password(url)!r}: the port must be a number 1–65535"
        ) from None
    if parts.scheme != "imaps" or not parts.hostname or not parts.username:
        raise ConfigError(
            f"NEWSLETTER_INBOX {hide_password(url)!r} must be imaps://USER@HOST[:PORT]/FOLDER (IMAP over TLS) "
            "or the path of a Maildir"
        )
    if parts.password is not None:
        raise ConfigError("NEWSLETTER_INBOX must not hold the password; put it in NEWSLETTER_INBOX_PASSWORD")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return ImapUrl(unquote(parts.username), parts.hostname, port, folder)


def open_mailbox(config: Config, *, readonly: bool = False) -> Mailbox:
    """The reader NEWSLETTER_INBOX names (``readonly``: --dry-run, nothing may change)."""
    settings = config.inbox
    if settings is None or not settings.url:
        raise ConfigError(
            "NEWSLETTER_INBOX is not set: name the bounce mailbox, imaps://USER@HOST/FOLDER or a Maildir path"
        )
    url = settings.url
    if "://" in url:
        from .imap import ImapMailbox

        if settings.password is None:
            raise ConfigError("NEWSLETTER_INBOX_PASSWORD is not set: the IMAP login needs it")
        return ImapMailbox(
            parse_imap_url(url),
            settings.password.reveal(),
            ca_file=settings.ca_file,
            processed=settings.processed_folder,
            timeout=config.smtp.timeout,
            readonly=readonly,
        )
    from .maildir import MaildirMailbox

    path = Path(url)
    return MaildirMailbox(path if path.is_absolute() else config.root / path, settings.processed_folder)


def hide_password(url: str | None) -> str:
    """NEWSLETTER_INBOX as it may be shown: a password in it as ``***``, "(not set)" for none."""
    if not url:
        return "(not set)"
    password = urlsplit(url).password
    return url.replace(f":{password}@", ":***@") if password else url


__all__ = ["ImapUrl", "Mail", "Mailbox", "MailboxError", "hide_password", "open_mailbox", "parse_imap_url"]
