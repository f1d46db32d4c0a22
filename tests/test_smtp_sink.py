"""The test SMTP rig itself: scripted replies, counters, TLS/AUTH modes, spool file."""

from __future__ import annotations

import smtplib
import socket
import ssl

import pytest
import smtp_sink as rig
from smtp_sink import CLOSE_REPLY, SmtpSink, read_spool

from newsletter.clock import FakeClock

smtp_sink, smtp_sink_factory = rig.smtp_sink, rig.smtp_sink_factory  # the rig's pytest fixtures
MSG = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n.leading dot\r\n"


def _send(sink: SmtpSink, rcpt: str, *, conn: smtplib.SMTP | None = None) -> None:
    own = conn is None
    conn = conn or smtplib.SMTP(sink.host, sink.port, timeout=5)
    try:
        conn.sendmail("news@example.org", [rcpt], MSG)
    finally:
        if own:
            conn.quit()


def test_records_messages_in_memory_and_spool(smtp_sink: SmtpSink) -> None:
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=5) as conn:
        for rcpt in ("a@example.org", "B@example.org", "a@example.org"):
            _send(smtp_sink, rcpt, conn=conn)
    smtp_sink.wait_for(3, timeout=5)
    assert smtp_sink.received_by_address() == {"a@example.org": 2, "b@example.org": 1}
    first = smtp_sink.messages[0]
    assert first.data == MSG and first.rcpt_commands == 1 and first.conn == 1
    assert first.message()["Subject"] == "hi"
    assert [r.rcpt_tos for r in read_spool(smtp_sink.spool)] == [m.rcpt_tos for m in smtp_sink.messages]
    assert smtp_sink.stats.connections == 1 and smtp_sink.stats.rcpt_commands == 3


def test_rcpt_replies_by_address_and_predicate(smtp_sink_factory) -> None:
    sink = smtp_sink_factory(rcpt={"gone@example.org": "550 5.1.1 No such user"})
    with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
        _send(sink, "Gone@example.org")
    assert err.value.recipients["Gone@example.org"][0] == 550
    sink.script.rcpt = lambda a: "450 4.2.0 Mailbox busy" if a.startswith("busy") else None
    with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
        _send(sink, "busy@example.org")
    assert err.value.recipients["busy@example.org"][0] == 450
    _send(sink, "ok@example.org")
    assert sink.received_by_address() == {"ok@example.org": 1}


def test_every_nth_data_fails_and_per_connection_close(smtp_sink_factory) -> None:
    sink = smtp_sink_factory(data_fail_every=3, per_connection=4)
    codes = []
    conn = smtplib.SMTP(sink.host, sink.port, timeout=5)
    for i in range(5):
        try:
            _send(sink, f"m{i}@example.org", conn=conn)
            codes.append(250)
        except smtplib.SMTPDataError as exc:
            codes.append(exc.smtp_code)
    assert codes == [250, 250, 451, 250, 250]
    with pytest.raises(smtplib.SMTPSenderRefused) as err:  # 4 stored on this connection
        _send(sink, "x@example.org", conn=conn)
    assert err.value.smtp_code == 421 and CLOSE_REPLY.endswith(err.value.smtp_error.decode())
    assert sink.stats.server_closes == 1 and len(sink.messages) == 4


def test_drop_after_store_is_stored_but_unanswered(smtp_sink_factory) -> None:
    sink = smtp_sink_factory(drop_after={2})
    _send(sink, "one@example.org")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        _send(sink, "two@example.org")
    assert len(sink.messages) == 2 and sink.stats.drops == 1


def test_quota_from_message_n(smtp_sink_factory) -> None:
    sink = smtp_sink_factory(quota_from=3)
    _send(sink, "1@example.org")
    _send(sink, "2@example.org")
    with pytest.raises(smtplib.SMTPSenderRefused) as err:
        _send(sink, "3@example.org")
    assert err.value.smtp_code == 550 and b"5.4.5" in err.value.smtp_error


def test_throttle_above_rate_with_fake_clock(smtp_sink_factory) -> None:
    clock = FakeClock()
    sink = smtp_sink_factory(max_rate=2, clock=clock)
    _send(sink, "1@example.org")
    _send(sink, "2@example.org")
    with pytest.raises(smtplib.SMTPSenderRefused) as err:
        _send(sink, "3@example.org")
    assert err.value.smtp_code == 454
    clock.advance(1.0)
    _send(sink, "3@example.org")


def test_greylisting_uses_injected_clock(smtp_sink_factory) -> None:
    clock = FakeClock()
    sink = smtp_sink_factory(greylist_seconds=300, clock=clock)
    for _ in range(2):
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            _send(sink, "g@example.org")
        clock.advance(299)
    _send(sink, "g@example.org")
    assert sink.stats.replies["450"] == 2 and len(sink.messages) == 1


def test_starttls_auth_with_pinned_ca(smtp_sink_factory) -> None:
    sink = smtp_sink_factory(tls="starttls", auth=("user", "pw"))
    with smtplib.SMTP(sink.host, sink.port, timeout=5) as conn:
        conn.ehlo()
        assert not conn.has_extn("auth")  # AUTH only after TLS
        conn.starttls(context=sink.client_context())
        conn.login("user", "pw")
        conn.sendmail("news@example.org", ["a@example.org"], MSG)
    assert (sink.stats.tls_handshakes, sink.stats.auth_attempts, len(sink.messages)) == (1, 1, 1)


def test_wrong_password_and_untrusted_certificate(smtp_sink_factory) -> None:
    sink = smtp_sink_factory(tls="starttls", auth=("user", "pw"))
    with smtplib.SMTP(sink.host, sink.port, timeout=5) as conn:
        conn.starttls(context=sink.client_context())
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            conn.login("user", "wrong")
    assert err.value.smtp_code == 535 and b"5.7.8" in err.value.smtp_error
    conn = smtplib.SMTP(sink.host, sink.port, timeout=5)
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate"):
        conn.starttls(context=ssl.create_default_context())
    conn.close()
    sink.wait_for(0)
    assert sink.stats.auth_successes == 0 and not sink.messages


def test_auth_offered_without_starttls_and_implicit_tls(smtp_sink_factory) -> None:
    plain = smtp_sink_factory(auth=("user", "pw"), auth_require_tls=False)
    with smtplib.SMTP(plain.host, plain.port, timeout=5) as conn:
        conn.ehlo()
        assert conn.has_extn("auth") and not conn.has_extn("starttls")
    assert plain.stats.auth_commands == 0
    tls = smtp_sink_factory(tls="tls")
    with smtplib.SMTP_SSL(tls.host, tls.port, timeout=5, context=tls.client_context()) as conn:
        conn.sendmail("news@example.org", ["a@example.org"], MSG)
    assert tls.stats.tls_handshakes == 1 and len(tls.messages) == 1


def test_hung_server_times_out_client_and_stops_cleanly(smtp_sink_factory) -> None:
    sink = smtp_sink_factory(delays={"DATA": 3600})
    conn = smtplib.SMTP(sink.host, sink.port, timeout=0.3)
    with pytest.raises((socket.timeout, smtplib.SMTPServerDisconnected)):
        conn.sendmail("news@example.org", ["a@example.org"], MSG)
    conn.close()
    sink.stop()  # must not hang on the sleeping handler
