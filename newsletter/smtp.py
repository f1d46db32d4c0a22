"""The SMTP transport behind the small ``Transport``/``Connection`` interface the send loop uses.

Built on the standard library's ``smtplib`` (one blocking connection per worker thread):
connection set-up and STARTTLS use smtplib's tested code, AUTH (PLAIN/LOGIN, UTF-8) is one
command sent here; the per-message transaction pipelines ``MAIL FROM``/``RCPT TO``/``DATA`` in one
write when the relay offers PIPELINING (RFC 2920), which halves the round trips per message.

Security rules (PITFALLS.md, Mail):
- an explicit ``ssl.create_default_context()`` (verified certificates; ``ca_file`` added for
  private relays); ``starttls`` is required when configured — a relay without STARTTLS stops
  the send before AUTH; never a plaintext fallback;
- AUTH only after TLS, exactly one AUTH command per connection attempt (smtplib's ``login()``
  would try the next mechanism after a 535);
- a timeout on connect and on every reply; ``set_debuglevel`` is never used, the AUTH
  exchange is never logged.

Every reply is classified by code, enhanced status and wording into an ``Outcome``.
"""

from __future__ import annotations

import base64
import enum
import functools
import logging
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from typing import Protocol

from .config import SmtpSettings
from .model import ConfigError, DeliveryError

log = logging.getLogger("newsletter.smtp")


class Outcome(enum.Enum):
    SENT = "sent"  # 250 to the final dot
    DEFER = "defer"  # 4xx: retry later with backoff
    RETRY = "retry"  # 421 "come back later": the connection backs off; the member's attempts are not spent
    LOST = "lost"  # no reply in time / connection lost before the final dot: the relay has nothing
    BOUNCE = "bounce"  # the mailbox or domain does not exist (5.1.x, "user unknown"): suppress
    FAILED = "failed"  # other permanent error for this message
    UNKNOWN = "unknown"  # connection lost after the final dot: the relay may have stored it
    PAUSE = "pause"  # quota, throttling, a refusal about the sender (5.7.x), relay unreachable: pause
    FATAL = "fatal"  # TLS or AUTH failure: stop, nothing changed


@dataclass(frozen=True)
class Attempt:
    """What happened to one message (or to a connection attempt)."""

    outcome: Outcome
    code: int | None
    reply: str
    stage: str  # connect, tls, auth, mail, rcpt, data, dot (or connection)
    timed_out: bool = False  # LOST because no reply came within the timeout (not a close)

    def describe(self) -> str:
        code = f"{self.code} " if self.code else ""
        return f"{code}{self.reply}".strip() + f" (at {self.stage})"


class Connection(Protocol):
    sent: int  # messages attempted on this connection

    def send(self, envelope_from: str, recipient: str, data: bytes) -> Attempt: ...

    def close(self) -> None: ...


class Transport(Protocol):
    per_connection: int

    def connect(self) -> Connection:
        """Open, secure and authenticate one connection; raises TransportError."""
        ...


class TransportError(DeliveryError):
    """A connection could not be opened, secured or authenticated."""

    def __init__(self, attempt: Attempt, message: str):
        super().__init__(message)
        self.attempt = attempt


# ─────────────────────────────── classification ───────────────────────────────

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_RELAY_DENIED = re.compile(
    r"relay(ing)? (access )?(denied|not permitted|prohibited)|unable to relay|authentication required"
    r"|not authenticated|sender address rejected",
    re.I,
)
_QUOTA_WORDS = re.compile(r"throttl|quota|limit exceeded|rate limit|sending rate|exceeded .*limit", re.I)
# A plain 5xx (no enhanced status) that says the mailbox does not exist; "mailbox unavailable"
# alone is RFC 5321's stock text for any 550, policy refusals included, so it is not enough.
_NO_SUCH_MAILBOX = re.compile(
    r"user unknown|unknown (user|recipient|mailbox)|recipient unknown|no such (user|mailbox|recipient|address|account)"
    r"|(does not|doesn't|not) exist|invalid (recipient|mailbox)|mailbox not found|address not found",
    re.I,
)
_SENDER_STATUS = ("5.1.7", "5.1.8")  # bad sender mailbox / sender's system address: about us


def enhanced_status(reply: str) -> str | None:
    match = _ENHANCED.search(reply)
    return match.group(0) if match else None


def is_quota(code: int, reply: str) -> bool:
    """Quota or throttling replies: not about the recipient, about the whole send."""
    status = enhanced_status(reply)
    if status == "5.4.5":
        return True
    if status is not None and status.split(".")[1] in ("1", "2"):
        return False  # x.1.x address / x.2.x mailbox status ("4.2.2 … over quota"): this recipient only
    if _QUOTA_WORDS.search(reply):
        return True
    return code == 421 and re.search(r"\brate\b", reply, re.I) is not None


def refuses_sender(code: int, reply: str) -> bool:
    """A permanent refusal about us, not the member: policy, reputation, relaying, authentication
    (5.7.x, e.g. "Unable to relay", "blocked using zen.spamhaus.org") or our sender address."""
    status = enhanced_status(reply) or ""
    return (
        status.startswith("5.7.")
        or status in _SENDER_STATUS
        or code == 530
        or bool(_RELAY_DENIED.search(reply))
    )


def names_dead_mailbox(reply: str) -> bool:
    """Only a status naming the mailbox or domain (5.1.x), or a plain 5xx saying the user is
    unknown, makes a bounce — the one outcome that suppresses the member for ever."""
    status = enhanced_status(reply)
    if status is not None and status.startswith("5.1."):
        return True
    return status in (None, "5.0.0") and bool(_NO_SUCH_MAILBOX.search(reply))


def classify(stage: str, code: int, reply: str) -> Outcome:
    """One SMTP reply at one stage of a transaction → what the send loop does about it."""
    if 200 <= code < 400:
        return Outcome.SENT
    if is_quota(code, reply):
        return Outcome.PAUSE
    if stage == "auth":
        return Outcome.FATAL
    if code == 421:
        return Outcome.RETRY
    if 400 <= code < 500:
        return Outcome.DEFER
    if stage == "mail" or refuses_sender(code, reply):
        return Outcome.PAUSE  # every member would be refused alike: never bounce or suppress them
    if names_dead_mailbox(reply):
        return Outcome.BOUNCE
    return Outcome.FAILED  # e.g. "552 5.2.2 Mailbox full": this member, this time; not suppressed


# ───────────────────────────────── connection ─────────────────────────────────


def tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.ca_file:
        try:
            context.load_verify_locations(cafile=settings.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"NEWSLETTER_SMTP_CA_FILE {settings.ca_file}: cannot load a CA certificate from it "
                f"({getattr(exc, 'strerror', None) or exc}); point it at the relay's CA certificate (PEM)"
            ) from None
    return context


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _stuff(data: bytes, *, crlf: bool = False) -> bytes:
    """CRLF line ends, leading dots doubled, terminated by CRLF.CRLF. ``crlf=True``: the caller
    guarantees CRLF line ends already (compose.ComposedMessage does), skip that check."""
    if not crlf and data.count(b"\n") != data.count(b"\r\n"):
        data = re.sub(rb"\r?\n", b"\r\n", data)
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\r\n.", b"\r\n..")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


class SmtpConnection:
    """One open, secured, authenticated SMTP session."""

    def __init__(self, client: smtplib.SMTP, pipelining: bool):
        self.client = client
        self.pipelining = pipelining
        self._client = client
        self._pipelining = pipelining
        self.sent = 0

    def send(self, envelope_from: str, recipient: str, data: bytes) -> Attempt:
        self.sent += 1
        client = self._client
        payload = _stuff(data)
        stage = "mail"
        try:
            commands = [
                ("mail", f"MAIL FROM:<{envelope_from}>\r\n".encode("ascii")),
                ("rcpt", f"RCPT TO:<{recipient}>\r\n".encode("ascii")),
                ("data", b"DATA\r\n"),
            ]
            if self._pipelining:
                client.send(b"".join(cmd for _, cmd in commands))
            first_failure: Attempt | None = None
            for stage, cmd in commands:
                if not self._pipelining:
                    client.send(cmd)
                code, raw = client.getreply()
                reply = _text(raw)
                expected = 354 if stage == "data" else 250
                if code != expected and first_failure is None:
                    first_failure = Attempt(classify(stage, code, reply), code, reply, stage)
                    if not self._pipelining:
                        break
                elif code == 354 and first_failure is not None:
                    client.close()  # a lax server opened DATA anyway: drop it unterminated, never send
                    return first_failure
            if first_failure is not None:
                self._reset(first_failure)
                return first_failure
            stage = "payload"  # a connection lost while writing it: the relay has no final dot yet
            client.send(payload)
            stage = "dot"
            code, raw = client.getreply()
            reply = _text(raw)
            log.debug("%s → %s %s", recipient, code, reply)
            return Attempt(classify("dot", code, reply), code, reply, "dot")
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.close()
            if stage == "dot":
                return Attempt(Outcome.UNKNOWN, None, f"connection lost after the final dot: {exc}", stage)
            timed_out = isinstance(exc, TimeoutError)
            return Attempt(Outcome.LOST, None, f"connection lost: {exc}", stage, timed_out=timed_out)

    def _reset(self, failure: Attempt) -> None:
        if failure.code == 421 or failure.outcome in (Outcome.PAUSE, Outcome.FATAL):
            self.close()
            return
        try:
            self._client.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    @property
    def open(self) -> bool:
        return self._client.sock is not None

    def close(self) -> None:
        client = self._client
        if client.sock is None:
            return
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


class SmtpTransport:
    """Opens connections to the configured relay (see the module docstring for the rules)."""

    def __init__(self, settings: SmtpSettings, ehlo_name: str | None = None):
        self.settings = settings
        self.per_connection = max(1, settings.per_connection)
        self._context = tls_context(settings) if settings.security != "none" else None
        self._local_hostname = ehlo_name or local_hostname()

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def connect(self) -> SmtpConnection:
        s = self.settings
        try:
            client = self._open()
        except ssl.SSLError as exc:
            raise self._tls_error(exc) from None
        except (smtplib.SMTPException, OSError) as exc:
            attempt = Attempt(Outcome.PAUSE, None, str(exc), "connect")
            raise TransportError(
                attempt, f"cannot connect to the relay {self.address}: {exc}; check NEWSLETTER_SMTP_HOST/PORT"
            ) from None
        try:
            self._secure(client)
            if s.username and s.password:
                self._authenticate(client)
        except BaseException:
            client.close()
            raise
        pipelining = client.has_extn("pipelining")
        log.debug("connected to %s (tls=%s, pipelining=%s)", self.address, s.security, pipelining)
        return SmtpConnection(client, pipelining)

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        client: smtplib.SMTP
        if s.security == "tls":
            client = smtplib.SMTP_SSL(
                s.host, s.port, local_hostname=self._local_hostname, timeout=s.timeout, context=self._context
            )
        else:
            client = smtplib.SMTP(s.host, s.port, local_hostname=self._local_hostname, timeout=s.timeout)
        code, raw = client.ehlo()
        if code != 250:
            client.close()
            raise smtplib.SMTPHeloError(code, raw)
        return client

    def _secure(self, client: smtplib.SMTP) -> None:
        if self.settings.security != "starttls":
            return
        if not client.has_extn("starttls"):
            attempt = Attempt(Outcome.FATAL, None, "no STARTTLS offered", "tls")
            raise TransportError(
                attempt,
                f"the relay {self.address} does not offer STARTTLS although NEWSLETTER_SMTP_SECURITY=starttls; "
                "nothing was sent and no password was given (use tls for port 465, or fix the relay)",
            )
        try:
            code, raw = client.starttls(context=self._context)
        except ssl.SSLError as exc:
            raise self._tls_error(exc) from None
        except (smtplib.SMTPException, OSError) as exc:
            attempt = Attempt(Outcome.FATAL, None, str(exc), "tls")
            raise TransportError(attempt, f"STARTTLS with {self.address} failed: {exc}") from None
        if code != 220:
            attempt = Attempt(Outcome.FATAL, code, _text(raw), "tls")
            raise TransportError(attempt, f"STARTTLS refused by {self.address}: {code} {_text(raw)}")
        client.ehlo()

    def _authenticate(self, client: smtplib.SMTP) -> None:
        s = self.settings
        assert s.username and s.password
        if self.settings.security != "none" and not isinstance(client.sock, ssl.SSLSocket):
            raise TransportError(Attempt(Outcome.FATAL, None, "no TLS", "auth"), "refusing AUTH without TLS")
        offered = client.esmtp_features.get("auth", "").upper().split()
        mechanism = next((m for m in ("PLAIN", "LOGIN") if m in offered), None)
        if mechanism is None:
            attempt = Attempt(Outcome.FATAL, None, "no AUTH PLAIN/LOGIN", "auth")
            raise TransportError(attempt, f"the relay {self.address} offers no AUTH PLAIN or LOGIN")
        try:
            _auth(client, mechanism, s.username, s.password.reveal())
        except smtplib.SMTPAuthenticationError as exc:
            reply = _text(exc.smtp_error)
            attempt = Attempt(Outcome.FATAL, exc.smtp_code, reply, "auth")
            raise TransportError(
                attempt,
                f"the relay {self.address} refused the login for '{s.username}' ({exc.smtp_code} {reply}); "
                "check NEWSLETTER_SMTP_USERNAME and NEWSLETTER_SMTP_PASSWORD — nothing was sent",
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            attempt = Attempt(Outcome.FATAL, None, type(exc).__name__, "auth")
            raise TransportError(attempt, f"AUTH with {self.address} failed: {type(exc).__name__}") from None

    def _tls_error(self, exc: ssl.SSLError) -> TransportError:
        detail = getattr(exc, "verify_message", None) or exc.reason or str(exc)
        if isinstance(exc, ssl.SSLCertVerificationError):
            message = (
                f"TLS with {self.address} failed: the server certificate is not trusted ({detail}); "
                "set NEWSLETTER_SMTP_CA_FILE to the relay's CA certificate — nothing was sent"
            )
        else:
            message = f"TLS with {self.address} failed ({detail}); nothing was sent"
        return TransportError(Attempt(Outcome.FATAL, None, str(detail), "tls"), message)


def _auth(client: smtplib.SMTP, mechanism: str, user: str, password: str) -> None:
    """Exactly one AUTH command with the credentials as UTF-8 (RFC 4616): ``smtplib.SMTP.auth``
    encodes them as ASCII and raises UnicodeEncodeError for a password such as 'Schlüssel'.
    Nothing is logged and the password is not kept on the client."""

    def b64(text: str) -> str:
        return base64.b64encode(text.encode("utf-8")).decode("ascii")

    if mechanism == "PLAIN":
        code, reply = client.docmd("AUTH", "PLAIN " + b64(f"\0{user}\0{password}"))
    else:
        code, reply = client.docmd("AUTH", "LOGIN " + b64(user))
        if code == 334:
            code, reply = client.docmd(b64(password))
    if code not in (235, 503):  # 503: already authenticated
        raise smtplib.SMTPAuthenticationError(code, reply)


@functools.lru_cache(maxsize=1)
def local_hostname() -> str:
    """The name sent in EHLO, looked up once per process (getfqdn may wait for DNS)."""
    return socket.getfqdn()
