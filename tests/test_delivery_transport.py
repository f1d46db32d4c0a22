"""The SMTP transport against the real aiosmtpd rig: TLS, AUTH, classification, timeouts (FAULT-PLAN 8, 11, 14–16)."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import dataclasses
import time

import pytest
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)

from newsletter.config import Secret, SmtpSettings
from newsletter.send.outcomes import Outcome, is_quota
from newsletter.send.protocols import TransportError
from newsletter.send.slots import send_one
from newsletter.smtp.replies import classify
from newsletter.smtp.transport import SmtpTransport

MESSAGE = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nHello\r\n.leading dot\r\n"


def settings(sink, **changes) -> SmtpSettings:
    base = SmtpSettings(
        host=sink.host,
        port=sink.port,
        security="none",
        username=None,
        password=None,
        timeout=5.0,
        ca_file=None,
        connections=1,
        rate=None,
        per_connection=90,
        max_attempts=3,
        retry_backoff=(0.0,),
        error_budget=50,
        resend_unknown=False,
    )
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(
    ("stage", "reply", "outcome"),
    [
        ("rcpt", "450 4.7.1 Greylisted", Outcome.DEFER),
        ("rcpt", "550 5.1.1 No such user", Outcome.BOUNCE),
        ("rcpt", "554 5.7.1 <a@example.org>: Relay access denied", Outcome.PAUSE),
        ("rcpt", "530 5.7.0 Authentication required", Outcome.PAUSE),
        ("dot", "451 4.3.0 Temporary failure", Outcome.DEFER),
        ("dot", "550 5.1.1 Mailbox unavailable", Outcome.BOUNCE),
        ("dot", "554 5.6.0 Message rejected", Outcome.FAILED),
        ("mail", "550 5.4.5 Daily SMTP relay limit exceeded", Outcome.PAUSE),
        ("mail", "454 4.7.0 Throttling failure: Maximum sending rate exceeded", Outcome.PAUSE),
        ("mail", "421 4.7.0 Too many messages, rate limited", Outcome.PAUSE),
        ("mail", "421 4.7.0 Too many messages on this connection, closing", Outcome.RETRY),
        ("rcpt", "452 4.2.2 Mailbox full", Outcome.DEFER),
        ("rcpt", "452 4.2.2 The email account that you tried to reach is over quota.", Outcome.DEFER),
        ("auth", "535 5.7.8 Authentication credentials invalid", Outcome.FATAL),
        ("dot", "250 2.0.0 OK", Outcome.SENT),
    ],
)
def test_replies_are_classified_by_code_status_and_wording(stage, reply, outcome):
    code, text = int(reply[:3]), reply[4:]
    assert classify(stage, code, text) is outcome


def test_quota_wording():
    assert is_quota(550, "5.7.1 Sending limit exceeded for today")
    assert not is_quota(550, "5.1.1 User unknown")


def test_450_and_550_at_rcpt_are_told_apart(smtp_sink_factory):
    sink = smtp_sink_factory(
        rcpt={"grey@example.org": "450 4.7.1 Try later", "gone@example.org": "550 5.1.1 No such user"}
    )
    conn = SmtpTransport(settings(sink)).connect()
    grey = send_one(conn, "news@example.org", "grey@example.org", MESSAGE)
    gone = send_one(conn, "news@example.org", "gone@example.org", MESSAGE)
    ok = send_one(conn, "news@example.org", "ok@example.org", MESSAGE)
    conn.close()
    assert (grey.outcome, grey.code) == (Outcome.DEFER, 450)
    assert (gone.outcome, gone.code) == (Outcome.BOUNCE, 550)
    assert ok.outcome is Outcome.SENT
    assert [m.rcpt_tos for m in sink.messages] == [("ok@example.org",)]
    assert sink.messages[0].data.endswith(b".leading dot\r\n")  # dot-stuffing undone by the server


def test_drop_after_the_final_dot_is_unknown(smtp_sink_factory):
    sink = smtp_sink_factory(drop_after={1})
    conn = SmtpTransport(settings(sink)).connect()
    attempt = send_one(conn, "news@example.org", "a@example.org", MESSAGE)
    assert attempt.outcome is Outcome.UNKNOWN and len(sink.messages) == 1


def test_hung_server_gives_up_within_the_timeout(smtp_sink_factory):
    sink = smtp_sink_factory(delays={"DATA": 3600})
    conn = SmtpTransport(settings(sink, timeout=1.0)).connect()
    started = time.monotonic()
    attempt = send_one(conn, "news@example.org", "a@example.org", MESSAGE)
    assert time.monotonic() - started < 1.0 + 1.0
    assert attempt.outcome is Outcome.UNKNOWN  # the relay had the whole message: it may store it


def test_wrong_password_one_auth_attempt_and_no_message(smtp_sink_factory):
    sink = smtp_sink_factory(tls="starttls", auth=("user", "right"))
    s = settings(sink, security="starttls", username="user", password=Secret("wrong"), ca_file=sink.ca_file)
    with pytest.raises(TransportError, match="refused the login") as info:
        SmtpTransport(s).connect()
    assert info.value.attempt.outcome is Outcome.FATAL
    assert sink.stats.auth_attempts <= 1 and sink.stats.auth_commands <= 1 and not sink.messages
    assert "wrong" not in str(info.value)


def test_self_signed_certificate_without_ca_stops_before_auth(smtp_sink_factory):
    sink = smtp_sink_factory(tls="starttls", auth=("user", "pw"))
    s = settings(sink, security="starttls", username="user", password=Secret("pw"))
    with pytest.raises(TransportError, match="certificate") as info:
        SmtpTransport(s).connect()
    assert info.value.attempt.outcome is Outcome.FATAL
    assert sink.stats.auth_commands == 0 and sink.stats.auth_attempts == 0 and not sink.messages


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_with_the_ca_file_tls_and_auth_work(smtp_sink_factory, mode):
    # aiosmtpd does not count implicit TLS as TLS for AUTH: let it offer AUTH there (TLS is on anyway)
    sink = smtp_sink_factory(tls=mode, auth=("user", "pw"), auth_require_tls=mode == "starttls")
    s = settings(sink, security=mode, username="user", password=Secret("pw"), ca_file=sink.ca_file)
    conn = SmtpTransport(s).connect()
    assert send_one(conn, "news@example.org", "a@example.org", MESSAGE).outcome is Outcome.SENT
    conn.close()
    assert sink.stats.auth_successes == 1 and len(sink.messages) == 1


def test_auth_offered_without_starttls_is_never_used(smtp_sink_factory):
    sink = smtp_sink_factory(auth=("user", "pw"), auth_require_tls=False)
    s = settings(sink, security="starttls", username="user", password=Secret("pw"))
    with pytest.raises(TransportError, match="does not offer STARTTLS"):
        SmtpTransport(s).connect()
    assert sink.stats.auth_commands == 0 and sink.stats.auth_attempts == 0 and not sink.messages


def test_implicit_tls_to_a_plaintext_server_fails_closed(smtp_sink_factory):
    sink = smtp_sink_factory()
    with pytest.raises(TransportError):
        SmtpTransport(settings(sink, security="tls", timeout=2.0)).connect()
    assert not sink.messages


def test_per_connection_cap_is_reported_as_retry(smtp_sink_factory):
    sink = smtp_sink_factory(per_connection=2)
    conn = SmtpTransport(settings(sink)).connect()
    outcomes = [send_one(conn, "news@example.org", f"m{i}@example.org", MESSAGE).outcome for i in range(3)]
    assert outcomes == [Outcome.SENT, Outcome.SENT, Outcome.RETRY]


@pytest.mark.parametrize("content", [None, "not a certificate\n"])
def test_an_unusable_ca_file_is_a_clear_config_error(smtp_sink_factory, tmp_path, content):
    from newsletter.model import ConfigError

    path = tmp_path / "relay-ca.pem"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    sink = smtp_sink_factory(tls="starttls")
    with pytest.raises(ConfigError, match="NEWSLETTER_SMTP_CA_FILE"):
        SmtpTransport(settings(sink, security="starttls", ca_file=str(path))).connect()
    assert sink.stats.connections == 0


@pytest.mark.parametrize("exclude", [(), ("PLAIN",)])  # AUTH PLAIN, or AUTH LOGIN when PLAIN is not offered
def test_a_non_ascii_password_logs_in_as_utf_8(smtp_sink_factory, exclude):
    """Credentials are UTF-8 (RFC 4616); smtplib encodes them as ASCII and raised UnicodeEncodeError
    (a traceback instead of a send) for a password such as 'Schlüssel'."""
    sink = smtp_sink_factory(tls="starttls", auth=("user", "Schlüssel-ß9"), auth_exclude=exclude)
    password = Secret("Schlüssel-ß9")
    conn = SmtpTransport(
        settings(sink, security="starttls", username="user", password=password, ca_file=sink.ca_file)
    ).connect()
    assert send_one(conn, "news@example.org", "a@example.org", MESSAGE).outcome is Outcome.SENT
    conn.close()
    assert sink.stats.auth_successes == 1 and sink.stats.auth_attempts == 1 and sink.stats.auth_commands == 1


def test_a_message_in_pieces_survives_partial_writes():
    """The pieces of a composed message go out by sendmsg; a relay that reads slowly (the socket
    buffer full mid-message) gets every byte once, in order, then the terminator."""
    import smtplib
    import socket

    from newsletter.smtp.transaction import MuxConnection

    ours, relay = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    client = smtplib.SMTP()
    client.sock = ours
    conn = MuxConnection(client, pipelining=True, timeout=5.0)
    pieces = [bytes([65 + i % 26]) * (1000 + 37 * i) + b"\r\n" for i in range(60)]  # ≈ 125 KB
    conn.start("news@example.org", "a@example.org", pieces, time.monotonic(), dot_safe=True)
    relay.sendall(b"250 ok\r\n250 ok\r\n354 go\r\n")
    received = bytearray()
    expected = (
        b"MAIL FROM:<news@example.org>\r\nRCPT TO:<a@example.org>\r\nDATA\r\n" + b"".join(pieces) + b".\r\n"
    )
    while len(received) < len(expected):
        assert conn.step(time.monotonic()) is None
        received += relay.recv(3000)  # slower than the sender: its buffer fills, sendmsg writes part
    assert bytes(received) == expected
    relay.sendall(b"250 2.0.0 queued\r\n")
    attempt = None
    while attempt is None:
        attempt = conn.step(time.monotonic())
    assert attempt.outcome is Outcome.SENT and not conn.busy
    ours.close()
    relay.close()
