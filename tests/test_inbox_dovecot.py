"""``newsletter inbox --once`` against a real Dovecot (tests/imap_rig.py: IMAPS, the test CA verified)
after a real send through the aiosmtpd rig with VERP: 20 delivery reports in the shapes of Postfix,
Exim, Exchange/Outlook and Gmail, 3 ARF complaints, 3 mailto: unsubscribes, 5 auto-replies and 5
members' replies, stored with a mix of flags. Exactly the hard bounces are suppressed, the complaints
``complained``, the mailto: senders unsubscribed; what is left keeps its UID and its flags; what was
processed is in INBOX/Processed with its flags; --dry-run and a second run change nothing; a wrong CA
or password is one line."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import imap_rig
import pytest
import smtp_sink
from delivery_rig import (
    SLUG,
    config_for,
    copy_issue,
    run_cli,
    sent_addresses,
    sink_env,
    states,
    write_members,
)
from inbox_rig import CASES, Row, fill, own_id, rows, snapshot, use_bounce_address, values_for
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)

from newsletter.store.db import engine_for
from newsletter.store.suppressions import Suppressions

pytestmark = pytest.mark.mailserver
dovecot, dovecot_factory = imap_rig.dovecot, imap_rig.dovecot_factory

MULTI = "dsn-multi-recipient-hard-and-soft.eml"
# (fixture, copies): 20 delivery reports — 10 hard (3 of them plain-text notices confirmed by the
# VERP token), 4 soft, 2 delayed, 2 blocks, a guess nothing confirms and a two-recipient report
# that names no delivery (with VERP, an address alone names nobody)
REPORTS = [
    ("dsn-postfix-hard-5.1.1.eml", 3),
    ("dsn-exim-hard-rfc822-headers.eml", 2),
    ("dsn-exchange-hard-5.0.0-with-5.1.10.eml", 2),
    ("notice-exchange-plain-text.eml", 1),
    ("notice-exim-plain-text.eml", 1),
    ("notice-qmail-failure.eml", 1),
    ("dsn-gmail-soft-4.2.2-over-quota.eml", 2),
    ("dsn-mailbox-full-5.2.2.eml", 2),
    ("dsn-delayed-4.4.1.eml", 2),
    ("dsn-outlook-blocked-5.7.1.eml", 2),
    ("notice-unconfirmed-guess.eml", 1),
    (MULTI, 1),
]
COMPLAINTS = [
    ("arf-abuse-original-rcpt-to.eml", 1),
    ("arf-abuse-to-of-the-original.eml", 1),
    ("arf-jmrp-rfc822-headers.eml", 1),
]
UNSUBSCRIBES = [("mailto-unsubscribe-token-in-subject.eml", 2), ("mailto-unsubscribe-token-in-body.eml", 1)]
AUTO_REPLIES = [
    ("auto-reply-auto-submitted.eml", 1),
    ("auto-reply-x-autoreply.eml", 1),
    ("auto-reply-precedence-auto-reply.eml", 1),
    ("ooo-subject-de.eml", 1),
    ("ooo-subject-pl.eml", 1),
]
REPLIES = [
    ("reply-member-question.eml", 2),
    ("reply-member-html-quoting-the-newsletter.eml", 1),
    ("reply-member-without-message-id.eml", 1),
    ("mailto-unsubscribe-without-token.eml", 1),  # a member asking by hand: for a person
]
# read and unread, flagged, answered: the office's own marks must survive a run
FLAGS = [(), ("\\Seen",), ("\\Seen", "\\Flagged"), ("\\Answered", "\\Seen"), ("\\Flagged",)]


@dataclass(frozen=True)
class Stored:
    uid: int
    name: str
    row: Row
    moved: bool
    suppressed: str | None


def _send(project, project_env, smtp_sink_factory, members: int):
    copy_issue(project)
    use_bounce_address(project, verp=True)
    write_members(project, members)
    env = sink_env(project_env, smtp_sink_factory(keep_data=False))
    sent = run_cli(["send", SLUG, "--to", "all", "--yes"], env, project)
    assert sent.returncode == 0, sent.stderr
    config = config_for(project, env)
    return env, config, sorted(rows(config, SLUG).values(), key=lambda r: r.id)


def _store(dovecot, config, members: list[Row], cases: list[tuple[str, int]]) -> list[Stored]:
    """Each mail about its own member (OTHER: the next one), appended with the next flags of FLAGS."""
    stored = []
    for name, copies in cases:
        for copy in range(copies):
            n = len(stored)
            row, other = members[2 * n], members[2 * n + 1]
            raw = fill(name, values_for(config, row, other))
            raw = own_id(raw, f"copy-{n}") if copy else raw
            uid = dovecot.append("INBOX", raw, flags=FLAGS[n % len(FLAGS)])
            expect = CASES[name]
            moved = expect.moved and name != MULTI
            stored.append(Stored(uid, name, row, moved, expect.suppressed if moved else None))
    return stored


def _suppressions(config) -> dict[str, str]:
    return {s.address: s.reason for s in Suppressions(engine_for(config.database_url)).list()}


def test_one_run_acts_on_exactly_the_reports_and_leaves_the_rest_with_its_flags(
    project, project_env, smtp_sink_factory, dovecot
):
    cases = REPORTS + COMPLAINTS + UNSUBSCRIBES + AUTO_REPLIES + REPLIES
    assert [sum(n for _, n in group) for group in (REPORTS, COMPLAINTS, UNSUBSCRIBES, AUTO_REPLIES, REPLIES)] == [
        20, 3, 3, 5, 5,
    ]  # fmt: skip
    env, config, members = _send(project, project_env, smtp_sink_factory, 2 * sum(n for _, n in cases))
    stored = _store(dovecot, config, members, cases)
    env = {**env, **dovecot.env("INBOX")}
    before = dovecot.messages("INBOX")
    assert len(before) == 36 and {m.flags for m in before} == {frozenset(f) for f in FLAGS}
    expected = {s.row.address: s.suppressed for s in stored if s.suppressed}
    assert Counter(expected.values()) == {"bounced": 10, "complained": 3, "unsubscribed": 3}
    moved = [s for s in stored if s.moved]
    left = [m for m in before if m.uid not in {s.uid for s in moved}]
    summary = (
        f"inbox {dovecot.url('INBOX')}: 36 mail(s) read, {len(moved)} processed and moved to "
        f"INBOX/Processed, {len(left)} left as they were; newly suppressed: 10 bounced, 3 complained, "
        "3 unsubscribed"
    )
    assert (len(moved), len(left)) == (24, 12)

    dry = run_cli(["inbox", "--dry-run"], env, project)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[-1] == summary.replace("and moved", "and would be moved") + (
        " (dry run: nothing changed)"
    )
    assert all(line.startswith("[dry run] ") for line in dry.stdout.splitlines()[:-1])
    assert dovecot.messages("INBOX") == before and "INBOX/Processed" not in dovecot.folders()
    assert _suppressions(config) == {} and states(config) == {"sent": 72}

    done = run_cli(["inbox", "--once"], env, project)
    assert done.returncode == 0, done.stderr
    *lines, last = done.stdout.splitlines()
    assert last == summary
    assert Counter(line.split("\t")[0] for line in lines) == {
        "hard bounce": 10, "soft bounce": 4, "delayed": 2, "blocked": 2, "complaint": 3, "unsubscribe": 3,
        "left": 12,
    }  # fmt: skip
    assert all(line.endswith("nobody suppressed (a block is about the sender, not the member)")
               for line in lines if line.startswith("blocked\t"))  # fmt: skip
    assert _suppressions(config) == expected
    hard = {a for a, reason in expected.items() if reason == "bounced"}
    assert states(config) == {"sent": 72 - len(hard), "bounced": len(hard)}
    assert sent_addresses(config, state="bounced") == hard
    assert dovecot.messages("INBOX") == left  # same UIDs, same flags: not even \Seen was set
    by_uid = {m.uid: m for m in before}
    assert sorted((m.message_id, m.flags) for m in dovecot.messages("INBOX/Processed")) == sorted(
        (by_uid[s.uid].message_id, by_uid[s.uid].flags) for s in moved
    )
    for auto_reply_or_reply in stored[26:]:
        assert auto_reply_or_reply.uid in {m.uid for m in left}

    processed = dovecot.messages("INBOX/Processed")
    again = run_cli(["inbox", "--once"], env, project)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == (
        f"inbox {dovecot.url('INBOX')}: 12 mail(s) read, 0 processed and moved to INBOX/Processed, "
        "12 left as they were; newly suppressed: none"
    )
    assert dovecot.messages("INBOX") == left and dovecot.messages("INBOX/Processed") == processed
    assert _suppressions(config) == expected
    assert states(config) == {"sent": 72 - len(hard), "bounced": len(hard)}


@pytest.mark.parametrize("ca", ["another private CA", "the system's CAs only"])
def test_a_wrong_ca_is_one_line_and_changes_nothing(project, project_env, dovecot, ca):
    dovecot.append("INBOX", fill("dsn-forged-never-mailed.eml", {"BOUNCE": "b@x.test"}), flags=())
    before = dovecot.messages("INBOX")
    env = {**project_env, **dovecot.env("INBOX")}
    if ca == "another private CA":
        env["NEWSLETTER_INBOX_CA_FILE"] = smtp_sink.tls_certificates.__wrapped__()[0]  # a fresh CA
    else:
        del env["NEWSLETTER_INBOX_CA_FILE"]
    result = run_cli(["inbox", "--once"], env, project)
    assert result.returncode == 1, result.stdout
    assert result.stderr == (
        f"error: TLS with {dovecot.url('INBOX')} failed: the server certificate is not trusted "
        "(self-signed certificate in certificate chain); set NEWSLETTER_INBOX_CA_FILE to the CA "
        "certificate that signed the mail server's — nothing was read or changed\n"
    )
    assert result.stdout == "" and dovecot.messages("INBOX") == before


def test_a_wrong_password_is_one_line_that_never_shows_it(project, project_env, dovecot):
    dovecot.append("INBOX", b"Subject: a reply\r\nMessage-ID: <r@x.test>\r\n\r\nhi\r\n", flags=("\\Seen",))
    # the server's own Maildir (file names carry the flags): after a failed login Dovecot makes every
    # further login from 127.0.0.1 wait (its auth penalty), so the check reads the files, not IMAP
    store = dovecot.folder / "mail" / dovecot.user / "Maildir"
    before = snapshot(store)
    assert any(name.startswith("cur/") and name.endswith(":2,S") for name in before)
    wrong = dovecot.password + "-wrong"
    env = {**project_env, **dovecot.env("INBOX"), "NEWSLETTER_INBOX_PASSWORD": wrong}
    result = run_cli(["inbox", "--once"], env, project)
    assert result.returncode == 1, result.stdout
    assert result.stderr == (
        f"error: {dovecot.url('INBOX')}: the server refused the login for 'bounces' "
        "([AUTHENTICATIONFAILED] Authentication failed.); check NEWSLETTER_INBOX_PASSWORD — nothing was read or changed\n"
    )
    assert wrong not in result.stdout + result.stderr and snapshot(store) == before


def test_a_server_that_separates_folders_with_a_dot_gets_inbox_dot_processed(
    project, project_env, smtp_sink_factory, dovecot_factory
):
    rig = dovecot_factory(separator=".")
    env, config, members = _send(project, project_env, smtp_sink_factory, 2)
    rig.append("INBOX", fill("dsn-postfix-hard-5.1.1.eml", values_for(config, members[0])), flags=("\\Seen",))
    done = run_cli(["inbox", "--once"], {**env, **rig.env("INBOX")}, project)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (
        f"inbox {rig.url('INBOX')}: 1 mail(s) read, 1 processed and moved to INBOX.Processed, "
        "0 left as they were; newly suppressed: 1 bounced"
    )
    assert "INBOX.Processed" in rig.folders() and rig.messages("INBOX") == []
    assert [m.flags for m in rig.messages("INBOX.Processed")] == [frozenset({"\\Seen"})]


@pytest.mark.parametrize("capability", ["IMAP4rev1 UIDPLUS", "IMAP4rev1"], ids=["uidplus", "neither"])
def test_a_server_without_move_gets_copy_and_deleted(
    project, project_env, smtp_sink_factory, dovecot_factory, capability
):
    """Without MOVE: COPY, \\Deleted and UID EXPUNGE of exactly those UIDs; without UIDPLUS as well, the
    original stays marked \\Deleted for the mail program to expunge (and the next run skips it)."""
    rig = dovecot_factory(capability=capability)
    with rig.client() as c:
        assert b"MOVE" not in c.capabilities()
    env, config, members = _send(project, project_env, smtp_sink_factory, 2)
    rig.append("INBOX", fill("dsn-postfix-hard-5.1.1.eml", values_for(config, members[0])), flags=("\\Seen",))
    reply = fill("reply-member-question.eml", values_for(config, members[1]))
    rig.append("INBOX", reply, flags=("\\Flagged",))
    (bounce, question) = rig.messages("INBOX")
    env = {**env, **rig.env("INBOX")}
    for run in range(2):
        done = run_cli(["inbox", "--once"], env, project)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[-1].startswith(
            f"inbox {rig.url('INBOX')}: {2 - run} mail(s) read, {1 - run} processed"
        )
        if "UIDPLUS" in capability:
            assert rig.messages("INBOX") == [question]
        else:
            deleted = frozenset({"\\Seen", "\\Deleted"})
            assert rig.messages("INBOX") == [replace(bounce, flags=deleted), question]
        assert [(m.message_id, m.flags) for m in rig.messages("INBOX/Processed")] == [
            (bounce.message_id, frozenset({"\\Seen"}))
        ]
    assert _suppressions(config) == {members[0].address: "bounced"}
