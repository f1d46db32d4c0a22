"""A throw-away Dovecot IMAP server on 127.0.0.1 for tests: IMAPS with a test CA, one user, Maildir.

    def test_reports_are_moved(dovecot):                 # the fixture: a started ImapRig
        dovecot.append("INBOX", raw_bytes, flags=[r"\\Seen"])
        env = dovecot.env("INBOX")   # NEWSLETTER_INBOX, NEWSLETTER_INBOX_PASSWORD, NEWSLETTER_INBOX_CA_FILE
        ...  run `newsletter inbox --once` with env  ...
        assert [m.message_id for m in dovecot.messages("INBOX/Processed")] == ["<dsn-1@example.org>"]
        assert dovecot.messages("INBOX")[0].flags == {r"\\Seen"}

Bring the fixtures into a test module with ``import imap_rig`` and
``dovecot, dovecot_factory = imap_rig.dovecot, imap_rig.dovecot_factory`` (an assignment, so ruff does
not flag the fixture arguments). ``dovecot_factory(separator=".", user="office", capability=…)`` starts more or other
servers; every one is stopped at teardown, also when the test fails. ``with ImapRig(folder) as rig:``
works outside pytest.

What runs: Debian's Dovecot 2.3 (`make test` installs dovecot-imapd; without it the rig fails and says
so, it never skips) as ``dovecot -F -c dovecot.conf``, a child of the test process that cannot outlive it
(tests/rig_process.py). Start about 0.1 s, stop about 0.1 s, at most 0.5 s (benchmarks/rigs.py).

- ``rig.port``: IMAPS (TLS from the first byte); ``rig.starttls_port``: IMAP with STARTTLS. Both on
  127.0.0.1 at free ports. The certificate (localhost, 127.0.0.1) is signed by the test CA in
  ``rig.ca_file`` — the same CA as tests/smtp_sink.py's; that file is what NEWSLETTER_INBOX_CA_FILE
  names. A client without it fails certificate verification.
- One user ``rig.user`` / ``rig.password`` (passwd-file). Authentication needs TLS (``ssl = required``),
  except that Dovecot counts a client on the server's own IP address as secure: from 127.0.0.1 a
  plaintext LOGIN on the STARTTLS port is accepted, from 127.0.0.2 it is refused (the self-test shows
  both). A wrong password is refused at once (``auth_failure_delay = 0``, not Dovecot's 2 s).
- Maildir storage; hierarchy separator "/" (so the Processed folder is ``INBOX/Processed``), or "." with
  ``separator="."``; MOVE and UIDPLUS are offered — ``capability="IMAP4rev1 UIDPLUS"`` makes the
  server offer only what it names after login (an older server without MOVE; Dovecot still obeys the
  commands, a client that reads the capabilities does not send them).

Files, all in the folder given (the fixture's: ``tmp_path/"dovecot"``): dovecot.conf, passwd, ca.pem,
cert.pem, key.pem, mail/USER/Maildir, state/, run/ (sockets; a short folder in the system temp dir when
that path would be too long for a Unix socket), dovecot.log (Dovecot's log) and dovecot.out (its
stdout/stderr). Nothing under /etc/dovecot or /var/run/dovecot is read or written. Teardown sends
SIGTERM to Dovecot's whole process group (SIGKILL to what is left after 0.5 s) and removes mail/, run/
and state/; the logs stay.

Why a chroot: pytest's temp folders are private to root (0700) and Dovecot never opens a mailbox as
root, so the IMAP process chroots into mail/USER (while still root) and then runs as ``nobody``.

Helpers, all over IMAPS with the CA — they see what any client sees, and reading never sets a flag:
``append(folder, raw, flags=())`` → UID (creates the folder); ``messages(folder)`` → RigMessage(uid,
flags, message_id, subject) sorted by UID (``\\Recent`` left out: it is per session); ``folders()``;
``create(folder)``; ``fetch(folder, uid)`` → the raw bytes; ``client()`` → a logged-in IMAPClient.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import socket
import ssl
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from imapclient import IMAPClient
from rig_process import HOST, RigError, WatchedProcess, free_port, require, wait_until
from smtp_sink import tls_certificates

MAIL_USER = "nobody"  # the IMAP process's user after the chroot; any unprivileged account would do
_SOCKET_PATH_MAX = 80  # run/ + the longest socket name (token-login/tokenlogin) must stay below 108


@dataclass(frozen=True)
class RigMessage:
    uid: int
    flags: frozenset[str]  # e.g. {"\\Seen"}; \\Recent is left out
    message_id: str  # as in the header, angle brackets included; "" when there is none
    subject: str


class ImapRig:
    """One Dovecot instance; ``start()``/``stop()`` or a context manager. See the module doc."""

    def __init__(
        self,
        folder: Path,
        *,
        user: str = "bounces",
        password: str | None = None,
        separator: str = "/",
        capability: str | None = None,
    ):
        if separator not in ("/", "."):
            raise ValueError(f"separator must be '/' or '.', not {separator!r}")
        self.folder, self.user, self.separator = Path(folder), user, separator
        self.capability = capability  # what the server offers after login (Dovecot's imap_capability)
        self.password = password or secrets.token_urlsafe(12)  # no ':' (passwd-file)
        self.host, self.port, self.starttls_port = HOST, 0, 0
        self.ca_file = str(self.folder / "ca.pem")
        self.log_file = self.folder / "dovecot.log"
        self._run: Path = self.folder / "run"
        self._server: WatchedProcess | None = None

    # ── lifecycle ──
    def start(self) -> ImapRig:
        binary = require("dovecot", "dovecot-imapd")
        self._prepare()
        for attempt in range(3):  # a free port can be taken between our probe and Dovecot's bind
            self.port, self.starttls_port = free_port(), free_port()
            (self.folder / "dovecot.conf").write_text(self._conf(), encoding="utf-8")
            self._server = WatchedProcess(
                [binary, "-F", "-c", str(self.folder / "dovecot.conf")],
                log=self.folder / "dovecot.out",
                name="dovecot",
            ).start()
            try:
                wait_until(self._greets, 15, f"Dovecot to greet on {HOST}:{self.port}", self._server)
                return self
            except (RigError, TimeoutError) as exc:
                self._stop_server()
                busy = "Address already in use" in str(exc) + self._log_text()
                if not busy or attempt == 2:
                    self._clean()
                    raise RigError(f"{exc}\n(Dovecot's log: {self.log_file})") from None
        raise AssertionError("unreachable")

    def stop(self) -> None:
        self._stop_server()
        self._clean()

    def __enter__(self) -> ImapRig:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ── what tests use ──
    def url(self, folder: str = "INBOX") -> str:
        return f"imaps://{self.user}@{self.host}:{self.port}/{quote(folder, safe='/')}"

    def env(self, folder: str = "INBOX") -> dict[str, str]:
        """The variables `newsletter inbox` reads, pointing at ``folder`` of this server."""
        return {
            "NEWSLETTER_INBOX": self.url(folder),
            "NEWSLETTER_INBOX_PASSWORD": self.password,
            "NEWSLETTER_INBOX_CA_FILE": self.ca_file,
        }

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts the test CA."""
        return ssl.create_default_context(cafile=self.ca_file)

    def client(self) -> IMAPClient:
        """A logged-in client over IMAPS (``with rig.client() as c:`` logs out at the end)."""
        client = IMAPClient(self.host, self.port, ssl=True, ssl_context=self.client_context(), timeout=15)
        client.login(self.user, self.password)
        return client

    def append(self, folder: str, raw: bytes, flags: Iterable[str] = ()) -> int:
        """Store ``raw`` in ``folder`` (created when missing) with ``flags``; the new message's UID."""
        with self.client() as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            reply = c.append(folder, raw, flags=tuple(flags))
        found = re.search(rb"APPENDUID \d+ (\d+)", reply)
        if not found:
            raise RigError(f"Dovecot's APPEND reply names no UID: {reply!r}")
        return int(found.group(1))

    def messages(self, folder: str = "INBOX") -> list[RigMessage]:
        """The messages in ``folder`` (EXAMINE, BODY.PEEK: no flag changes), sorted by UID."""
        header = b"BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)]"
        with self.client() as c:
            c.select_folder(folder, readonly=True)
            uids = c.search("ALL")
            data = c.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT)]"]) if uids else {}
        out = []
        for uid, item in sorted(data.items()):
            head = BytesHeaderParser().parsebytes(item[header])
            flags = frozenset(_text(f) for f in item[b"FLAGS"]) - {"\\Recent"}
            out.append(
                RigMessage(uid, flags, str(head.get("Message-ID", "")).strip(), str(head.get("Subject", "")))
            )
        return out

    def fetch(self, folder: str, uid: int) -> bytes:
        with self.client() as c:
            c.select_folder(folder, readonly=True)
            return bytes(c.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"])

    def folders(self) -> list[str]:
        with self.client() as c:
            return sorted(name for _flags, _delimiter, name in c.list_folders())

    def create(self, folder: str) -> None:
        with self.client() as c:
            c.create_folder(folder)

    # ── inside ──
    def _prepare(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for source, name in zip(tls_certificates(), ("ca.pem", "cert.pem", "key.pem"), strict=True):
            shutil.copyfile(source, self.folder / name)
        (self.folder / "key.pem").chmod(0o600)
        (self.folder / "state").mkdir(exist_ok=True)
        self._run = self.folder / "run"
        if len(str(self._run)) > _SOCKET_PATH_MAX:
            self._run = Path(tempfile.mkdtemp(prefix="dovecot-rig-"))
        self._run.mkdir(exist_ok=True)
        home = self.folder / "mail" / self.user
        home.mkdir(parents=True, exist_ok=True)
        nobody = pwd.getpwnam(MAIL_USER)
        os.chown(home, nobody.pw_uid, nobody.pw_gid)
        # home "…/mail/USER/./": chroot into mail/USER, home "/" inside it (Dovecot's chroot syntax).
        line = f"{self.user}:{{PLAIN}}{self.password}:{nobody.pw_uid}:{nobody.pw_gid}::{home}/./::\n"
        (self.folder / "passwd").write_text(line, encoding="utf-8")
        (self.folder / "passwd").chmod(0o600)

    def _conf(self) -> str:
        f = self.folder
        return f"""# written by tests/imap_rig.py for one test; nothing here is read from /etc/dovecot
instance_name = newsletter-rig-{self.port}
base_dir = {self._run}
state_dir = {f / "state"}
log_path = {self.log_file}
protocols = imap
listen = {HOST}
ssl = required
ssl_cert = <{f / "cert.pem"}
ssl_key = <{f / "key.pem"}
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_failure_delay = 0
auth_verbose = yes
valid_chroot_dirs = {f / "mail"}
mail_location = maildir:~/Maildir
mail_fsync = never
{f"imap_capability = {self.capability}" if self.capability else ""}
namespace inbox {{
  inbox = yes
  separator = {self.separator}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {f / "passwd"}
}}
userdb {{
  driver = passwd-file
  args = {f / "passwd"}
}}
# the passwd file is in pytest's private (0700) temp folder: the auth process reads it as root
service auth {{
  user = root
}}
service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {self.starttls_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {self.port}
    ssl = yes
  }}
}}
"""

    def _greets(self) -> bool:
        try:
            with (
                socket.create_connection((self.host, self.port), timeout=2) as raw,
                self.client_context().wrap_socket(raw, server_hostname=self.host) as tls,
            ):
                return tls.recv(4).startswith(b"* OK")
        except (OSError, ssl.SSLError):
            return False

    def _stop_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            # SIGTERM to master and children at once; SIGKILL to what is left after 0.5 s: Dovecot's
            # master may wait a whole second for children already gone, and nothing here is kept.
            server.stop(timeout=0.5)

    def _clean(self) -> None:
        for path in (self.folder / "mail", self.folder / "state", self._run):
            shutil.rmtree(path, ignore_errors=True)

    def _log_text(self) -> str:
        texts = []
        for path in (self.log_file, self.folder / "dovecot.out"):
            try:
                texts.append(path.read_text(errors="replace"))
            except FileNotFoundError:
                continue
        return "\n".join(texts)


def _text(flag: Any) -> str:
    return flag.decode("ascii", "replace") if isinstance(flag, bytes) else str(flag)


# ───────────────────────────── pytest fixtures ─────────────────────────────


@pytest.fixture
def dovecot_factory(tmp_path: Path) -> Iterator[Callable[..., ImapRig]]:
    """``dovecot_factory(user=…, password=…, separator=…)`` → a started ImapRig, stopped at teardown."""
    rigs: list[ImapRig] = []

    def make(**options: Any) -> ImapRig:
        name = "dovecot" if not rigs else f"dovecot-{len(rigs) + 1}"
        rig = ImapRig(tmp_path / name, **options)
        rigs.append(rig)
        return rig.start()

    yield make
    for rig in rigs:
        rig.stop()


@pytest.fixture
def dovecot(dovecot_factory: Callable[..., ImapRig]) -> ImapRig:
    """A started Dovecot with one user and an empty INBOX (files in tmp_path/"dovecot")."""
    return dovecot_factory()
