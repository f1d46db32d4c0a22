"""``newsletter send`` / ``status``: exit codes, --dry-run, --test, and no password anywhere (FAULT-PLAN 23)."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import base64
import logging

import pytest
from click.testing import CliRunner
from delivery_rig import SLUG, config_for, copy_issue, run_cli, sink_env, states, write_members
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)

from newsletter.cli import main

PASSWORD = "S3cr3t-Passw0rd!"


@pytest.fixture
def issue(project):
    return copy_issue(project)


def test_send_exit_0_and_status(project, project_env, issue, smtp_sink_factory):
    write_members(project, 30)
    sink = smtp_sink_factory(keep_data=False)
    env = sink_env(project_env, sink)
    result = run_cli(["send", SLUG, "--to", "poland,usa", "--yes"], env, project)
    assert result.returncode == 0, result.stderr
    assert "sent 30" in result.stdout and len(sink.received_by_address()) == 30
    status = run_cli(["status", SLUG], env, project)
    assert status.returncode == 0
    lines = {line.split()[0]: line.split()[1:] for line in status.stdout.splitlines()[1:4]}
    assert lines["overall"][0] == "30" and lines["poland"][0] == "20" and lines["usa"][0] == "20"


def test_send_exit_1_lists_unknown_and_status_failed_shows_replies(
    project, project_env, issue, smtp_sink_factory
):
    write_members(project, 10)
    sink = smtp_sink_factory(drop_after={4})
    env = sink_env(project_env, sink)
    result = run_cli(["send", SLUG, "--to", "all", "--yes"], env, project)
    assert result.returncode == 1
    assert "unknown: m" in result.stderr and "--retry-failed" in result.stderr
    listed = run_cli(["status", SLUG, "--failed"], env, project)
    assert "unknown" in listed.stdout and "connection lost after the final dot" in listed.stdout


def test_send_refuses_without_a_terminal_and_without_yes(project, project_env, issue, smtp_sink_factory):
    write_members(project, 5)
    sink = smtp_sink_factory()
    result = run_cli(["send", SLUG, "--to", "all"], sink_env(project_env, sink), project)
    assert result.returncode == 2 and "--yes" in result.stderr and not sink.messages


def test_send_refuses_when_no_member_is_addressed(project, project_env, issue, smtp_sink_factory):
    write_members(project, 5, segments=lambda i: "poland")
    sink = smtp_sink_factory()
    result = run_cli(["send", SLUG, "--to", "usa", "--yes"], sink_env(project_env, sink), project)
    assert result.returncode == 2 and "no valid member" in result.stderr and not sink.messages


def test_send_refuses_on_preflight_errors(project, project_env, issue, smtp_sink_factory):
    write_members(project, 5)
    article = issue / "articles" / "netzwerk.de.md"
    article.write_text(article.read_text(encoding="utf-8").replace("title:", "titel:", 1), encoding="utf-8")
    sink = smtp_sink_factory()
    result = run_cli(["send", SLUG, "--to", "all", "--yes"], sink_env(project_env, sink), project)
    assert result.returncode == 2 and "netzwerk.de.md" in result.stderr and not sink.messages


def test_send_refuses_a_real_relay_without_secret(project, project_env, issue, smtp_sink_factory):
    write_members(project, 5)
    sink = smtp_sink_factory()
    env = sink_env(project_env, sink, NEWSLETTER_SMTP_USERNAME="user")
    env.pop("NEWSLETTER_SECRET")
    result = run_cli(["send", SLUG, "--to", "all", "--yes"], env, project)
    assert result.returncode == 2 and "NEWSLETTER_SECRET" in result.stderr and not sink.messages


def test_dry_run_prints_the_plan_and_changes_nothing(project, project_env, issue, smtp_sink_factory):
    write_members(project, 9)
    sink = smtp_sink_factory()
    env = sink_env(project_env, sink)
    result = run_cli(["send", SLUG, "--to", "poland", "--dry-run"], env, project)
    assert result.returncode == 0, result.stderr
    assert "m2@example.org\tpoland+usa.pl\twould send" in result.stdout
    assert "dry run: 6 of 6" in result.stdout
    assert not sink.messages and states(config_for(project, env)) == {}


def test_test_send_mails_only_the_listed_addresses(project, project_env, issue, smtp_sink_factory):
    write_members(project, 9)
    sink = smtp_sink_factory()
    env = sink_env(project_env, sink)
    result = run_cli(
        [
            "send",
            SLUG,
            "--to",
            "poland",
            "--test",
            "proof@example.org,editor@example.org",
            "--language",
            "en",
        ],
        env,
        project,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(sink.received_by_address()) == ["editor@example.org", "proof@example.org"]
    assert all(m.message()["Subject"].startswith("[TEST] ") for m in sink.messages)
    assert states(config_for(project, env)) == {}


def test_password_never_appears_in_output_logs_or_database(
    project, project_env, issue, smtp_sink_factory, monkeypatch, caplog
):
    write_members(project, 5)
    monkeypatch.chdir(project)
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    outputs = []
    for password in ("wrong-" + PASSWORD, PASSWORD):  # one AUTH failure, then a real send
        sink = smtp_sink_factory(tls="starttls", auth=("user", PASSWORD))
        env = sink_env(
            project_env,
            sink,
            NEWSLETTER_SMTP_SECURITY="starttls",
            NEWSLETTER_SMTP_USERNAME="user",
            NEWSLETTER_SMTP_PASSWORD=password,
            NEWSLETTER_SMTP_CA_FILE=sink.ca_file,
        )
        result = runner.invoke(main, ["send", SLUG, "--to", "all", "--yes"], env=env)
        outputs.append(result.output)
    assert "refused the login" in outputs[0] and "sent 5" in outputs[1]
    needles = [
        PASSWORD,
        base64.b64encode(f"\0user\0{PASSWORD}".encode()).decode(),
        base64.b64encode(PASSWORD.encode()).decode(),
    ]
    haystacks = (
        outputs + [caplog.text] + [p.read_bytes().decode("latin-1") for p in project.glob("state.db*")]
    )
    for needle in needles:
        assert not any(needle in h for h in haystacks)
