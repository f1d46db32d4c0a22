"""A scriptable SMTP server on 127.0.0.1 for tests: aiosmtpd in a background thread.

    with SmtpSink(rcpt={"gone@example.org": "550 5.1.1 No such user"}, data_fail_every=10) as sink:
        ... send to sink.host, sink.port ...
        sink.wait_for(100)
        assert sink.received_by_address()["a@example.org"] == 1

Pytest: bring the fixtures into a test module with
``import smtp_sink as rig`` and ``smtp_sink, smtp_sink_factory = rig.smtp_sink, rig.smtp_sink_factory``
(an assignment, so ruff does not flag the fixture arguments as redefinitions). ``smtp_sink`` is a plain sink; ``smtp_sink_factory(**script)``
starts scripted ones and stops them at teardown.

Every stored message is kept in memory (``messages``) and appended, flushed, to ``spool`` (one JSON
line per message: n, from, to, conn, rcpts, data = base64 of the raw bytes); ``read_spool(path)`` reads
it back, e.g. after a sending subprocess was killed. Counters live in ``sink.stats``; reply codes the
server sent are counted in ``sink.stats.replies`` (``sink.stats.replies["451"]``).

The script (``sink.script``, a mutable ``Script``) may be changed while the sink runs.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import datetime as dt
import ipaddress
import json
import logging
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword

HOST = "127.0.0.1"
DATA_FAIL = "451 4.3.0 Temporary failure, please try again later"
CLOSE_REPLY = "421 4.7.0 Too many messages on this connection, closing"
QUOTA = "550 5.4.5 Daily SMTP relay limit exceeded"
THROTTLE = "454 4.7.0 Throttling failure: Maximum sending rate exceeded"
GREYLIST = "450 4.7.1 Greylisted, please try again later"
IDLE_REPLY = "421 4.4.2 sink.test Error: timeout exceeded"
TOO_MANY_CONNECTIONS = "421 4.3.2 The maximum number of concurrent connections has exceeded a limit, closing"
_SIMPLE_ADDR = re.compile(r"\s*<([A-Za-z0-9._+\-=]{1,64}@[A-Za-z0-9.\-]{1,253})>(.*)\Z", re.DOTALL)
# aiosmtpd logs every command at INFO; the sink is test furniture, keep it quiet and fast.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass
class Script:
    """What the server answers. Messages are numbered from 1 in the order they were stored."""

    replies: Mapping[str, str] = field(default_factory=dict)  # "MAIL"/"RCPT"/"DATA" → reply to every one
    rcpt: Mapping[str, str] | Callable[[str], str | None] | None = None  # address (any case) → reply
    data_fail_every: int = 0  # DATA_FAIL on every Nth DATA (counted over all DATA commands)
    data_fail_reply: str = DATA_FAIL
    per_connection: int = 0  # after N stored messages on a connection: next MAIL gets 421 + close
    drop_after: Collection[int] | Callable[[Received], bool] = ()  # store, then close without a reply
    close_after: Collection[int] = ()  # store, reply 250, then close at once
    delays: Mapping[str, float] = field(default_factory=dict)  # "CONNECT"/"MAIL"/"RCPT"/"DATA" → seconds
    quota_from: int = 0  # message N and later get the quota reply (N-1 stored first)
    quota_reply: str = QUOTA
    quota_at: str = "MAIL"  # command that gets the quota reply: MAIL, RCPT or DATA
    max_rate: float = 0  # more than this many stored messages in the last second → THROTTLE at MAIL
    throttle_reply: str = THROTTLE
    greylist_seconds: float = 0  # first RCPT of each address gets GREYLIST until this much later
    greylist_reply: str = GREYLIST
    max_connections: int = 0  # more connections open at once → greet with TOO_MANY_CONNECTIONS and close
    idle_close: float = 0  # a connection idle longer than this (sink clock) was closed: MAIL gets IDLE_REPLY
    silent_connections: Collection[int] = ()  # these connections (1-based) answer EHLO, then never MAIL


@dataclass(frozen=True)
class Received:
    n: int  # 1-based, in storing order
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    conn: int  # connection number, 1-based
    rcpt_commands: int  # RCPT commands in this transaction (accepted or not)

    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.data)  # type: ignore[return-value]


@dataclass
class Stats:
    connections: int = 0
    open_connections: int = 0
    tls_handshakes: int = 0
    starttls_commands: int = 0
    auth_commands: int = 0  # AUTH lines received (also those refused for lack of TLS)
    auth_attempts: int = 0  # credentials checked by the authenticator
    auth_successes: int = 0
    mail_commands: int = 0
    rcpt_commands: int = 0
    data_commands: int = 0
    server_closes: int = 0  # 421 + close after per_connection messages
    drops: int = 0  # stored, then closed without a reply
    replies: Counter[str] = field(default_factory=Counter)  # reply code → count


class SmtpSink:
    """Scriptable SMTP server; start()/stop() or use as a context manager. Keyword args: see Script."""

    def __init__(
        self,
        *,
        tls: str | None = None,  # None, "starttls" or "tls" (implicit TLS from the first byte)
        auth: tuple[str, str] | None = None,  # (user, password): offer AUTH PLAIN/LOGIN, require it
        auth_require_tls: bool = True,  # False: offer AUTH on a plaintext connection
        auth_exclude: Collection[str] = (),  # AUTH mechanisms not to offer, e.g. ("PLAIN",)
        smtputf8: bool = False,
        spool: Path | str | None = None,
        keep_data: bool = True,  # False: keep envelopes only (big benchmarks)
        clock: Any = None,  # anything with .monotonic() (newsletter.clock.FakeClock); default time
        port: int = 0,
        **script: Any,
    ):
        if tls not in (None, "starttls", "tls"):
            raise ValueError(f"tls must be None, 'starttls' or 'tls', not {tls!r}")
        self.script = Script(**script)
        self.tls, self.auth, self.auth_require_tls, self.smtputf8 = tls, auth, auth_require_tls, smtputf8
        self.auth_exclude = tuple(auth_exclude)
        self.keep_data = keep_data
        self.clock = clock
        self.host, self.port = HOST, port
        self._tmp: str | None = None
        if spool is None:
            self._tmp = tempfile.mkdtemp(prefix="smtp-sink-")
            spool = Path(self._tmp) / "received.jsonl"
        self.spool = Path(spool)
        self.ca_file, self.cert_file, self.key_file = _certificates() if tls else (None, None, None)
        self.stats = Stats()
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._greylist: dict[str, float] = {}
        self._recent: deque[float] = deque()
        self._controller: Controller | None = None
        self._spool_file: Any = None

    # ── lifecycle ──
    def start(self) -> SmtpSink:
        self._spool_file = self.spool.open("ab")
        for _attempt in range(5):
            port = self.port or _free_port()
            controller = _SinkController(self, port)
            try:
                controller.start()
            except OSError:
                if self.port:
                    raise
                continue
            self._controller, self.port = controller, port
            break
        else:
            raise RuntimeError("no free port for the SMTP sink")
        self.reset_stats()  # forget aiosmtpd's start-up probe connection
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._spool_file is not None:
            self._spool_file.close()
            self._spool_file = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ── what tests read ──
    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this sink's test CA (the pinned case)."""
        return ssl.create_default_context(cafile=self.ca_file)

    def received_by_address(self) -> Counter[str]:
        with self._cond:
            return Counter(r.lower() for m in self.messages for r in m.rcpt_tos)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least ``count`` messages were stored; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"SMTP sink: {len(self.messages)} of {count} messages after {timeout} s"
                    )
                self._cond.wait(left)
            return list(self.messages)

    def reset_stats(self) -> None:
        self.stats = Stats()

    # ── called from the server thread ──
    def _now(self) -> float:
        return self.clock.monotonic() if self.clock is not None else time.monotonic()

    def _store(
        self, mail_from: str, rcpts: list[str], data: bytes, conn: int, rcpt_commands: int
    ) -> Received:
        with self._cond:
            n = len(self.messages) + 1
            rec = Received(n, mail_from, tuple(rcpts), data if self.keep_data else b"", conn, rcpt_commands)
            head = {"n": n, "from": mail_from, "to": rec.rcpt_tos, "conn": conn, "rcpts": rcpt_commands}
            b64 = base64.b64encode(data) if self.keep_data else b""  # no JSON escaping needed: it is ASCII
            self._spool_file.write(json.dumps(head)[:-1].encode() + b', "data": "' + b64 + b'"}\n')
            self._spool_file.flush()
            self.messages.append(rec)
            self._recent.append(self._now())
            self._cond.notify_all()
        return rec

    def _rate_exceeded(self) -> bool:
        limit = self.script.max_rate
        if not limit:
            return False
        now = self._now()
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        return len(self._recent) >= limit

    def _quota(self, command: str) -> str | None:
        s = self.script
        if s.quota_from and s.quota_at == command and len(self.messages) >= s.quota_from - 1:
            return s.quota_reply
        return None

    def _rcpt_reply(self, address: str) -> str | None:
        s = self.script
        if callable(s.rcpt):
            reply = s.rcpt(address)
            if reply:
                return reply
        elif s.rcpt:
            reply = s.rcpt.get(address) or s.rcpt.get(address.lower())
            if reply:
                return reply
        if s.greylist_seconds:
            now = self._now()
            first = self._greylist.setdefault(address.lower(), now)
            if now - first < s.greylist_seconds:
                return s.greylist_reply
        return self._quota("RCPT") or s.replies.get("RCPT")

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:  # noqa: ANN001
        self.stats.auth_attempts += 1
        ok = (
            self.auth is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login, auth_data.password) == tuple(v.encode() for v in self.auth)
        )
        if ok:
            self.stats.auth_successes += 1
        return AuthResult(success=ok, handled=False)


def read_spool(path: Path | str) -> list[Received]:
    """The messages a sink appended to its spool file (complete lines only)."""
    out = []
    for line in Path(path).read_text(encoding="ascii").splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill
        out.append(
            Received(d["n"], d["from"], tuple(d["to"]), base64.b64decode(d["data"]), d["conn"], d["rcpts"])
        )
    return out


# ───────────────────────────── aiosmtpd glue ─────────────────────────────


class _Handler:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: ANN001
        sink, s = self.sink, self.sink.script
        sink.stats.mail_commands += 1
        server.rcpt_count = 0
        await _delay(s, "MAIL")
        if server.conn_id in s.silent_connections:
            await asyncio.sleep(3600)  # a relay that stopped answering; the client gives up
        idle_for, server.last_active = sink._now() - server.last_active, sink._now()
        if s.idle_close and idle_for > s.idle_close:  # as if the relay had timed the connection out
            sink.stats.server_closes += 1
            await server.push(IDLE_REPLY)
            server.hang_up()
            return IDLE_REPLY
        if s.per_connection and server.conn_messages >= s.per_connection:
            sink.stats.server_closes += 1
            await server.push(CLOSE_REPLY)
            server.hang_up()
            return CLOSE_REPLY
        if sink.auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        reply = sink._quota("MAIL") or (s.throttle_reply if sink._rate_exceeded() else None)
        reply = reply or s.replies.get("MAIL")
        if reply:
            return await _closing(server, reply)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: ANN001
        self.sink.stats.rcpt_commands += 1
        server.rcpt_count = getattr(server, "rcpt_count", 0) + 1
        await _delay(self.sink.script, "RCPT")
        reply = self.sink._rcpt_reply(address)
        if reply:
            return await _closing(server, reply)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        sink, s = self.sink, self.sink.script
        sink.stats.data_commands += 1
        await _delay(s, "DATA")
        if s.data_fail_every and sink.stats.data_commands % s.data_fail_every == 0:
            if s.data_fail_reply.startswith("421"):  # 421: the server closes the channel (RFC 5321 3.8)
                await server.push(s.data_fail_reply)
                server.hang_up()
            return s.data_fail_reply
        reply = sink._quota("DATA") or s.replies.get("DATA")
        if reply:
            return reply
        rec = sink._store(
            envelope.mail_from, envelope.rcpt_tos, envelope.content, server.conn_id, server.rcpt_count
        )
        server.conn_messages += 1
        drop = s.drop_after(rec) if callable(s.drop_after) else rec.n in s.drop_after
        if drop:
            sink.stats.drops += 1
            server.hang_up()
        if rec.n in s.close_after:
            reply = f"250 2.0.0 OK queued as {rec.n}"
            await server.push(reply)
            server.hang_up()
            return reply
        return f"250 2.0.0 OK queued as {rec.n}"

    def handle_STARTTLS(self, server, session, envelope) -> bool:  # noqa: ANN001
        self.sink.stats.tls_handshakes += 1
        return True


async def _closing(server: _SinkSMTP, reply: str) -> str:
    """A scripted reply; a 421 also closes the channel, as RFC 5321 (3.8) says a server does."""
    if reply.startswith("421"):
        await server.push(reply)
        server.hang_up()
    return reply


async def _delay(script: Script, command: str) -> None:
    seconds = script.delays.get(command)
    if seconds:
        await asyncio.sleep(seconds)


class _SinkSMTP(SMTP):
    def __init__(self, sink: SmtpSink, handler: _Handler, **kwargs: Any):
        super().__init__(handler, **kwargs)
        self.sink = sink
        self.conn_id = 0
        self.conn_messages = 0
        self.rcpt_count = 0
        self.last_active = sink._now()
        self._silenced = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self._original_transport is None
        super().connection_made(transport)
        if first:
            self.sink.stats.connections += 1
            self.sink.stats.open_connections += 1
            self._counted = True
            self.conn_id = self.sink.stats.connections
            if transport.get_extra_info("ssl_object") is not None:
                self.sink.stats.tls_handshakes += 1

    def connection_lost(self, error: Exception | None) -> None:
        if getattr(self, "_counted", False):
            self._counted = False
            self.sink.stats.open_connections -= 1
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        await _delay(self.sink.script, "CONNECT")
        limit = self.sink.script.max_connections
        if limit and self.sink.stats.open_connections > limit:
            await self.push(TOO_MANY_CONNECTIONS)
            assert self.transport is not None
            self.transport.close()
            return
        await super()._handle_client()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # Fast path for the plain <local@domain> every client sends; aiosmtpd's header parser otherwise.
        m = _SIMPLE_ADDR.match(arg)
        if m:
            return m.group(1), m.group(2)
        return super()._getaddr(arg)

    async def smtp_STARTTLS(self, arg: str) -> None:
        self.sink.stats.starttls_commands += 1
        await super().smtp_STARTTLS(arg)

    async def smtp_AUTH(self, arg: str) -> None:
        self.sink.stats.auth_commands += 1
        await super().smtp_AUTH(arg)

    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA, but reading the body with C-speed searches instead of line by line (≈ 5×)."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos or arg:
            await self.push("501 Syntax: DATA" if arg else "503 Error: need RCPT command")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        reader: Any = self._reader
        line_limit, reader._limit = reader._limit, 1 << 30  # a whole message may exceed the line limit
        buf = bytearray()
        try:
            while not (buf == b".\r\n" or buf.endswith(b"\r\n.\r\n")):
                buf += await reader.readuntil(b".\r\n")
        finally:
            reader._limit = line_limit
        body = bytes(buf[:-3])
        body = body[1:] if body.startswith(b".") else body  # undo the client's dot-stuffing
        self.envelope.content = self.envelope.original_content = body.replace(b"\r\n.", b"\r\n")
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    async def push(self, status: Any) -> None:
        if self._silenced:
            return
        code = status[:3] if isinstance(status, str) else status[:3].decode("ascii", "replace")
        self.sink.stats.replies[code] += 1
        await super().push(status)

    def hang_up(self) -> None:
        """Close after flushing what was written; every later reply is swallowed."""
        self._silenced = True
        if self.transport is not None:
            self.transport.close()


class _SinkController(Controller):
    def __init__(self, sink: SmtpSink, port: int):
        self.sink = sink
        kwargs: dict[str, Any] = {
            "enable_SMTPUTF8": sink.smtputf8,
            "server_hostname": "sink.test",
            "timeout": 60,
        }
        if sink.auth:
            kwargs.update(authenticator=sink._authenticate, auth_require_tls=sink.auth_require_tls)
            # aiosmtpd warns about auth_required without TLS; handle_MAIL enforces AUTH itself then.
            kwargs["auth_required"] = sink.auth_require_tls
            if sink.auth_exclude:
                kwargs["auth_exclude_mechanism"] = list(sink.auth_exclude)
        ctx = None
        if sink.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(sink.cert_file), str(sink.key_file))
            if sink.tls == "starttls":
                kwargs["tls_context"] = ctx
        super().__init__(
            _Handler(sink), hostname=HOST, port=port, ssl_context=ctx if sink.tls == "tls" else None, **kwargs
        )

    def factory(self) -> SMTP:
        return _SinkSMTP(self.sink, self.handler, **self.SMTP_kwargs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@lru_cache(maxsize=1)
def _certificates() -> tuple[str, str, str]:
    """A throw-away test CA and a server certificate for localhost/127.0.0.1 signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = Path(tempfile.mkdtemp(prefix="smtp-sink-tls-"))
    atexit.register(shutil.rmtree, folder, True)
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "newsletter test CA (self-signed)")])

    def builder(subject: x509.Name, public_key: Any) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )

    ca_cert = (
        builder(ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
    cert = (
        builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]), key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    (folder / "cert.pem").write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    (folder / "key.pem").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(folder / "ca.pem"), str(folder / "cert.pem"), str(folder / "key.pem")


# (ca.pem, cert.pem, key.pem) of the one test CA of a run; tests/imap_rig.py gives Dovecot the same.
tls_certificates = _certificates


# ───────────────────────────── pytest fixtures ─────────────────────────────


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[SmtpSink]:
    """A plain sink that accepts everything; its spool is tmp_path/'received.jsonl'."""
    with SmtpSink(spool=tmp_path / "received.jsonl") as sink:
        yield sink


@pytest.fixture
def smtp_sink_factory(tmp_path: Path) -> Iterator[Callable[..., SmtpSink]]:
    """``smtp_sink_factory(data_fail_every=10, tls="starttls", ...)`` → a started sink, stopped at teardown."""
    sinks: list[SmtpSink] = []

    def make(**kwargs: Any) -> SmtpSink:
        kwargs.setdefault("spool", tmp_path / f"received-{len(sinks) + 1}.jsonl")
        sink = SmtpSink(**kwargs).start()
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.stop()
