"""An IMAP folder as the inbox's mailbox, through IMAPClient over TLS (certificates verified with
``ssl.create_default_context``, NEWSLETTER_INBOX_CA_FILE added for a private CA).

Mail is fetched with ``BODY.PEEK[]``, which never sets ``\\Seen``; nothing else is stored on a mail
that stays. Processed mail is MOVEd (RFC 6851) to the Processed folder, created when missing; a
server without MOVE gets COPY, ``\\Deleted`` and ``UID EXPUNGE`` of exactly those UIDs (UIDPLUS),
or — without UIDPLUS — COPY and ``\\Deleted`` only, leaving the expunge to the mail program.
With ``readonly`` (--dry-run) the folder is EXAMINEd: the server itself refuses any change.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator, Sequence

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from .mailbox import ImapUrl, Mail, MailboxError

_BATCH = 50  # mails per FETCH: a few MB at most in memory
_UNTOUCHED = "nothing was read or changed"


class ImapMailbox:
    def __init__(
        self,
        url: ImapUrl,
        password: str,
        *,
        ca_file: str | None = None,
        processed: str | None = None,
        timeout: float = 30.0,
        readonly: bool = False,
    ):
        self.url = url
        self.shown = url.shown
        context = ssl.create_default_context()
        if ca_file:
            try:
                context.load_verify_locations(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise MailboxError(
                    f"NEWSLETTER_INBOX_CA_FILE {ca_file}: cannot load a CA certificate ({exc})"
                ) from None
        try:
            self.client = IMAPClient(url.host, port=url.port, ssl=True, ssl_context=context, timeout=timeout)
        except ssl.SSLCertVerificationError as exc:
            raise MailboxError(
                f"TLS with {self.shown} failed: the server certificate is not trusted "
                f"({exc.verify_message or exc.reason}); set NEWSLETTER_INBOX_CA_FILE to the CA certificate "
                f"that signed the mail server's — {_UNTOUCHED}"
            ) from None
        except (OSError, ssl.SSLError, IMAPClientError) as exc:
            raise MailboxError(f"{self.shown}: cannot connect: {exc}") from None
        try:
            self._login(url.user, password)
            self.delimiter = self._delimiter()
            self.processed = processed or f"{url.folder}{self.delimiter}Processed"
            self.client.select_folder(url.folder, readonly=readonly)
        except (OSError, IMAPClientError) as exc:
            self.close()
            raise MailboxError(f"{self.shown}: {_said(exc)}") from None

    def _login(self, user: str, password: str) -> None:
        try:
            self.client.login(user, password)
        except LoginError as exc:
            self.close()
            raise MailboxError(
                f"{self.shown}: the server refused the login for '{user}' ({_said(exc)}); "
                f"check NEWSLETTER_INBOX_PASSWORD — {_UNTOUCHED}"
            ) from None

    def mails(self) -> Iterator[Mail]:
        try:
            uids = sorted(self.client.search(["NOT", "DELETED"]))
            for start in range(0, len(uids), _BATCH):
                fetched = self.client.fetch(uids[start : start + _BATCH], ["BODY.PEEK[]"])
                for uid in sorted(fetched):
                    raw = fetched[uid].get(b"BODY[]")
                    if isinstance(raw, bytes):
                        yield Mail(str(uid), raw)
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(f"{self.shown}: reading failed: {_said(exc)}") from None

    def move(self, refs: Sequence[str]) -> None:
        if not refs:
            return
        uids = [int(r) for r in refs]
        try:
            if not self.client.folder_exists(self.processed):
                self.client.create_folder(self.processed)
                self.client.subscribe_folder(self.processed)
            if self.client.has_capability("MOVE"):
                self.client.move(uids, self.processed)
                return
            self.client.copy(uids, self.processed)
            self.client.add_flags(uids, [b"\\Deleted"])
            if self.client.has_capability("UIDPLUS"):
                self.client.uid_expunge(uids)
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(f"{self.shown}: moving to {self.processed} failed: {_said(exc)}") from None

    def close(self) -> None:
        try:
            self.client.logout()
        except (OSError, IMAPClientError):
            self.client.shutdown() if hasattr(self.client, "shutdown") else None

    def _delimiter(self) -> str:
        listed = self.client.list_folders(pattern=self.url.folder)
        for _flags, delimiter, _name in listed:
            if delimiter:
                return delimiter.decode() if isinstance(delimiter, bytes) else str(delimiter)
        return "/"


def _said(exc: Exception) -> str:
    text = str(exc)
    return text.removeprefix("b'").removesuffix("'") or type(exc).__name__


__all__ = ["ImapMailbox"]
