"""Soft bounces (issue 13, points 2 and 4): 3 over different issues with no delivery accepted in
between suppress; a delivery accepted in between starts the count from zero; two reports about one
issue count once; a 5.7.1 block and a delayed report never count."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

from delivery_rig import config_for, copy_issue, sink_env, write_members
from inbox_rig import deliver, fill, rows, use_bounce_address, values_for
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)

from newsletter.clock import FakeClock
from newsletter.edges import send_parts, suppressions
from newsletter.inbox.run import inbox_once
from newsletter.send.run import run_send

ISSUES = ("2026-01-eins", "2026-02-zwei", "2026-03-drei", "2026-04-vier")
SOFT = "dsn-gmail-soft-4.2.2-over-quota.eml"
OWN_ID = b"<65e2f0a1.050a0220.1b2c3.9f1eSMTPIN_ADDED_MISSING@mx.google.com>"


def _report(name: str, config, row, n: int) -> bytes:
    """The fixture about ``row``, with a Message-ID of its own (each report is a mail of its own)."""
    raw = fill(name, values_for(config, row))
    return raw.replace(OWN_ID, f"<soft-{n}@mx.google.com>".encode()).replace(
        b"Message-ID: <c0ffee00", f"Message-ID: <blocked-{n}-c0ffee00".encode()
    )


def test_three_soft_bounces_over_different_issues_suppress_and_an_accepted_delivery_resets(
    project, project_env, smtp_sink_factory
):
    use_bounce_address(project, verp=True)
    write_members(project, 3)  # m0: 3 soft → suppressed; m1: soft, soft, accepted, soft; m2: one issue twice
    sink = smtp_sink_factory(keep_data=False)
    maildir = project / "bounces"
    env = {**sink_env(project_env, sink), "NEWSLETTER_INBOX": str(maildir)}
    config = config_for(project, env)
    lines: list[str] = []
    plan = {  # issue → (member, report fixture) delivered after that issue was sent
        ISSUES[0]: [("m0", SOFT), ("m1", SOFT), ("m2", SOFT), ("m2", SOFT)],
        ISSUES[1]: [("m0", SOFT), ("m1", SOFT), ("m2", SOFT), ("m2", "dsn-outlook-blocked-5.7.1.eml")],
        ISSUES[2]: [("m0", SOFT), ("m2", "dsn-delayed-4.4.1.eml")],  # m1 accepted: no report
        ISSUES[3]: [("m1", SOFT)],
    }
    n = 0
    for slug, reports in plan.items():
        report = run_send(
            config, copy_issue(project, slug), ["all"], clock=FakeClock(), parts=send_parts(config)
        )
        assert report.exit_code == 0
        by_address = rows(config, slug)
        for member, name in reports:
            n += 1
            deliver(maildir, _report(name, config, by_address[f"{member}@example.org"], n))
        inbox_once(config, echo=lines.append)
    suppressed = {s.address: s for s in suppressions(config).list()}
    assert list(suppressed) == ["m0@example.org"]
    assert suppressed["m0@example.org"].reason == "bounced"
    assert suppressed["m0@example.org"].source == "dsn 2026-03-02 4.2.2, 3 soft bounces"
    counted = [line.split("\t")[-1] for line in lines if line.startswith("soft bounce\tm")]
    assert counted == [
        "counted (soft bounce 1 of 3)",  # m0, issue 1
        "counted (soft bounce 1 of 3)",  # m1
        "counted (soft bounce 1 of 3)",  # m2
        "counted (soft bounce 1 of 3)",  # m2 again about issue 1: one issue counts once
        "counted (soft bounce 2 of 3)",  # m0, issue 2
        "counted (soft bounce 2 of 3)",  # m1
        "counted (soft bounce 2 of 3)",  # m2 (the block of issue 2 counts nothing)
        "suppressed (bounced: dsn 2026-03-02 4.2.2, 3 soft bounces) (soft bounce 3 of 3)",  # m0, issue 3
        "counted (soft bounce 1 of 3)",  # m1, issue 4: issue 3 was accepted in between
    ]


def test_the_soft_bounce_limit_is_configurable(project, project_env, smtp_sink_factory):
    (project / "newsletter.toml").write_text(
        (project / "newsletter.toml").read_text(encoding="utf-8") + "\n[inbox]\nsoft_bounces = 1\n",
        encoding="utf-8",
    )
    use_bounce_address(project, verp=True)
    write_members(project, 1)
    sink = smtp_sink_factory(keep_data=False)
    maildir = project / "bounces"
    config = config_for(project, {**sink_env(project_env, sink), "NEWSLETTER_INBOX": str(maildir)})
    run_send(config, copy_issue(project, ISSUES[0]), ["all"], clock=FakeClock(), parts=send_parts(config))
    deliver(maildir, _report(SOFT, config, rows(config, ISSUES[0])["m0@example.org"], 1))
    result = inbox_once(config, echo=lambda _line: None)
    assert dict(result.suppressed) == {"bounced": 1}
    assert suppressions(config).get("m0@example.org").source == "dsn 2026-03-02 4.2.2, 1 soft bounce"
