"""The Dovecot rig itself (tests/imap_rig.py): TLS with the test CA, passwords, folders, flags, MOVE."""

from __future__ import annotations

import socket
import ssl
import subprocess

import imap_rig
import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

pytestmark = pytest.mark.mailserver
dovecot, dovecot_factory = imap_rig.dovecot, imap_rig.dovecot_factory


def message(n: int, subject: str = "Delivery report") -> bytes:
    return (
        f"From: MAILER-DAEMON@relay.example\r\nTo: bounces@amz.example\r\nSubject: {subject} {n}\r\n"
        f"Message-ID: <rig-{n}@relay.example>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0100\r\n\r\nbody {n}\r\n"
    ).encode()


def test_tls_with_the_test_ca_verifies_and_the_user_logs_in(dovecot):
    with IMAPClient(dovecot.host, dovecot.port, ssl=True, ssl_context=dovecot.client_context()) as c:
        assert c.login(dovecot.user, dovecot.password).startswith(b"Logged in")
        assert b"MOVE" in c.capabilities()
    assert dovecot.url() == f"imaps://bounces@127.0.0.1:{dovecot.port}/INBOX"
    assert dovecot.env("INBOX/Processed")["NEWSLETTER_INBOX_CA_FILE"] == dovecot.ca_file


def test_without_the_ca_the_certificate_does_not_verify(dovecot):
    with pytest.raises(ssl.SSLCertVerificationError, match="self-signed certificate in certificate chain"):
        IMAPClient(dovecot.host, dovecot.port, ssl=True, ssl_context=ssl.create_default_context(), timeout=5)


def test_a_wrong_password_is_refused(dovecot):
    with (
        IMAPClient(dovecot.host, dovecot.port, ssl=True, ssl_context=dovecot.client_context()) as c,
        pytest.raises(LoginError, match="AUTHENTICATIONFAILED"),
    ):
        c.login(dovecot.user, dovecot.password + "x")


def test_no_plaintext_login_before_starttls_from_another_address(dovecot):
    """Dovecot counts a client on its own IP as secure; from 127.0.0.2 LOGIN needs STARTTLS first."""
    with socket.socket() as raw:
        raw.bind(("127.0.0.2", 0))
        raw.settimeout(5)
        raw.connect((dovecot.host, dovecot.starttls_port))
        greeting = raw.recv(1000)
        raw.sendall(f"a LOGIN {dovecot.user} {dovecot.password}\r\n".encode())
        reply = b""
        while b"a NO" not in reply and b"a OK" not in reply:
            reply += raw.recv(1000)
    assert b"STARTTLS LOGINDISABLED" in greeting
    assert b"a NO [PRIVACYREQUIRED] Plaintext authentication disallowed" in reply
    with IMAPClient(dovecot.host, dovecot.starttls_port, ssl=False, timeout=5) as c:
        c.starttls(dovecot.client_context())
        assert c.login(dovecot.user, dovecot.password).startswith(b"Logged in")
    with IMAPClient(dovecot.host, dovecot.starttls_port, ssl=False, timeout=5) as c:  # from 127.0.0.1
        assert c.login(dovecot.user, dovecot.password).startswith(b"Logged in")


def test_append_lists_messages_with_their_flags_and_message_ids(dovecot):
    assert dovecot.append("INBOX", message(1), flags=[r"\Seen"]) == 1
    assert dovecot.append("INBOX", message(2)) == 2
    assert dovecot.append("INBOX", message(3), flags=[r"\Flagged", r"\Answered"]) == 3
    listed = dovecot.messages("INBOX")
    assert [(m.uid, m.message_id, m.subject) for m in listed] == [
        (1, "<rig-1@relay.example>", "Delivery report 1"),
        (2, "<rig-2@relay.example>", "Delivery report 2"),
        (3, "<rig-3@relay.example>", "Delivery report 3"),
    ]
    assert [m.flags for m in listed] == [{r"\Seen"}, set(), {r"\Flagged", r"\Answered"}]
    assert dovecot.fetch("INBOX", 2) == message(2)


def test_a_message_fetched_with_body_peek_keeps_its_flags(dovecot):
    dovecot.append("INBOX", message(1))
    with dovecot.client() as c:
        c.select_folder("INBOX")  # read-write, as the inbox command will
        c.fetch([1], ["BODY.PEEK[]"])
    assert dovecot.messages("INBOX")[0].flags == set()
    with dovecot.client() as c:
        c.select_folder("INBOX")
        c.fetch([1], ["BODY[]"])  # the control: a plain BODY[] marks it read
    assert dovecot.messages("INBOX")[0].flags == {r"\Seen"}


def test_move_to_a_created_subfolder(dovecot):
    for n in (1, 2, 3):
        dovecot.append("INBOX", message(n), flags=[r"\Seen"] if n == 2 else [])
    dovecot.create("INBOX/Processed")
    assert dovecot.folders() == ["INBOX", "INBOX/Processed"]
    with dovecot.client() as c:
        c.select_folder("INBOX")
        c.move([2], "INBOX/Processed")
    assert [m.message_id for m in dovecot.messages("INBOX")] == [
        "<rig-1@relay.example>",
        "<rig-3@relay.example>",
    ]
    moved = dovecot.messages("INBOX/Processed")
    assert [(m.message_id, m.flags) for m in moved] == [("<rig-2@relay.example>", {r"\Seen"})]


def test_the_dot_separator_is_available(dovecot_factory):
    rig = dovecot_factory(separator=".")
    rig.append("INBOX.Processed", message(1))
    assert rig.folders() == ["INBOX", "INBOX.Processed"]


def test_stop_ends_every_dovecot_process_and_removes_the_mail(dovecot_factory, tmp_path):
    rig = dovecot_factory()
    rig.append("INBOX", message(1))
    marks = (str(rig.folder / "dovecot.conf"), f"newsletter-rig-{rig.port}/")  # master, children
    assert len(_processes_with(marks)) >= 4  # watchdog, master, log, config, auth, anvil, imap-login…
    rig.stop()
    assert _processes_with(marks) == []
    assert not (rig.folder / "mail").exists()
    assert "starting up for imap" in rig.log_file.read_text()
    with pytest.raises(OSError):
        socket.create_connection((rig.host, rig.port), timeout=2)


def _processes_with(marks: tuple[str, ...]) -> list[str]:
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return [line for line in ps.splitlines() if any(mark in line for mark in marks)]
