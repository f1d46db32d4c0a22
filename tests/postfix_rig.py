"""A throw-away Postfix relay on 127.0.0.1 for tests, with a final destination and a bounce mailbox.

    def test_unknown_members_bounce(postfix):           # the fixture: a started PostfixRig
        postfix.reject("gone@member.example")         # the final destination answers 550 5.1.1
        env = postfix.smtp_env()   # NEWSLETTER_SMTP_HOST/_PORT/_SECURITY=none: send through this Postfix
        ...  send with envelope sender bounces+TOKEN@amz-sachsen.example  ...
        delivered = postfix.final.wait_for(47)        # what the final destination accepted (SmtpSink)
        (dsn, *_) = postfix.wait_for_bounces(3)       # Postfix's own DSNs, as files in a Maildir
        run `newsletter inbox --once` with NEWSLETTER_INBOX=str(postfix.bounce_maildir)

Bring the fixtures into a test module with ``import postfix_rig`` and
``postfix, postfix_factory = postfix_rig.postfix, postfix_rig.postfix_factory`` (an assignment, so ruff
does not flag the fixture arguments). ``postfix_factory(bounce_domains=("x.example",),
rejected={"a@m.example"})`` starts others; every one is stopped at teardown, also when the test fails.
``with PostfixRig(folder) as rig:`` works outside pytest.

What runs (three servers, all on 127.0.0.1 at free ports):

- **Postfix** (Debian's 3.7; `make test` installs it; without it the rig fails and says so, it never
  skips): its master daemon as ``master -d -c CONF``, a child of the test process that cannot outlive it
  (tests/rig_process.py). Its smtpd at ``rig.host``/``rig.port`` accepts mail for any address from
  127.0.0.0/8 (no TLS, no AUTH). It looks up no DNS (``smtp_dns_support_level = disabled``, every next
  hop an IP literal) and delivers nothing itself: mail for the ``bounce_domains`` (default
  amz-sachsen.example, the domain of the example ``from``, so the VERP bounce address) goes to the
  bounce mailbox (``transport_maps``), mail for every other domain to the final destination
  (``relayhost``). So a member's domain must not be a bounce domain. Start about 0.1 s; stop about
  1.1 s (``postfix -c CONF stop``: Postfix's master pauses a second on SIGTERM).
- **The final destination** ``rig.final``: a tests/smtp_sink.py ``SmtpSink`` (what the members' servers
  accepted: ``rig.final.messages``, ``rig.final.wait_for(n)``). It answers ``550 5.1.1`` at RCPT for the
  addresses given as ``rejected=`` or later to ``rig.reject(address, …)``, 250 to the rest. Any other
  script of the sink works too (``rig.final.script.rcpt = {address: "452 4.2.2 Mailbox full"}``).
- **The bounce mailbox** ``rig.bounce_maildir``: newsletter/smtp/devsink.py's Maildir sink, so the
  path ``newsletter inbox`` can read. Each file starts with ``Return-Path: <>`` (Postfix's null sender)
  and ``X-Original-To: <envelope recipient>`` = the original's MAIL FROM, the VERP address.
  ``rig.bounces()`` reads them (an ``OutboxMessage`` each: ``.recipients``, ``.raw``), oldest first;
  ``rig.wait_for_bounces(n)`` polls until there are n.

A 5xx at the final destination bounces at once: Postfix's bounce daemon sends a real RFC 3464 DSN
(multipart/report; report-type=delivery-status) from MAILER-DAEMON@postfix-rig.test to the original's
MAIL FROM: a text/plain notice, a message/delivery-status part (``Reporting-MTA``, then per recipient
``Final-Recipient: rfc822; ADDRESS``, ``Action: failed``, ``Status: 5.1.1``, ``Diagnostic-Code: smtp;
550 5.1.1 …``), and the original as message/rfc822 — or only its headers, text/rfc822-headers, when it
is over 50 kB (Postfix's ``bounce_size_limit``; a message of the example issue is, so its bounce carries
the headers only — the Message-ID among them). A 4xx is retried after 1–2 s (``queue_run_delay``,
the backoff times); ``rig.flush()`` (``postqueue -c CONF -f``) retries at once. Mail still deferred after
``lifetime`` seconds (default 30, ``maximal_queue_lifetime``) bounces with its 4.x.x status.
``rig.queue()`` lists what Postfix holds (``postqueue -j``: one dict per message), and
``rig.wait_for_empty_queue()`` polls until everything is delivered or bounced. ``rig.log()`` is
Postfix's log so far.

Files: main.cf, master.cf and the transport map (CONF = ``rig.base/"conf"``), the queue and the data
folder live in ``rig.base``, a fresh folder in the system temp dir (mode 0711: Postfix's daemons run as
the user postfix and cannot enter pytest's private temp folders), removed at stop. In the folder given
(the fixture's ``tmp_path/"postfix"``) stay bounces/ (the Maildir), final.jsonl (the final
destination's spool) and, after stop, postfix.log (Postfix's log) and postfix.out (the master's
stderr). Nothing under /etc/postfix is written, and /etc/postfix/main.cf is not needed (Debian's "No
configuration" has none): as root, ``postfix -c`` and ``postqueue -c`` need no
``alternate_config_directories`` entry — only set-gid use by other users checks it. Postfix reads
only its install's dynamicmaps.cf there.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Callable, Collection, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from rig_process import HOST, RigError, WatchedProcess, free_port, reachable_folder, require, wait_until
from smtp_sink import SmtpSink

from newsletter.smtp.devsink import DevSink, OutboxMessage, read_outbox, start_maildir_sink

MYHOSTNAME = "postfix-rig.test"  # not the machine's name: Postfix refuses a next hop greeting as itself
UNKNOWN_USER = "550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"
_POSTFIX_OWNED = ("active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming")
_POSTFIX_OWNED += ("private", "saved", "trace")
# Every service runs unchained (chroot n): a chroot would need copies of /etc files in the queue folder.
_MASTER_CF = """# written by tests/postfix_rig.py for one test
{host}:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixRig:
    """One Postfix with its final destination and bounce mailbox; see the module doc."""

    def __init__(
        self,
        folder: Path,
        *,
        bounce_domains: Collection[str] = ("amz-sachsen.example",),
        rejected: Collection[str] = (),
        lifetime: int = 30,
    ):
        self.folder = Path(folder)
        self.bounce_domains = tuple(d.lower() for d in bounce_domains)
        self.lifetime = lifetime
        self.host, self.port = HOST, 0
        self.bounce_maildir = self.folder / "bounces"
        self.final = SmtpSink(spool=self.folder / "final.jsonl")
        self.reject(*rejected)
        self.base: Path | None = None  # Postfix's config, queue and data folder while running
        self._bounce_sink: DevSink | None = None
        self._server: WatchedProcess | None = None
        self._postfix = ""

    # ── lifecycle ──
    def start(self) -> PostfixRig:
        self._postfix = require("postfix", "postfix")
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self.final.start()
            self._bounce_sink = start_maildir_sink(self.bounce_maildir, port=0, host=HOST)
            for attempt in range(3):  # a free port can be taken between our probe and Postfix's bind
                self.port = free_port()
                self.base = self._write_config()
                self._server = WatchedProcess(
                    [_master(), "-d", "-c", str(self.base / "conf")],
                    log=self.base / "postfix.out",
                    name="postfix",
                ).start()
                try:
                    wait_until(self._greets, 20, f"Postfix to greet on {HOST}:{self.port}", self._server)
                    return self
                except (RigError, TimeoutError) as exc:
                    busy = "Address already in use" in self.log() + self._server.log_tail(50)
                    self._stop_postfix()
                    if not busy or attempt == 2:
                        raise RigError(f"{exc}\n(Postfix's log: {self.folder / 'postfix.log'})") from None
            raise AssertionError("unreachable")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._stop_postfix()
        if self._bounce_sink is not None:
            self._bounce_sink.stop()
            self._bounce_sink = None
        self.final.stop()

    def __enter__(self) -> PostfixRig:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ── what tests use ──
    def smtp_env(self) -> dict[str, str]:
        """The variables that make `newsletter send` relay through this Postfix."""
        return {
            "NEWSLETTER_SMTP_HOST": self.host,
            "NEWSLETTER_SMTP_PORT": str(self.port),
            "NEWSLETTER_SMTP_SECURITY": "none",
        }

    def reject(self, *addresses: str) -> None:
        """The final destination answers 550 5.1.1 (user unknown) at RCPT for these addresses."""
        replies = dict(self.final.script.rcpt) if isinstance(self.final.script.rcpt, dict) else {}
        replies.update({a.lower(): UNKNOWN_USER.format(address=a) for a in addresses})
        self.final.script.rcpt = replies

    def bounces(self) -> list[OutboxMessage]:
        """The messages in the bounce mailbox, oldest first."""
        return sorted(read_outbox(self.bounce_maildir), key=lambda m: (m.received_at, m.key))

    def wait_for_bounces(self, count: int, timeout: float = 20.0) -> list[OutboxMessage]:
        """Poll until at least ``count`` messages are in the bounce mailbox; those, oldest first."""
        wait_until(
            lambda: len(self.bounces()) >= count, timeout, f"{count} bounce(s) in {self.bounce_maildir}"
        )
        return self.bounces()

    def queue(self) -> list[dict[str, Any]]:
        """What Postfix still holds (``postqueue -j``): one dict per message (queue_name, sender, …)."""
        out = self._postqueue("-j").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def wait_for_empty_queue(self, timeout: float = 20.0) -> None:
        wait_until(lambda: not self.queue(), timeout, "Postfix's queue to empty", self._server)

    def flush(self) -> None:
        """Retry every deferred message now (``postqueue -c CONF -f``)."""
        self._postqueue("-f")

    def log(self) -> str:
        """Postfix's log so far (its maillog_file)."""
        for path in ([self.base / "postfix.log"] if self.base else []) + [self.folder / "postfix.log"]:
            try:
                return path.read_text(errors="replace")
            except FileNotFoundError:
                continue
        return ""

    # ── inside ──
    def _write_config(self) -> Path:
        base = reachable_folder("postfix-rig-")
        assert self._bounce_sink is not None
        (base / "conf").mkdir(mode=0o755)
        _make_queue(base / "queue", base / "data")
        transport = "".join(f"{d} smtp:[{HOST}]:{self._bounce_sink.port}\n" for d in self.bounce_domains)
        (base / "conf" / "transport").write_text(transport, encoding="utf-8")
        (base / "conf" / "main.cf").write_text(self._main_cf(base), encoding="utf-8")
        master_cf = _MASTER_CF.format(host=HOST, port=self.port)
        (base / "conf" / "master.cf").write_text(master_cf, encoding="utf-8")
        for written in (base / "conf").iterdir():  # Postfix waits 2 s for a file changed this very second
            os.utime(written, (time.time() - 10,) * 2)
        return base

    def _main_cf(self, base: Path) -> str:
        return f"""# written by tests/postfix_rig.py for one test; /etc/postfix/main.cf is not read
compatibility_level = 3.6
queue_directory = {base / "queue"}
data_directory = {base / "data"}
maillog_file = {base / "postfix.log"}
maillog_file_prefixes = {base}
syslog_name = postfix-rig-{self.port}
myhostname = {MYHOSTNAME}
myorigin = $myhostname
inet_interfaces = {HOST}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_peername_lookup = no
in_flow_delay = 0s
# nothing is delivered here: every domain is relayed to an IP literal, no DNS is asked
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
local_transport = error:5.1.1 this test Postfix delivers nothing locally
relayhost = [{HOST}]:{self.final.port}
transport_maps = texthash:{base / "conf" / "transport"}
smtp_dns_support_level = disabled
smtp_tls_security_level = none
smtp_connect_timeout = 5s
# bounce at once on 5xx (always), retry a 4xx after a second, give up after {self.lifetime} s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
maximal_queue_lifetime = {self.lifetime}s
bounce_queue_lifetime = {self.lifetime}s
delay_warning_time = 0h
notify_classes =
biff = no
"""

    def _greets(self) -> bool:
        import socket

        try:
            with socket.create_connection((self.host, self.port), timeout=2) as conn:
                return conn.recv(4).startswith(b"220")
        except OSError:
            return False

    def _postqueue(self, option: str) -> subprocess.CompletedProcess[str]:
        if self.base is None:
            raise RigError("Postfix is not running")
        postqueue = require("postqueue", "postfix")
        done = subprocess.run(
            [postqueue, "-c", str(self.base / "conf"), option],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        if done.returncode:
            raise RigError(f"postqueue {option} failed: {done.stderr.strip()}")
        return done

    def _stop_postfix(self) -> None:
        server, self._server = self._server, None
        base, self.base = self.base, None
        if server is not None:
            assert base is not None
            server.stop(terminate=lambda: _postfix_stop(self._postfix, base))
        if base is not None:
            for name in ("postfix.log", "postfix.out"):
                if (base / name).exists():
                    shutil.copyfile(base / name, self.folder / name)
            shutil.rmtree(base, ignore_errors=True)


def _postfix_stop(postfix: str, base: Path) -> None:
    """``postfix -c CONF stop``: SIGTERM to the master, which pauses 1 s (for its last log lines) and
    exits; its children follow. WatchedProcess.stop then ends whatever is left of the group."""
    subprocess.run([postfix, "-c", str(base / "conf"), "stop"], capture_output=True, timeout=15, check=False)


@lru_cache(maxsize=1)
def _master() -> str:
    """Postfix's master daemon, run directly: ``postfix start-fg`` spends 2 s on `postfix check` and
    then leaves our process group (setsid), so a killed test process could not take it along."""
    daemons = subprocess.run(
        [require("postconf", "postfix"), "-dh", "daemon_directory"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return str(Path(daemons) / "master")


def _make_queue(queue: Path, data: Path) -> None:
    """The folders `postfix start` would create (owners and modes of Postfix's postfix-files)."""
    postfix, postdrop = pwd.getpwnam("postfix"), grp.getgrnam("postdrop")
    layout = {name: (postfix.pw_gid, 0o700) for name in _POSTFIX_OWNED}
    layout.update(maildrop=(postdrop.gr_gid, 0o730), public=(postdrop.gr_gid, 0o710))
    queue.mkdir(mode=0o755)
    (queue / "pid").mkdir(mode=0o755)  # root's
    for name, (gid, mode) in layout.items():
        (queue / name).mkdir()
        os.chown(queue / name, postfix.pw_uid, gid)
        (queue / name).chmod(mode)
    data.mkdir(mode=0o700)
    os.chown(data, postfix.pw_uid, postfix.pw_gid)


# ───────────────────────────── pytest fixtures ─────────────────────────────


@pytest.fixture
def postfix_factory(tmp_path: Path) -> Iterator[Callable[..., PostfixRig]]:
    """``postfix_factory(bounce_domains=…, rejected=…, lifetime=…)`` → a started PostfixRig."""
    rigs: list[PostfixRig] = []

    def make(**options: Any) -> PostfixRig:
        name = "postfix" if not rigs else f"postfix-{len(rigs) + 1}"
        rig = PostfixRig(tmp_path / name, **options)
        rigs.append(rig)
        return rig.start()

    yield make
    for rig in rigs:
        rig.stop()


@pytest.fixture
def postfix(postfix_factory: Callable[..., PostfixRig]) -> PostfixRig:
    """A started Postfix whose final destination accepts everything (``postfix.reject(…)`` changes it)."""
    return postfix_factory()
