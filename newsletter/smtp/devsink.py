"""The embedded dev SMTP sink: every message it receives lands in a Maildir (``config.outbox``).

It is the default relay (127.0.0.1:1025), so ``make demo`` and a fresh checkout send without a mail
server, and the preview's outbox shows what members would have received. It delivers nowhere.

Each stored file is the message as received, preceded by ``Return-Path: <envelope sender>`` and
one ``X-Original-To:`` per envelope recipient, as a real mailbox would have them. Maildir writes a
file under ``tmp/`` and renames it into ``new/``, so readers (``read_outbox``, other processes) never
see half a message.
"""

from __future__ import annotations

import mailbox
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from ..config import DEV_SINK_HOST, DEV_SINK_PORT, Config
from ..model import RefusedError


@dataclass(frozen=True)
class OutboxMessage:
    key: str  # Maildir key (file name without the ":2,…" info)
    received_at: datetime  # UTC, when the sink stored it
    envelope_from: str
    recipients: tuple[str, ...]
    subject: str
    headers: tuple[tuple[str, str], ...]  # decoded, in order (Return-Path/X-Original-To included)
    html: str
    text: str
    raw: bytes  # exactly as stored

    @property
    def id(self) -> str:  # alias used by the preview
        return self.key

    @property
    def received(self) -> datetime:  # alias used by the preview
        return self.received_at


class _MaildirHandler:
    def __init__(self, outbox: Path):
        self.maildir = mailbox.Maildir(outbox, factory=None, create=True)
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        sender = "" if envelope.mail_from == "<>" else envelope.mail_from  # a bounce's null sender
        trace = f"Return-Path: <{sender}>\r\n" + "".join(
            f"X-Original-To: {rcpt}\r\n" for rcpt in envelope.rcpt_tos
        )
        key = self.maildir.add(trace.encode("utf-8", "surrogateescape") + envelope.original_content)
        self.count += 1
        return f"250 2.0.0 OK stored in the outbox as {key}"


@dataclass
class DevSink:
    """A running dev sink; ``stop()`` ends it (also usable as a context manager)."""

    host: str
    port: int
    outbox: Path
    _controller: Controller
    _handler: _MaildirHandler

    @property
    def stored(self) -> int:
        return self._handler.count

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    def __enter__(self) -> DevSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_dev_sink(config: Config, port: int | None = None, host: str | None = None) -> DevSink:
    """Start the sink in a background thread; port 0 picks a free one (see ``.port``)."""
    return start_maildir_sink(config.outbox, port, host)


def start_maildir_sink(outbox: Path, port: int | None = None, host: str | None = None) -> DevSink:
    """The dev sink storing into the Maildir ``outbox`` (tests/postfix_rig.py's bounce mailbox)."""
    host = host or DEV_SINK_HOST
    port = DEV_SINK_PORT if port is None else port
    handler = _MaildirHandler(outbox)
    try:
        port = _probe(host, port)  # fails fast; aiosmtpd would only time out after 5 s
        controller = Controller(
            handler, hostname=host, port=port, enable_SMTPUTF8=True, server_hostname="dev-smtp"
        )
        controller.start()
    except OSError as exc:
        raise RefusedError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); is another dev-smtp running? "
            "Stop it or pick another --port"
        ) from None
    return DevSink(host, port, outbox, controller, handler)


def serve_forever(config: Config, port: int | None, host: str | None, *, echo: Any = print) -> None:
    """Run until SIGINT/SIGTERM (the ``newsletter dev-smtp`` command)."""
    import signal

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        sink = start_dev_sink(config, port, host)
        try:
            echo(f"dev SMTP sink listening on {sink.host}:{sink.port}; nothing is delivered.")
            echo(f"messages are stored in the Maildir {sink.outbox} (the preview's outbox). Ctrl-C stops.")
            while not stop.wait(0.5):
                pass
        finally:
            sink.stop()
        echo(f"dev SMTP sink stopped ({sink.stored} message(s) stored this run)")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def read_outbox(path: Path, limit: int | None = None) -> list[OutboxMessage]:
    """The stored messages, newest first (at most ``limit``); a missing outbox is empty."""
    files: list[tuple[float, str, Path]] = []
    for sub in ("new", "cur"):
        try:
            with os.scandir(Path(path) / sub) as entries:
                for entry in entries:
                    if entry.is_file() and not entry.name.startswith("."):
                        try:
                            files.append((entry.stat().st_mtime, entry.name, Path(entry.path)))
                        except FileNotFoundError:
                            continue
        except FileNotFoundError:
            continue
    files.sort(reverse=True)
    out = []
    for mtime, name, file in files[:limit] if limit is not None else files:
        try:
            raw = file.read_bytes()
        except FileNotFoundError:  # moved from new/ to cur/ by another reader meanwhile
            continue
        out.append(_message(name.split(":", 1)[0], datetime.fromtimestamp(mtime, UTC), raw))
    return out


def _message(key: str, received_at: datetime, raw: bytes) -> OutboxMessage:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    headers = tuple((name, str(value)) for name, value in msg.items())
    sender = str(msg.get("Return-Path", "")).strip().strip("<>")
    recipients = tuple(str(v).strip() for v in msg.get_all("X-Original-To") or ())
    return OutboxMessage(
        key=key,
        received_at=received_at,
        envelope_from=sender,
        recipients=recipients,
        subject=str(msg.get("Subject", "")),
        headers=headers,
        html=_body(msg, "html"),
        text=_body(msg, "plain"),
        raw=raw,
    )


def _body(msg: EmailMessage, kind: str) -> str:
    part = msg.get_body(preferencelist=(kind,))
    if part is None:
        return ""
    try:
        return str(part.get_content()).replace("\r\n", "\n")
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _probe(host: str, port: int) -> int:
    """``port`` if it can be bound (a free one for 0), else the OSError asyncio would raise."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's create_server does
        s.bind((host, port))
        return int(s.getsockname()[1])
