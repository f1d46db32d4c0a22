"""``newsletter inbox --once`` against a real Maildir and a real SQLite ledger, after a real send through
the aiosmtpd rig: exactly the hard bounces suppressed, complaints ``complained``, mailto: senders
unsubscribed, auto-replies and replies untouched (names and flags), processed mail moved, a second
run and --dry-run change nothing."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import re

import pytest
from delivery_rig import SLUG, config_for, copy_issue, run_cli, sink_env, states, write_members
from inbox_rig import BOUNCE, CASES, deliver, fill, rows, snapshot, use_bounce_address, values_for
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)

from newsletter.store.db import engine_for
from newsletter.store.suppressions import Suppressions

MULTI = "dsn-multi-recipient-hard-and-soft.eml"
VERP_SENDER = re.compile(r"bounces\+(\d+)-[0-9a-f]{12}@amz-sachsen\.example\Z")


def _send(project, project_env, smtp_sink_factory, *, verp: bool, members: int):
    copy_issue(project)
    use_bounce_address(project, verp=verp)
    write_members(project, members)
    sink = smtp_sink_factory(keep_data=False)
    env = sink_env(project_env, sink)
    sent = run_cli(["send", SLUG, "--to", "all", "--yes"], env, project)
    assert sent.returncode == 0, sent.stderr
    return sink, env, config_for(project, env)


def _fill_maildir(maildir, config, by_address, names, verp: bool):
    """Each case about its own member (the multi-recipient one names the next member too)."""
    members = sorted(by_address.values(), key=lambda r: r.id)
    expected: dict[str, str] = {}
    for i, name in enumerate(names):
        row, other = members[2 * i], members[2 * i + 1]
        seen = name.startswith(("reply-", "ooo-subject-de"))  # some already read by the office
        deliver(maildir, fill(name, values_for(config, row, other)), seen=seen)
        reason = CASES[name].suppressed
        if name == MULTI and verp:
            reason = None  # no token, no Message-ID: with VERP the address alone names nobody
        if reason:
            expected[row.address] = reason
    return expected


def test_verp_send_then_inbox_once_acts_on_exactly_the_reports(project, project_env, smtp_sink_factory):
    names = sorted(CASES)
    sink, env, config = _send(project, project_env, smtp_sink_factory, verp=True, members=2 * len(names))
    by_address = rows(config, SLUG)
    # every message's MAIL FROM names its own ledger row; every sent row keeps its Message-ID
    assert {int(VERP_SENDER.match(r.mail_from).group(1)) for r in sink.messages} == {
        r.id for r in by_address.values()
    }
    for (
        r
    ) in by_address.values():  # the Message-ID names its row too: a report quoting it finds the row by key
        assert re.fullmatch(
            rf"<[0-9a-f]{{20}}\.{r.id}\.2022-03-laenderfokus@amz-sachsen\.example>", r.message_id
        )

    maildir = project / "bounces"
    expected = _fill_maildir(maildir, config, by_address, names, verp=True)
    before = snapshot(maildir)
    env = {**env, "NEWSLETTER_INBOX": str(maildir)}

    dry = run_cli(["inbox", "--dry-run"], env, project)
    assert dry.returncode == 0, dry.stderr
    assert snapshot(maildir) == before and Suppressions(engine_for(config.database_url)).list() == []
    assert all(line.startswith("[dry run] ") for line in dry.stdout.splitlines()[:-1])

    done = run_cli(["inbox", "--once"], env, project)
    assert done.returncode == 0, done.stderr
    moved = [n for n in names if CASES[n].moved and n != MULTI]
    left = len(names) - len(moved)
    reasons = sorted(set(expected.values()))
    counts = ", ".join(f"{list(expected.values()).count(r)} {r}" for r in reasons)
    assert done.stdout.splitlines()[-1] == (
        f"inbox {maildir}: {len(names)} mail(s) read, {len(moved)} processed and moved to "
        f"{maildir}/.Processed, {left} left as they were; newly suppressed: {counts}"
    )
    assert (
        dry.stdout.splitlines()[-1]
        == done.stdout.splitlines()[-1].replace("and moved", "and would be moved")
        + " (dry run: nothing changed)"
    )

    listed = {s.address: s for s in Suppressions(engine_for(config.database_url)).list()}
    assert {a: s.reason for a, s in listed.items()} == expected
    assert sorted({s.source for s in listed.values()}) == [
        "arf 2026-03-05",
        "dsn 2026-03-02 5.1.1",
        "dsn 2026-03-02 5.1.10",
        "mailto 2026-03-06",
        "notice 2026-03-02 5.1.1",
    ]
    assert states(config)["bounced"] == 6  # the 3 hard DSNs and the 3 confirmed notices

    after = snapshot(maildir)
    stayed = {k: v for k, v in before.items() if k in after}
    assert len(stayed) == left  # the left ones: same file names (flags), same bytes
    assert {k.split("/", 1)[1] for k in after if k.startswith(".Processed/") and "/" in k[11:]} >= {
        k for k in before if k not in stayed
    }
    assert ".Processed/maildirfolder" in after

    again = run_cli(["inbox", "--once"], env, project)
    assert again.returncode == 0, again.stderr
    assert snapshot(maildir) == after
    assert {s.address: s.reason for s in Suppressions(engine_for(config.database_url)).list()} == expected
    assert again.stdout.splitlines()[-1] == (
        f"inbox {maildir}: {left} mail(s) read, 0 processed and moved to {maildir}/.Processed, "
        f"{left} left as they were; newly suppressed: none"
    )


def test_without_verp_reports_match_by_message_id_then_by_address(project, project_env, smtp_sink_factory):
    names = [
        "dsn-postfix-hard-5.1.1.eml",  # the Message-ID in message/rfc822
        "dsn-exim-hard-rfc822-headers.eml",  # in text/rfc822-headers
        "dsn-exchange-hard-5.0.0-with-5.1.10.eml",  # In-Reply-To as well
        MULTI,  # nothing quoted: by the recipient addresses among the last 30 days' deliveries
        "dsn-forged-never-mailed.eml",
        "dsn-bad-verp-token.eml",
        "dsn-outlook-blocked-5.7.1.eml",
        "notice-unconfirmed-guess.eml",
        "notice-qmail-failure.eml",
    ]
    sink, env, config = _send(project, project_env, smtp_sink_factory, verp=False, members=2 * len(names))
    assert {r.mail_from for r in sink.messages} == {BOUNCE}
    maildir = project / "bounces"
    expected = _fill_maildir(maildir, config, rows(config, SLUG), names, verp=False)
    done = run_cli(["inbox", "--once"], {**env, "NEWSLETTER_INBOX": str(maildir)}, project)
    assert done.returncode == 0, done.stderr
    assert {s.address: s.reason for s in Suppressions(engine_for(config.database_url)).list()} == expected
    assert len(expected) == 5
    lines = done.stdout.splitlines()
    assert any(line.startswith("blocked\t") and "nobody suppressed" in line for line in lines)
    assert any("its VERP token does not verify" in line for line in lines)
    assert any(
        "never.mailed@stranger.example: no delivery to this address in the last 30 days" in line
        for line in lines
    )


def test_a_message_id_from_before_ids_named_rows_still_matches(project, project_env, smtp_sink_factory):
    from sqlalchemy import update

    from newsletter.store.tables import deliveries

    sink, env, config = _send(project, project_env, smtp_sink_factory, verp=False, members=2)
    row = rows(config, SLUG)["m0@example.org"]
    old = "<0a1b2c3d4e5f60718293.2022-03-laenderfokus@amz-sachsen.example>"  # as composed before issue 13
    with engine_for(config.database_url).begin() as conn:
        conn.execute(update(deliveries).where(deliveries.c.id == row.id).values(message_id=old))
    raw = fill("dsn-exim-hard-rfc822-headers.eml", values_for(config, row)).replace(
        row.message_id.encode(), old.encode()
    )
    maildir = project / "bounces"
    # the final recipient is an alias: only the Message-ID can name the row
    deliver(maildir, raw.replace(b"m0@example.org", b"alias.of.m0@example.org"))
    done = run_cli(["inbox", "--once"], {**env, "NEWSLETTER_INBOX": str(maildir)}, project)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("hard bounce\tm0@example.org\t5.1.1\t")


@pytest.mark.parametrize("value", ["imap://u@h/INBOX", "imaps://host/INBOX", "imaps://u:pw@h/INBOX"])
def test_a_wrong_inbox_url_is_one_line_and_exit_2(project, project_env, value):
    result = run_cli(
        ["inbox", "--once"],
        {**project_env, "NEWSLETTER_INBOX": value, "NEWSLETTER_INBOX_PASSWORD": "x"},
        project,
    )
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("error: NEWSLETTER_INBOX ")


@pytest.mark.parametrize("value", ["imaps://u:s3cret@h/INBOX", "imaps://u:s3cret@h:99x/INBOX"])
@pytest.mark.parametrize("once", [True, False], ids=["once", "every-interval"])
def test_a_password_in_the_inbox_url_is_never_shown(project, project_env, value, once):
    result = run_cli(
        ["inbox", "--once"] if once else ["inbox"],
        {**project_env, "NEWSLETTER_INBOX": value, "NEWSLETTER_INBOX_PASSWORD": "x"},
        project,
    )
    assert result.returncode == 2 and result.stderr.splitlines()[-1].startswith("error: NEWSLETTER_INBOX ")
    assert "s3cret" not in result.stdout + result.stderr


def test_without_once_and_no_inbox_it_says_not_set(project, project_env):
    result = run_cli(["inbox"], project_env, project)
    assert result.returncode == 2 and "None" not in result.stderr
    assert result.stderr.startswith("reading (not set) every ")


def test_no_inbox_configured_says_so(project, project_env):
    result = run_cli(["inbox", "--once"], project_env, project)
    assert result.returncode == 2
    assert result.stderr == (
        "error: NEWSLETTER_INBOX is not set: name the bounce mailbox, imaps://USER@HOST/FOLDER or a Maildir path\n"
    )


def test_a_folder_that_is_not_a_maildir_exit_1(project, project_env):
    (project / "plain").mkdir()
    result = run_cli(["inbox", "--once"], {**project_env, "NEWSLETTER_INBOX": "plain"}, project)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: NEWSLETTER_INBOX {project / 'plain'}: not a Maildir (no folder new/; symbolic links are not followed)\n"
    )


def test_without_once_it_keeps_reading_every_interval_until_sigterm(project, project_env, smtp_sink_factory):
    import os
    import signal
    import subprocess
    import sys
    import time

    toml = project / "newsletter.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "\n[inbox]\ninbox_minutes = 0.01\n", encoding="utf-8")
    sink, env, config = _send(project, project_env, smtp_sink_factory, verp=True, members=4)
    by_address = rows(config, SLUG)
    maildir = project / "bounces"
    deliver(maildir, fill("dsn-postfix-hard-5.1.1.eml", values_for(config, by_address["m0@example.org"])))
    full = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    full.update(env, NEWSLETTER_INBOX=str(maildir))
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "inbox"],
        env=full,
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    listed = Suppressions(engine_for(config.database_url))

    def wait_for(address: str) -> None:
        deadline = time.monotonic() + 30
        while not listed.contains(address):
            assert proc.poll() is None and time.monotonic() < deadline, f"{address} not suppressed"
            time.sleep(0.05)

    try:
        wait_for("m0@example.org")
        later = fill("dsn-exim-hard-rfc822-headers.eml", values_for(config, by_address["m1@example.org"]))
        deliver(maildir, later)
        wait_for("m1@example.org")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert err.startswith(f"reading {maildir} every 0.01 minute(s); Ctrl+C stops\n")
    assert err.endswith("stopped\n")
    assert out.count(f"inbox {maildir}: 1 mail(s) read, 1 processed") == 2
