"""Issue 10, item 4: a relay's policy refusal (5.7.x) is about the sender, never a bounce.

``550 5.7.1 Unable to relay`` and ``554 5.7.1 … blocked using zen.spamhaus.org`` at RCPT made 52
members ``bounced`` and suppressed them for ever. Only a status naming the mailbox or domain
(5.1.x, or a plain 550 saying the user is unknown) is a bounce; other permanent RCPT refusals fail
that member without suppressing it.
"""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import pytest
from delivery_rig import (
    SLUG,
    assert_accounting,
    config_for,
    copy_issue,
    run_cli,
    sink_env,
    states,
    write_members,
)
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)
from sqlalchemy import func, select

from newsletter.clock import FakeClock
from newsletter.edges import send_parts
from newsletter.send.outcomes import Outcome
from newsletter.send.run import run_send
from newsletter.smtp.replies import classify
from newsletter.store.db import engine_for
from newsletter.store.tables import deliveries, suppressions

UNABLE_TO_RELAY = "550 5.7.1 Unable to relay"
SPAMHAUS = (
    "554 5.7.1 Service unavailable; Client host [203.0.113.7] blocked using zen.spamhaus.org; "
    "https://www.spamhaus.org/query/ip/203.0.113.7"
)


@pytest.fixture
def issue(project):
    return copy_issue(project)


@pytest.mark.parametrize(
    ("stage", "reply", "outcome"),
    [
        ("rcpt", UNABLE_TO_RELAY, Outcome.PAUSE),
        ("rcpt", SPAMHAUS, Outcome.PAUSE),
        ("rcpt", "550 5.7.606 Access denied, banned sending IP [203.0.113.7]", Outcome.PAUSE),
        ("rcpt", "550 5.7.26 Unauthenticated email from example.org is not accepted (DMARC)", Outcome.PAUSE),
        ("rcpt", "550 5.1.8 <news@example.org>: Sender address rejected: Domain not found", Outcome.PAUSE),
        ("data", "554 5.7.1 Message rejected: policy violation", Outcome.PAUSE),
        ("dot", "550 5.7.1 Message rejected as spam by content filter", Outcome.PAUSE),
        ("rcpt", "550 5.1.1 <a@example.org>: Recipient address rejected: User unknown", Outcome.BOUNCE),
        ("rcpt", "550 5.1.2 Host or domain name not found", Outcome.BOUNCE),
        ("rcpt", "550 User unknown", Outcome.BOUNCE),
        ("rcpt", "550 No such user here", Outcome.BOUNCE),
        (
            "rcpt",
            "550 Requested action not taken: mailbox unavailable (mailbox does not exist)",
            Outcome.BOUNCE,
        ),
        ("rcpt", "550 Requested action not taken: mailbox unavailable", Outcome.FAILED),
        ("rcpt", "552 5.2.2 Mailbox full", Outcome.FAILED),
        ("rcpt", "550 5.2.1 Mailbox disabled, not accepting messages", Outcome.FAILED),
        ("rcpt", "554 Transaction failed", Outcome.FAILED),
    ],
)
def test_only_a_status_naming_the_mailbox_is_a_bounce(stage, reply, outcome):
    assert classify(stage, int(reply[:3]), reply[4:]) is outcome


@pytest.mark.parametrize("reply", [UNABLE_TO_RELAY, SPAMHAUS], ids=["unable-to-relay", "spamhaus"])
def test_policy_refusal_at_rcpt_pauses_bounces_no_one_and_says_why(
    project, project_env, issue, smtp_sink_factory, reply
):
    addresses = write_members(project, 52)
    sink = smtp_sink_factory(replies={"RCPT": reply}, keep_data=False)
    env = sink_env(project_env, sink)
    result = run_cli(["send", SLUG, "--to", "all", "--yes"], env, project)
    assert result.returncode == 1, result.stderr
    assert f"{SLUG}: sent 0, bounced 0, failed 0, unknown 0, suppressed 0, pending 52 " in result.stdout
    paused = [line for line in result.stderr.splitlines() if line.startswith("paused: ")]
    assert len(paused) == 1, result.stderr
    assert reply in paused[0] and "refuses mail from us" in paused[0]
    assert "nobody was marked bounced or suppressed" in paused[0]
    config = config_for(project, env)
    assert states(config) == {"pending": 52} and not sink.messages
    engine = engine_for(config.database_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(suppressions)).scalar_one() == 0
        attempts = conn.execute(select(func.max(deliveries.c.attempts))).scalar_one()
    assert attempts == 0  # a refusal about us costs no member an attempt
    assert_accounting(sink.received_by_address(), config)
    # once the relay lets us send again, the same command mails everyone, once
    sink.script.replies = {}
    again = run_cli(["send", SLUG, "--to", "all", "--yes"], env, project)
    assert again.returncode == 0, again.stderr
    assert set(sink.received_by_address()) == set(addresses) and max(sink.received_by_address().values()) == 1
    assert_accounting(sink.received_by_address(), config)


def test_other_permanent_rcpt_refusals_fail_the_member_without_suppressing(
    project, project_env, issue, smtp_sink_factory
):
    addresses = write_members(project, 30)
    full, disabled, gone = addresses[3], addresses[7], addresses[11]
    refusals = {
        full: "552 5.2.2 Mailbox full",
        disabled: "550 Requested action not taken: mailbox unavailable",
        gone: "550 User unknown",
    }
    sink = smtp_sink_factory(rcpt=refusals, keep_data=False)
    config = config_for(project, sink_env(project_env, sink))
    report = run_send(config, issue, ["all"], clock=FakeClock(), parts=send_parts(config))
    assert report.state == "finished", report.reason
    assert report.outcomes == {"sent": 27, "failed": 2, "bounced": 1} and report.exit_code == 1
    assert {f.address: f.state for f in report.failures} == {
        full: "failed",
        disabled: "failed",
        gone: "bounced",
    }
    with engine_for(config.database_url).connect() as conn:
        suppressed = {r.address for r in conn.execute(select(suppressions.c.address))}
    assert suppressed == {gone}  # only the mailbox that does not exist
    assert sink.stats.rcpt_commands == 30  # permanent: never retried
    assert_accounting(sink.received_by_address(), config)
