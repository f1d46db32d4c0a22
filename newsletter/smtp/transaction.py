"""The one SMTP transaction state machine, over connections opened by ``transport.SmtpTransport``.

``transport`` opens, secures and authenticates each connection with smtplib (blocking, rare);
every message transaction is then driven here without blocking: by the send loop, which runs N
connections in ONE thread through one selector, and by proofs (``send.slots.send_one``, one
connection, waiting). Per message:
``MAIL FROM``/``RCPT TO``/``DATA`` in one write when the relay offers PIPELINING (else one by one),
then the content (dot-stuffed, unless it is dot-safe as a composed message is). Replies are classified by ``replies.classify``; a connection lost
after the final dot was written is ``unknown``, before it ``lost`` (the relay has nothing: the
member is tried again on a new connection); no reply within the timeout counts as lost.
"""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl
from collections import deque
from collections.abc import Sequence

from ..send.outcomes import Attempt, Outcome
from .replies import classify, reply_text

log = logging.getLogger("newsletter.smtp")
_IOV_MAX = 512  # buffers per sendmsg (Linux allows 1024)
_WANT = (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError, InterruptedError)


def dot_stuff(data: bytes) -> bytes:
    """CRLF line ends, leading dots doubled, terminated by CRLF.CRLF."""
    if data.count(b"\n") != data.count(b"\r\n"):
        data = re.sub(rb"\r?\n", b"\r\n", data)
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\r\n.", b"\r\n..")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


class MuxConnection:
    """One open SMTP session (the engine's ``Connection``) and its in-flight transaction:
    ``start()`` a message, ``step()`` whenever the socket is ready, until it returns the Attempt."""

    def __init__(self, client: smtplib.SMTP, pipelining: bool, timeout: float):
        self.client = client
        self.pipelining = pipelining
        assert client.sock is not None, "connection already closed"
        self.sock: socket.socket = client.sock
        self.sock.setblocking(False)
        self.timeout = timeout
        self.deadline = 0.0
        self.sent = 0
        self._in = bytearray()
        self._vectored = not isinstance(self.sock, ssl.SSLSocket)  # TLS sockets have no sendmsg
        self._out: list[bytes | memoryview] = []  # what is still to be written, in order
        self._unsent = 0  # bytes in it
        self._steps: deque[tuple[tuple[bytes, ...], list[str]]] = deque()
        self._expect: list[str] = []
        self._failure: Attempt | None = None
        self._dot_written = False
        self._resetting = False
        self._eof = False  # the relay closed its side: parse what it sent, write nothing more
        self.closed = False

    # ── the loop's side ──
    @property
    def busy(self) -> bool:
        return bool(self._expect or self._out or self._steps)

    @property
    def wants_write(self) -> bool:
        return bool(self._out)

    def start(
        self,
        envelope_from: str,
        recipient: str,
        data: bytes | Sequence[bytes],
        now: float,
        *,
        dot_safe: bool = False,
    ) -> None:
        self.sent += 1
        mail = f"MAIL FROM:<{envelope_from}>\r\n".encode("ascii")
        rcpt = f"RCPT TO:<{recipient}>\r\n".encode("ascii")
        # dot_safe (a mail.compose.ComposedMessage): CRLF and no line starts with "." — its pieces
        # go out as they are, the terminator beside them, in one sendmsg: no scan or copy of ≈ 50 KB
        pieces = (data,) if isinstance(data, bytes) else tuple(data)
        if dot_safe:
            payload = (*pieces, b".\r\n" if pieces[-1].endswith(b"\r\n") else b"\r\n.\r\n")
        else:
            payload = (dot_stuff(b"".join(pieces)),)
        if not self._vectored or len(payload) > _IOV_MAX:  # TLS: one buffer for the TLS record layer
            payload = (b"".join(payload),)
        if self.pipelining:
            self._steps.extend([((mail + rcpt + b"DATA\r\n",), ["mail", "rcpt", "data"]), (payload, ["dot"])])
        else:
            self._steps.extend(
                [((mail,), ["mail"]), ((rcpt,), ["rcpt"]), ((b"DATA\r\n",), ["data"]), (payload, ["dot"])]
            )
        self._failure, self._dot_written, self._resetting = None, False, False
        self._next_step(now)

    def step(self, now: float) -> Attempt | None:
        """Write what can be written, read what arrived; the finished message's outcome or None."""
        try:
            self._flush(now)
            self._eof = not self._read(now)
            # a relay may answer and close at once ("421 … closing", or 250 then its per-connection
            # limit): the reply that arrived decides, not the close
            attempt = self._replies(now)
            if self._eof:
                return (
                    self._abandon(attempt)
                    if attempt is not None
                    else self._lost("connection closed by the relay")
                )
            return attempt
        except (OSError, ssl.SSLError) as exc:
            return self._lost(str(exc) or type(exc).__name__)

    def expired(self, now: float) -> Attempt | None:
        if self.busy and now > self.deadline:
            return self._lost(f"no reply within {self.timeout:g} s", timed_out=True)
        return None

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.setblocking(True)
            self.sock.settimeout(min(self.timeout, 5.0))
            if not self.busy:
                self.client.quit()
                return
        except (smtplib.SMTPException, OSError, ssl.SSLError):
            pass
        self.client.close()

    # ── internals ──
    def _next_step(self, now: float) -> None:
        data, expect = self._steps.popleft()
        self._out, self._expect = list(data), list(expect)
        self._unsent = sum(map(len, data))
        self.deadline = now + self.timeout
        self._flush(now)

    def _flush(self, now: float) -> None:
        out = self._out
        while out:
            try:
                n = self.sock.sendmsg(out) if len(out) > 1 else self.sock.send(out[0])
            except _WANT:
                return
            self.deadline = now + self.timeout
            self._unsent -= n
            if not self._unsent:  # the usual case: all of it in one call
                out.clear()
                break
            while n:  # a partial write: drop what went out, keep the rest (a memoryview slice copies nothing)
                if n < len(out[0]):
                    out[0] = memoryview(out[0])[n:]
                    break
                n -= len(out.pop(0))
        if self._expect == ["dot"]:
            self._dot_written = True

    def _read(self, now: float) -> bool:
        while True:
            try:
                chunk = self.sock.recv(65536)
            except _WANT:
                return True
            if not chunk:
                return False
            self._in += chunk
            self.deadline = now + self.timeout

    def _replies(self, now: float) -> Attempt | None:
        while self._expect and b"\n" in self._in:
            reply = self._take_reply()
            if reply is None:
                return None
            code, text = reply
            stage = self._expect.pop(0)
            if self._resetting:
                continue
            want = 354 if stage == "data" else 250
            ok = 200 <= code < 300 if stage == "dot" else code == want
            if stage == "dot":
                attempt = Attempt(classify("dot", code, text), code, text, "dot")
                return self._abandon(attempt) if code == 421 else attempt  # 421: the relay closes
            if not ok and self._failure is None:
                self._failure = Attempt(classify(stage, code, text), code, text, stage)
            elif code == 354 and self._failure is not None:
                return self._abandon(self._failure)  # a lax relay opened DATA anyway: never send
        if self._expect or self._out:
            return None
        if self._resetting:
            self._resetting = False
            return None
        if self._failure is not None:
            return self._after_failure(self._failure, now)
        if self._steps and not self._eof:
            self._next_step(now)
            return self._replies(now) if b"\n" in self._in else None
        return None

    def _take_reply(self) -> tuple[int, str] | None:
        lines = []
        buf = self._in
        pos = 0
        while True:
            end = buf.find(b"\n", pos)
            if end < 0:
                return None
            line = bytes(buf[pos:end]).rstrip(b"\r")
            lines.append(line[4:])
            pos = end + 1
            if line[3:4] != b"-":
                break
        del self._in[:pos]
        try:
            code = int(line[:3])
        except ValueError:
            code = -1
        return code, reply_text(b"\n".join(lines)).strip()

    def _after_failure(self, failure: Attempt, now: float) -> Attempt:
        self._steps.clear()
        if self._eof:
            self._abandon(failure)
        elif failure.code == 421 or failure.outcome in (Outcome.PAUSE, Outcome.FATAL):
            self.close()
        else:
            self._resetting = True
            self._steps.append(((b"RSET\r\n",), ["rset"]))
            self._next_step(now)
        return failure

    def _abandon(self, failure: Attempt) -> Attempt:
        self._steps.clear()
        self._expect, self._out = [], []
        self.closed = True
        self.client.close()
        return failure

    def _lost(self, why: str, *, timed_out: bool = False) -> Attempt:
        dot = self._dot_written
        stage = self._expect[0] if self._expect else "connection"  # the reply that never came
        self._steps.clear()
        self._expect, self._out = [], []
        self.closed = True
        self.client.close()
        if dot:
            return Attempt(Outcome.UNKNOWN, None, f"connection lost after the final dot: {why}", "dot")
        return Attempt(Outcome.LOST, None, f"connection lost: {why}", stage, timed_out=timed_out)
