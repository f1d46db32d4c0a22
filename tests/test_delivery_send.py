"""run_send against the real aiosmtpd rig (FAULT-PLAN 5, 7–10, 11, 13, 24e): each ends with the accounting invariant."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import pytest
from delivery_rig import (
    SLUG,
    assert_accounting,
    config_for,
    copy_issue,
    sent_addresses,
    set_sending,
    sink_env,
    states,
    write_members,
)
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)
from sqlalchemy import func, select

from newsletter.clock import FakeClock
from newsletter.edges import send_parts
from newsletter.model import DeliveryError, RefusedError
from newsletter.send.run import run_send
from newsletter.store.db import engine_for
from newsletter.store.ledger import Ledger
from newsletter.store.suppressions import Suppressions
from newsletter.store.tables import deliveries


@pytest.fixture
def issue(project):
    return copy_issue(project)


def test_451_on_every_10th_data_delivers_everyone_exactly_once(
    project, project_env, issue, smtp_sink_factory
):
    addresses = write_members(project, 600)
    sink = smtp_sink_factory(data_fail_every=10, keep_data=False)
    clock = FakeClock()
    config = config_for(project, sink_env(project_env, sink))
    report = run_send(config, issue, ["all"], clock=clock, parts=send_parts(config))
    received = sink.received_by_address()
    assert set(received) == set(addresses) and max(received.values()) == 1
    assert report.state == "finished" and report.exit_code == 0
    assert report.outcomes == {"sent": 600} and report.pending == 0
    assert report.attempts == sink.stats.data_commands > 600  # the 451s were retried …
    assert sum(clock.slept) >= 60  # … after the configured backoff (fake clock)
    assert_accounting(received, config_for(project, sink_env(project_env, sink)))


def test_550_for_2_percent_bounced_suppressed_never_retried(project, project_env, issue, smtp_sink_factory):
    addresses = write_members(project, 500)
    gone = set(addresses[::50])
    sink = smtp_sink_factory(
        rcpt=lambda a: "550 5.1.1 No such user" if a.lower() in gone else None, keep_data=False
    )
    config = config_for(project, sink_env(project_env, sink))
    report = run_send(config, issue, ["all"], clock=FakeClock(), parts=send_parts(config))
    received = sink.received_by_address()
    assert report.outcomes == {"sent": 490, "bounced": 10} and report.exit_code == 0
    assert set(received) == set(addresses) - gone and max(received.values()) == 1
    assert sink.stats.rcpt_commands == 500  # the 10 were never retried
    assert Suppressions(engine_for(config.database_url)).filter(addresses) == gone
    assert {f.address for f in report.failures if f.state == "bounced"} == gone
    assert_accounting(received, config)
    # a second issue sends nothing to them
    second = copy_issue(project, "2022-04-zweite")
    sink2 = smtp_sink_factory(keep_data=False)
    config2 = config_for(project, sink_env(project_env, sink2))
    report2 = run_send(config2, second, ["all"], clock=FakeClock(), parts=send_parts(config2))
    assert not gone & set(sink2.received_by_address()) and report2.outcomes == {"sent": 490, "suppressed": 10}


def test_450_at_rcpt_is_retried_not_bounced(project, project_env, issue, smtp_sink_factory):
    addresses = write_members(project, 300)
    set_sending(project, retry_backoff=[300, 900])
    sink = smtp_sink_factory(greylist_seconds=300, keep_data=False)
    clock = FakeClock()
    sink.clock = clock
    config = config_for(project, sink_env(project_env, sink))
    report = run_send(config, issue, ["all"], clock=clock, parts=send_parts(config))
    assert report.outcomes == {"sent": 300} and not Suppressions(engine_for(config.database_url)).filter(
        addresses
    )
    assert sink.stats.rcpt_commands == 600  # each greylisted once, delivered on its 2nd attempt
    assert sum(clock.slept) >= 300
    assert_accounting(sink.received_by_address(), config)


def test_421_every_100_messages_and_the_cap_of_90(project, project_env, issue, smtp_sink_factory):
    addresses = write_members(project, 500)
    sink = smtp_sink_factory(per_connection=100, keep_data=False)
    set_sending(project, per_connection=1000)
    config = config_for(project, sink_env(project_env, sink))
    run_send(config, issue, ["all"], clock=FakeClock(), parts=send_parts(config))
    received = sink.received_by_address()
    assert set(received) == set(addresses) and max(received.values()) == 1 and sink.stats.server_closes > 0
    assert sink.stats.connections <= 500 // 100 + 1 + 4
    assert_accounting(received, config)

    copy_issue(project, "2022-05-dritte")
    sink2 = smtp_sink_factory(per_connection=100, keep_data=False)
    set_sending(project, per_connection=90)
    config2 = config_for(project, sink_env(project_env, sink2))
    run_send(
        config2, project / "issues" / "2022-05-dritte", ["all"], clock=FakeClock(), parts=send_parts(config2)
    )
    assert len(sink2.received_by_address()) == 500 and sink2.stats.server_closes == 0


def test_quota_pauses_with_everyone_else_pending_and_resumes_without_duplicates(
    project, project_env, issue, smtp_sink_factory
):
    addresses = write_members(project, 800)
    sink = smtp_sink_factory(quota_from=501, quota_at="DATA", keep_data=False)
    config = config_for(project, sink_env(project_env, sink))
    report = run_send(config, issue, ["all"], clock=FakeClock(), parts=send_parts(config))
    assert report.state == "paused" and "5.4.5" in report.reason and report.exit_code == 1
    assert states(config) == {"sent": 500, "pending": 300}
    assert len(sink.received_by_address()) == 500
    # "the next day"
    sink2 = smtp_sink_factory(keep_data=False)
    config2 = config_for(project, sink_env(project_env, sink2))
    report2 = run_send(config2, issue, ["all"], clock=FakeClock(), parts=send_parts(config2))
    first, second = sink.received_by_address(), sink2.received_by_address()
    assert not set(first) & set(second) and set(first) | set(second) == set(addresses)
    assert report2.state == "finished" and states(config2) == {"sent": 800}
    assert_accounting(first + second, config2)


def test_drop_after_the_final_dot_is_unknown_and_retry_failed_resends(
    project, project_env, issue, smtp_sink_factory
):
    write_members(project, 200)
    dropped = {10, 50, 90}
    sink = smtp_sink_factory(drop_after=dropped, keep_data=False)
    config = config_for(project, sink_env(project_env, sink))
    report = run_send(config, issue, ["all"], clock=FakeClock(), parts=send_parts(config))
    unknown = {f.address for f in report.failures if f.state == "unknown"}
    assert len(unknown) == 3 and report.exit_code == 1 and report.outcomes["sent"] == 197
    assert_accounting(sink.received_by_address(), config, unknown_resent=True)
    again = run_send(config, issue, ["all"], clock=FakeClock(), parts=send_parts(config))
    assert again.outcomes == {} and again.exit_code == 1  # never silently resent
    retried = run_send(config, issue, ["all"], clock=FakeClock(), retry_failed=True, parts=send_parts(config))
    assert retried.outcomes == {"sent": 3} and retried.exit_code == 0
    received = sink.received_by_address()
    assert {a for a, n in received.items() if n == 2} == unknown  # the documented duplicates of that policy


def test_hung_server_gives_up_within_the_timeout(project, project_env, issue, smtp_sink_factory):
    write_members(project, 2, segments=lambda i: "poland")
    sink = smtp_sink_factory(delays={"DATA": 3600})
    set_sending(project, timeout=1, connections=2)
    config = config_for(project, sink_env(project_env, sink))
    report = run_send(config, issue, ["poland"], clock=FakeClock(), parts=send_parts(config))
    assert report.elapsed < 2 * 1 * config.smtp.max_attempts
    assert states(config) == {"unknown": 2} and report.exit_code == 1


def test_poland_then_usa_mails_members_of_both_once(project, project_env, issue, smtp_sink_factory):
    write_members(project, 300)  # poland / usa / both
    sink = smtp_sink_factory()
    config = config_for(project, sink_env(project_env, sink))
    first = run_send(config, issue, ["poland"], clock=FakeClock(), parts=send_parts(config))
    second = run_send(config, issue, ["usa"], clock=FakeClock(), parts=send_parts(config))
    received = sink.received_by_address()
    assert first.outcomes == {"sent": 200} and second.outcomes == {"sent": 100}
    assert len(received) == 300 and max(received.values()) == 1
    assert Ledger(engine_for(config.database_url)).counts(SLUG).by_edition.keys() >= {"poland+usa.pl"}
    assert_accounting(received, config)


def test_unsubscribe_during_a_running_send_stops_mail_to_that_address(
    project, project_env, issue, smtp_sink_factory
):
    addresses = write_members(project, 600)
    sink = smtp_sink_factory(keep_data=False)
    config = config_for(project, sink_env(project_env, sink))
    late = addresses[-1]
    suppressions = Suppressions(engine_for(config.database_url))

    def progress(p):
        if p.done == 300:
            suppressions.add(late, "unsubscribed", "one-click")

    report = run_send(config, issue, ["all"], clock=FakeClock(), progress=progress, parts=send_parts(config))
    assert late not in sink.received_by_address() and report.outcomes["suppressed"] == 1
    assert_accounting(sink.received_by_address(), config)


def test_wrong_password_changes_nothing(project, project_env, issue, smtp_sink_factory):
    write_members(project, 20)
    sink = smtp_sink_factory(tls="starttls", auth=("user", "right"))
    env = sink_env(
        project_env,
        sink,
        NEWSLETTER_SMTP_SECURITY="starttls",
        NEWSLETTER_SMTP_USERNAME="user",
        NEWSLETTER_SMTP_PASSWORD="wrong",
        NEWSLETTER_SMTP_CA_FILE=sink.ca_file,
    )
    config = config_for(project, env)
    with pytest.raises(DeliveryError, match="refused the login"):
        run_send(config, issue, ["all"], parts=send_parts(config))
    assert sink.stats.auth_attempts <= 1 and not sink.messages
    with engine_for(config.database_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(deliveries)).scalar_one() == 0


def test_a_second_concurrent_send_of_the_issue_refuses(project, project_env, issue, smtp_sink_factory):
    write_members(project, 5)
    sink = smtp_sink_factory()
    config = config_for(project, sink_env(project_env, sink))
    ledger = Ledger(engine_for(config.database_url))
    ledger.acquire(SLUG, "otherhost:1:abc")  # a live holder elsewhere
    with pytest.raises(RefusedError, match="otherhost"):
        run_send(config, issue, ["all"], parts=send_parts(config))
    assert not sink.messages and not sent_addresses(config)


def test_dry_run_changes_nothing(project, project_env, issue, smtp_sink_factory):
    write_members(project, 30)
    sink = smtp_sink_factory()
    config = config_for(project, sink_env(project_env, sink))
    report = run_send(config, issue, ["poland"], dry_run=True, parts=send_parts(config))
    assert report.state == "dry-run" and len(report.plan) == 20 and not sink.messages
    assert {p.edition for p in report.plan} >= {"poland.de", "poland+usa.pl"}
    assert states(config) == {}


def test_a_send_over_starttls_with_auth_and_a_pinned_ca(project, project_env, issue, smtp_sink_factory):
    addresses = write_members(project, 200)
    sink = smtp_sink_factory(tls="starttls", auth=("user", "pw"), per_connection=100)
    env = sink_env(
        project_env,
        sink,
        NEWSLETTER_SMTP_SECURITY="starttls",
        NEWSLETTER_SMTP_USERNAME="user",
        NEWSLETTER_SMTP_PASSWORD="pw",
        NEWSLETTER_SMTP_CA_FILE=sink.ca_file,
    )
    config = config_for(project, env)
    report = run_send(config, issue, ["all"], clock=FakeClock(), parts=send_parts(config))
    received = sink.received_by_address()
    assert (
        report.outcomes == {"sent": 200} and set(received) == set(addresses) and max(received.values()) == 1
    )
    assert sink.stats.auth_successes == sink.stats.connections and sink.stats.server_closes == 0
    assert_accounting(received, config)


def test_error_budget_pauses_after_consecutive_failures(project, project_env, issue, smtp_sink_factory):
    write_members(project, 100)
    set_sending(project, error_budget=10, connections=1)
    sink = smtp_sink_factory(replies={"DATA": "554 5.6.0 Message rejected as spam"}, keep_data=False)
    config = config_for(project, sink_env(project_env, sink))
    report = run_send(config, issue, ["all"], clock=FakeClock(), parts=send_parts(config))
    assert report.state == "paused" and "10 failures in a row" in report.reason and report.exit_code == 1
    assert states(config) == {"failed": 10, "pending": 90} and not sink.messages


def test_rate_limit_is_steady(project, project_env, issue, smtp_sink_factory):
    write_members(project, 50)
    sink = smtp_sink_factory(keep_data=False)
    config = config_for(project, sink_env(project_env, sink, NEWSLETTER_RATE="10"))
    clock = FakeClock()
    report = run_send(config, issue, ["all"], clock=clock, parts=send_parts(config))
    assert report.outcomes == {"sent": 50}
    assert abs(sum(clock.slept) - 4.9) < 0.01 and max(clock.slept) <= 0.1 + 1e-9  # paced, never bursty


def test_resend_unknown_policy_resends_the_lost_250s(project, project_env, issue, smtp_sink_factory):
    addresses = write_members(project, 200)
    set_sending(project, resend_unknown=True)
    sink = smtp_sink_factory(drop_after={10, 50, 90}, keep_data=False)
    config = config_for(project, sink_env(project_env, sink))
    report = run_send(config, issue, ["all"], clock=FakeClock(), parts=send_parts(config))
    received = sink.received_by_address()
    assert report.outcomes == {"sent": 200} and report.exit_code == 0
    assert set(received) == set(addresses) and sum(received.values()) == 203  # exactly the 3 duplicates
    assert_accounting(received, config)


def test_throttling_slows_the_send_down_instead_of_failing(project, project_env, issue, smtp_sink_factory):
    addresses = write_members(project, 300)
    clock = FakeClock()
    sink = smtp_sink_factory(max_rate=10, clock=clock, keep_data=False)
    config = config_for(project, sink_env(project_env, sink))
    started = clock.monotonic()
    report = run_send(config, issue, ["all"], clock=clock, parts=send_parts(config))
    received = sink.received_by_address()
    assert report.state == "finished" and report.outcomes == {"sent": 300} and report.exit_code == 0
    assert set(received) == set(addresses) and max(received.values()) == 1
    assert 0 < sink.stats.replies["454"] < 30  # it settled quickly …
    assert (clock.monotonic() - started) >= (300 - 10) / 10  # … at ≤ 10 messages/s
    assert_accounting(received, config)


def test_one_full_mailbox_is_deferred_not_a_relay_quota(project, project_env, issue, smtp_sink_factory):
    """Gmail's "452 4.2.2 … over quota" is about that one mailbox (x.2.x): retry it with backoff
    like any 4xx; it must not throttle and then pause the whole send."""
    addresses = write_members(project, 30)
    full = addresses[3]
    set_sending(project, connections=1, max_attempts=3, retry_backoff=[60])
    reply = "452 4.2.2 The email account that you tried to reach is over quota."
    sink = smtp_sink_factory(rcpt={full: reply}, keep_data=False)
    config = config_for(project, sink_env(project_env, sink))
    report = run_send(config, issue, ["all"], clock=FakeClock(), parts=send_parts(config))
    assert report.state == "finished", report.reason
    assert report.outcomes == {"sent": 29, "failed": 1} and report.exit_code == 1
    assert set(sink.received_by_address()) == set(addresses) - {full}
    assert sink.stats.replies["452"] == 3  # exactly max_attempts tries, with backoff
    assert_accounting(sink.received_by_address(), config)


def test_a_lost_send_lease_stops_the_send(project, project_env, issue, smtp_sink_factory, monkeypatch):
    """Another process took the issue's lease (ours expired during a stall): it recovers our
    ``sending`` rows and sends them, so we must stop instead of mailing on in parallel."""
    from sqlalchemy import update

    from newsletter.send import loop
    from newsletter.store.tables import locks

    write_members(project, 60)
    set_sending(project, connections=1)
    monkeypatch.setattr(loop, "HEARTBEAT_SECONDS", 0.0)
    sink = smtp_sink_factory(keep_data=False)
    config = config_for(project, sink_env(project_env, sink))
    engine = engine_for(config.database_url)

    def take_over(p):
        if p.sent == 5:
            with engine.begin() as conn:
                conn.execute(update(locks).values(holder="elsewhere:1:other"))

    report = run_send(config, issue, ["all"], clock=FakeClock(), progress=take_over, parts=send_parts(config))
    assert report.state == "stopped" and "lease" in report.reason and report.exit_code == 1
    assert 5 <= report.sent <= 6 and len(sink.received_by_address()) == report.sent
    assert states(config).get("sending", 0) == 0


def test_a_relay_limiting_concurrent_connections_is_sent_over_fewer(
    project, project_env, issue, smtp_sink_factory
):
    """A 421 greeting for one connection too many ("maximum number of concurrent connections")
    while others are open is not an unreachable relay: send over the ones it accepts, never pause."""
    addresses = write_members(project, 200)
    set_sending(project, connections=4)
    sink = smtp_sink_factory(max_connections=2, keep_data=False)
    config = config_for(project, sink_env(project_env, sink))
    report = run_send(config, issue, ["all"], clock=FakeClock(), parts=send_parts(config))
    received = sink.received_by_address()
    assert report.state == "finished", report.reason
    assert report.outcomes == {"sent": 200} and report.exit_code == 0
    assert set(received) == set(addresses) and max(received.values()) == 1
    assert sink.stats.replies["421"] >= 1  # the limit was hit
    assert_accounting(received, config)


def test_a_missing_dkim_key_stops_the_send_with_everyone_still_pending(
    project, project_env, issue, smtp_sink_factory
):
    """A configuration error while building the mail is not a fault of each member: it must not
    mark the whole list ``failed`` (a plain re-run after fixing the key would then send nothing)."""
    write_members(project, 30)
    toml = project / "newsletter.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8")
        + '\n[dkim]\nselector = "news"\ndomain = "example.org"\nprivate_key = "missing-dkim.key"\n',
        encoding="utf-8",
    )
    sink = smtp_sink_factory(keep_data=False)
    config = config_for(project, sink_env(project_env, sink))
    assert config.dkim is not None
    report = run_send(config, issue, ["all"], clock=FakeClock(), parts=send_parts(config))
    assert report.state == "stopped" and "DKIM private key not found" in report.reason
    assert report.exit_code == 1 and not sink.messages
    assert states(config) == {"pending": 30}


def test_relay_access_denied_at_rcpt_pauses_and_suppresses_no_one(
    project, project_env, issue, smtp_sink_factory
):
    """Postfix's "554 5.7.1 <addr>: Relay access denied" (missing or wrong login) is about our
    relay, not the member: bouncing would put every member tried on the suppression list forever."""
    addresses = write_members(project, 80)
    sink = smtp_sink_factory(rcpt=lambda a: f"554 5.7.1 <{a}>: Relay access denied", keep_data=False)
    config = config_for(project, sink_env(project_env, sink))
    report = run_send(config, issue, ["all"], clock=FakeClock(), parts=send_parts(config))
    assert report.state == "paused" and "Relay access denied" in report.reason and report.exit_code == 1
    assert states(config) == {"pending": 80} and not sink.messages
    assert not Suppressions(engine_for(config.database_url)).filter(addresses)


def test_a_retry_after_a_long_backoff_does_not_waste_an_attempt_on_a_timed_out_connection(
    project, project_env, issue, smtp_sink_factory
):
    """Relays close idle connections (Postfix after 300 s): the retry due after the backoff must go
    over a fresh connection, not be charged a 'connection lost' attempt on the dead one."""
    addresses = write_members(project, 3, segments=lambda i: "poland")
    slow = addresses[1]
    set_sending(project, connections=1, max_attempts=3, retry_backoff=[400])
    clock = FakeClock()
    replies = iter(["450 4.7.1 Greylisted, please try again later"] * 2)
    sink = smtp_sink_factory(rcpt=lambda a: next(replies, None) if a == slow else None, idle_close=300)
    sink.clock = clock
    config = config_for(project, sink_env(project_env, sink))
    report = run_send(config, issue, ["poland"], clock=clock, parts=send_parts(config))
    assert report.outcomes == {"sent": 3} and report.exit_code == 0  # the 3rd real try got through
    assert sink.stats.server_closes == 0 and max(sink.received_by_address().values()) == 1
    assert_accounting(sink.received_by_address(), config)


def test_a_421_to_the_final_dot_closes_the_connection_and_charges_no_one_else(
    project, project_env, issue, smtp_sink_factory
):
    """A 421 closes the channel: the member is retried over a new connection; neither it nor the
    next member may be charged a 'connection lost' attempt on the closed one."""
    addresses = write_members(project, 12)
    set_sending(project, connections=1, max_attempts=2)
    sink = smtp_sink_factory(data_fail_every=5, data_fail_reply="421 4.3.2 Service shutting down, closing")
    config = config_for(project, sink_env(project_env, sink))
    report = run_send(config, issue, ["all"], clock=FakeClock(), parts=send_parts(config))
    received = sink.received_by_address()
    assert report.outcomes == {"sent": 12} and report.exit_code == 0, report.failures
    assert set(received) == set(addresses) and max(received.values()) == 1
    assert_accounting(received, config)


def test_a_250_followed_by_an_immediate_close_is_sent_not_unknown(
    project, project_env, issue, smtp_sink_factory
):
    addresses = write_members(project, 20)
    sink = smtp_sink_factory(close_after={3, 9, 15})
    config = config_for(project, sink_env(project_env, sink))
    report = run_send(config, issue, ["all"], clock=FakeClock(), parts=send_parts(config))
    received = sink.received_by_address()
    assert report.outcomes == {"sent": 20} and report.exit_code == 0, report.failures
    assert set(received) == set(addresses) and max(received.values()) == 1
    assert_accounting(received, config)


def test_an_interrupted_send_is_not_left_running_in_the_send_history(
    project, project_env, issue, smtp_sink_factory
):
    write_members(project, 20)
    sink = smtp_sink_factory(keep_data=False)
    config = config_for(project, sink_env(project_env, sink))

    def ctrl_c(p):
        if p.sent == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_send(config, issue, ["all"], clock=FakeClock(), progress=ctrl_c, parts=send_parts(config))
    latest = Ledger(engine_for(config.database_url)).latest_send(SLUG)
    assert latest is not None and latest["state"] == "stopped" and "interrupted" in latest["reason"]
    assert states(config).get("sending", 0) == 0
