"""The SMTP transport: the ``Transport`` interface of ``send.protocols`` over smtplib.

Connection set-up and STARTTLS use the standard library's tested ``smtplib`` code (blocking, once
per connection), AUTH (PLAIN/LOGIN, UTF-8) is one command sent here; the open session is then a
``transaction.MuxConnection``, the one state machine for every message transaction (pipelined
``MAIL FROM``/``RCPT TO``/``DATA`` in one write when the relay offers PIPELINING, RFC 2920).

Security rules (PITFALLS.md, Mail):
- an explicit ``ssl.create_default_context()`` (verified certificates; ``ca_file`` added for
  private relays); ``starttls`` is required when configured — a relay without STARTTLS stops
  the send before AUTH; never a plaintext fallback;
- AUTH only after TLS, exactly one AUTH command per connection attempt (smtplib's ``login()``
  would try the next mechanism after a 535);
- a timeout on connect and on every reply; ``set_debuglevel`` is never used, the AUTH
  exchange is never logged.

Every reply is classified by code, enhanced status and wording into an ``Outcome``
(``replies``).
"""

from __future__ import annotations

import base64
import functools
import logging
import smtplib
import socket
import ssl

from ..config import SmtpSettings
from ..model import ConfigError
from ..send.outcomes import Attempt, Outcome
from ..send.protocols import TransportError
from .replies import reply_text
from .transaction import MuxConnection

log = logging.getLogger("newsletter.smtp")


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


class SmtpTransport:
    """Opens connections to the configured relay (see the module docstring for the rules)."""

    def __init__(self, settings: SmtpSettings, ehlo_name: str | None = None):
        self.settings = settings
        self.per_connection = max(1, settings.per_connection)
        self._ehlo_name = ehlo_name

    @functools.cached_property
    def _context(self) -> ssl.SSLContext | None:
        # built at the first connect: a dry run or a status never reads the CA file
        return tls_context(self.settings) if self.settings.security != "none" else None

    @functools.cached_property
    def _local_hostname(self) -> str:
        return self._ehlo_name or local_hostname()

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def connect(self) -> MuxConnection:
        s = self.settings
        self._context  # noqa: B018 - an unusable CA file is a ConfigError before any connection
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
        return MuxConnection(client, pipelining, s.timeout)

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
            attempt = Attempt(Outcome.FATAL, code, reply_text(raw), "tls")
            raise TransportError(attempt, f"STARTTLS refused by {self.address}: {code} {reply_text(raw)}")
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
            reply = reply_text(exc.smtp_error)
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
