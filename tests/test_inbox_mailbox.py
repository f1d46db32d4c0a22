"""The mailbox readers behind the runner's interface (newsletter.inbox.mailbox): NEWSLETTER_INBOX
parsing, the Maildir reader (no renames, no links followed), and the IMAPS reader's TLS checks
against a real TLS server on 127.0.0.1 (the real Dovecot tests use ``open_mailbox`` the same way)."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import os
import socket

import pytest
from delivery_rig import config_for
from inbox_rig import deliver, snapshot
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)

from newsletter.inbox.mailbox import ImapUrl, MailboxError, open_mailbox, parse_imap_url
from newsletter.inbox.maildir import MaildirMailbox
from newsletter.model import ConfigError


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("imaps://office@mail.example.org/INBOX", ImapUrl("office", "mail.example.org", 993, "INBOX")),
        ("imaps://bounces%40amz.example@127.0.0.1:10993/Bounces/Newsletter",
         ImapUrl("bounces@amz.example", "127.0.0.1", 10993, "Bounces/Newsletter")),
        ("imaps://office@mail.example.org", ImapUrl("office", "mail.example.org", 993, "INBOX")),
    ],
)  # fmt: skip
def test_imaps_urls(url: str, parsed: ImapUrl) -> None:
    assert parse_imap_url(url) == parsed


def test_a_password_in_the_url_is_refused_and_never_shown() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_imap_url("imaps://office:hunter2@mail.example.org/INBOX")
    assert "hunter2" not in str(caught.value)
    assert (
        str(caught.value)
        == "NEWSLETTER_INBOX must not hold the password; put it in NEWSLETTER_INBOX_PASSWORD"
    )


def test_open_mailbox_reads_a_relative_maildir_in_the_project(project, project_env) -> None:
    deliver(project / "bounces", b"Subject: hello\r\n\r\nhi\r\n")
    mailbox = open_mailbox(config_for(project, {**project_env, "NEWSLETTER_INBOX": "bounces"}))
    assert isinstance(mailbox, MaildirMailbox) and mailbox.processed == str(
        project / "bounces" / ".Processed"
    )
    assert [m.raw for m in mailbox.mails()] == [b"Subject: hello\r\n\r\nhi\r\n"]


def test_imap_needs_its_password(project, project_env) -> None:
    config = config_for(project, {**project_env, "NEWSLETTER_INBOX": "imaps://office@127.0.0.1/INBOX"})
    with pytest.raises(ConfigError, match="NEWSLETTER_INBOX_PASSWORD is not set: the IMAP login needs it"):
        open_mailbox(config)


def test_maildir_reading_changes_nothing_and_skips_links(tmp_path) -> None:
    maildir = tmp_path / "Maildir"
    deliver(maildir, b"Subject: one\r\n\r\n1\r\n")
    deliver(maildir, b"Subject: two\r\n\r\n2\r\n", seen=True)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not a mail")
    os.symlink(secret, maildir / "new" / "1.link.test")
    before = snapshot(maildir)
    mailbox = MaildirMailbox(maildir)
    assert sorted(m.raw for m in mailbox.mails()) == [
        b"Subject: one\r\n\r\n1\r\n",
        b"Subject: two\r\n\r\n2\r\n",
    ]
    assert snapshot(maildir) == before and not (maildir / ".Processed").exists()


def test_maildir_moves_under_the_same_name_with_its_flags(tmp_path) -> None:
    maildir = tmp_path / "Maildir"
    seen = deliver(maildir, b"Subject: two\r\n\r\n2\r\n", seen=True)
    mailbox = MaildirMailbox(maildir)
    (mail,) = list(mailbox.mails())
    mailbox.move([mail.ref])
    assert (maildir / ".Processed" / "cur" / seen.name).read_bytes() == b"Subject: two\r\n\r\n2\r\n"
    assert (maildir / ".Processed" / "maildirfolder").is_file() and not seen.exists()


def test_maildir_never_writes_through_a_linked_processed_folder(tmp_path) -> None:
    maildir, elsewhere = tmp_path / "Maildir", tmp_path / "elsewhere"
    elsewhere.mkdir()
    deliver(maildir, b"Subject: one\r\n\r\n1\r\n")
    os.symlink(elsewhere, maildir / ".Processed")
    mailbox = MaildirMailbox(maildir)
    with pytest.raises(MailboxError, match=r"\.Processed: not a folder \(symbolic links are not followed\)"):
        mailbox.move([m.ref for m in mailbox.mails()])
    assert list(elsewhere.iterdir()) == [] and len(list((maildir / "new").iterdir())) == 1


def _inbox_config(project, project_env, port: int, **extra: str):
    env = {
        **project_env,
        "NEWSLETTER_INBOX": f"imaps://office@127.0.0.1:{port}/INBOX",
        "NEWSLETTER_INBOX_PASSWORD": "pw",
        "NEWSLETTER_SMTP_TIMEOUT": "5",
        **extra,
    }
    return config_for(project, env)


def test_imaps_verifies_the_certificate(project, project_env, smtp_sink_factory) -> None:
    server = smtp_sink_factory(tls="tls")  # a real TLS server whose certificate a test CA signed
    with pytest.raises(MailboxError) as caught:
        open_mailbox(_inbox_config(project, project_env, server.port))
    assert str(caught.value).startswith(
        f"TLS with imaps://office@127.0.0.1:{server.port}/INBOX failed: the server certificate is not trusted"
    )
    # with NEWSLETTER_INBOX_CA_FILE the TLS handshake passes; this server then speaks SMTP, not IMAP
    with pytest.raises(MailboxError) as caught:
        open_mailbox(
            _inbox_config(project, project_env, server.port, NEWSLETTER_INBOX_CA_FILE=server.ca_file)
        )
    assert "not trusted" not in str(caught.value)


def test_imaps_connection_refused_is_one_line(project, project_env) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(MailboxError) as caught:
        open_mailbox(_inbox_config(project, project_env, port))
    assert (
        str(caught.value)
        == f"imaps://office@127.0.0.1:{port}/INBOX: cannot connect: [Errno 111] Connection refused"
    )
