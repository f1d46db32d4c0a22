"""End to end with a real Postfix (tests/postfix_rig.py): a send to 50 members with VERP, Postfix
accepts all 50, the final destination refuses 3 (550 5.1.1), Postfix's own RFC 3464 bounces come back
to the VERP addresses and land in a Maildir; ``newsletter inbox --once`` on that Maildir marks exactly
those 3 ``bounced``, and the next issue's ``send --dry-run`` skips them."""

# ruff: noqa: F811  (pytest fixtures imported from postfix_rig)
from __future__ import annotations

import re

import postfix_rig
import pytest
from delivery_rig import SECRET, SLUG, config_for, copy_issue, run_cli, sent_addresses, states, write_members
from inbox_rig import BOUNCE, rows, use_bounce_address

from newsletter.mail.verp import verp_address
from newsletter.store.db import engine_for
from newsletter.store.suppressions import Suppressions

pytestmark = pytest.mark.mailserver
postfix, postfix_factory = postfix_rig.postfix, postfix_rig.postfix_factory

GONE = ("m7@example.org", "m23@example.org", "m41@example.org")
NEXT = "2022-04-naechste-ausgabe"


@pytest.mark.parametrize("verp", [True, False], ids=["verp", "message-id"])
def test_postfix_bounces_mark_exactly_the_unknown_members_and_the_next_issue_skips_them(
    project, project_env, postfix_factory, verp
):
    """Without VERP the same bounces name their deliveries by the Message-ID in the headers Postfix
    returns (text/rfc822-headers: a message of the example issue is over its 50 kB bounce_size_limit)."""
    rig = postfix_factory(rejected=GONE)
    copy_issue(project)
    use_bounce_address(project, verp=verp)
    members = write_members(project, 50)
    env = {
        **project_env,
        **rig.smtp_env(),
        "NEWSLETTER_SECRET": SECRET,
        "NEWSLETTER_PUBLIC_URL": "https://news.example.org",
    }
    sent = run_cli(["send", SLUG, "--to", "all", "--yes"], env, project)
    assert sent.returncode == 0, sent.stdout + sent.stderr  # Postfix took all 50 with 250
    config = config_for(project, env)
    assert states(config) == {"sent": 50}

    rig.final.wait_for(47)
    dsns = rig.wait_for_bounces(3)
    rig.wait_for_empty_queue()
    assert sorted(r for m in rig.final.messages for r in m.rcpt_tos) == sorted(set(members) - set(GONE))
    by_address = rows(config, SLUG)
    # each bounce went to its delivery's VERP address (or the bounce address), from the null sender
    envelope = [(verp_address(by_address[a].id, config) if verp else BOUNCE,) for a in GONE]
    assert sorted(d.recipients for d in dsns) == sorted(envelope)
    assert {d.envelope_from for d in dsns} == {""}

    maildir = rig.bounce_maildir
    env = {**env, "NEWSLETTER_INBOX": str(maildir)}
    done = run_cli(["inbox", "--once"], env, project)
    assert done.returncode == 0, done.stderr
    *lines, summary = done.stdout.splitlines()
    assert summary == (
        f"inbox {maildir}: 3 mail(s) read, 3 processed and moved to {maildir}/.Processed, "
        "0 left as they were; newly suppressed: 3 bounced"
    )
    assert sorted(lines) == sorted(
        f"hard bounce\t{a}\t5.1.1\t{SLUG}\tsuppressed (bounced: dsn {_today(dsns)} 5.1.1), ledger row bounced"
        for a in GONE
    )
    assert sent_addresses(config, state="bounced") == set(GONE)
    assert states(config) == {"sent": 47, "bounced": 3}
    listed = Suppressions(engine_for(config.database_url)).list()
    assert sorted((s.address, s.reason) for s in listed) == sorted((a, "bounced") for a in GONE)
    assert {len(list((maildir / sub).iterdir())) for sub in ("new", "cur")} == {0}
    assert len(list((maildir / ".Processed" / "new").iterdir())) == 3

    copy_issue(project, NEXT)
    planned = run_cli(["send", NEXT, "--to", "all", "--dry-run"], env, project)
    assert planned.returncode == 0, planned.stderr
    would = set(re.findall(r"^(\S+@example\.org)\t\S+\twould send$", planned.stdout, re.M))
    assert would == set(members) - set(GONE)
    skipped = re.findall(r"^(\S+@example\.org)\t\S+\tsuppressed$", planned.stdout, re.M)
    assert sorted(skipped) == sorted(GONE)
    assert "dry run: 47 of 50 members would get a message (" in planned.stdout


def _today(dsns) -> str:
    """The day Postfix dated its bounces (the suppression's source names it)."""
    from email.utils import parsedate_to_datetime

    days = set()
    for dsn in dsns:
        head = dsn.raw.split(b"\r\n\r\n", 1)[0].decode()
        date = re.search(r"^Date: (.+)$", head, re.M)
        assert date, head
        days.add(f"{parsedate_to_datetime(date.group(1).strip()):%Y-%m-%d}")
    (day,) = days
    return day
