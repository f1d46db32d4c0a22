"""`newsletter send` shows the warnings `check` and `subscribers check` show: in the dry run and
before the confirmation question, each as one line on stderr, and in the report of a run with --yes."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from delivery_rig import SLUG, config_for, copy_issue, run_cli, sink_env, states, write_members
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)

from newsletter.audience import read_members
from newsletter.preflight import check_issue


@pytest.fixture
def issue(project: Path) -> Path:
    return copy_issue(project)


def _members_with_warnings(project: Path) -> None:
    """Six members, a duplicate of one of them, and a name whose letters a Windows-1252 export lost."""
    write_members(project, 6)
    with (project / "subscribers.csv").open("a", encoding="ascii", newline="") as fh:
        fh.write("M1@Example.org,Doppelt,Name,,Firma,de,poland\r\n")
        fh.write("m9@example.org,Ma?gorzata,Wi?niewska,,Firma,pl,poland\r\n")


def _expected(project: Path, env: dict[str, str], issue: Path) -> list[str]:
    config = config_for(project, env)
    preflight = [str(p) for p in check_issue(issue, config).warnings]
    members = read_members(config.subscribers, config)
    listed = [str(p) for p in (*members.duplicates, *members.warnings)]
    assert len(preflight) == 2 and len(listed) == 3  # two fallbacks; one duplicate, two '?' cells
    return preflight + listed


def test_dry_run_prints_the_warnings_before_the_plan(project, project_env, issue, smtp_sink_factory):
    _members_with_warnings(project)
    env = sink_env(project_env, smtp_sink_factory())
    expected = _expected(project, env, issue)
    checked = run_cli(["check", SLUG], env, project)
    assert [line for line in checked.stdout.splitlines() if ": warning: " in line] == expected[:2]
    listed = run_cli(["subscribers", "check"], env, project)  # names the file relative to the project
    assert {line.replace(f"{project}/", "") for line in expected[3:]} <= set(listed.stderr.splitlines())

    result = run_cli(["send", SLUG, "--to", "poland", "--dry-run"], env, project)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == expected
    assert "dry run: 6 of 6" in result.stdout


def test_a_run_with_yes_reports_the_warnings(project, project_env, issue, smtp_sink_factory):
    _members_with_warnings(project)
    sink = smtp_sink_factory(keep_data=False)
    env = sink_env(project_env, sink)
    result = run_cli(["send", SLUG, "--to", "poland", "--yes"], env, project)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[: len(expected := _expected(project, env, issue))] == expected
    assert "sent 6" in result.stdout and len(sink.received_by_address()) == 6


def test_the_confirmation_shows_the_warnings_before_the_question(
    project, project_env, issue, smtp_sink_factory
):
    _members_with_warnings(project)
    sink = smtp_sink_factory()
    env = sink_env(project_env, sink)
    expected = _expected(project, env, issue)
    terminal, answer = pty.openpty()  # the question needs a terminal on stdin
    try:
        full = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")} | env
        proc = subprocess.Popen(
            [sys.executable, "-m", "newsletter", "send", SLUG, "--to", "poland"],
            stdin=answer, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=project, env=full, text=True,
        )  # fmt: skip
        os.write(terminal, b"n\n")
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(terminal)
        os.close(answer)
    assert proc.returncode == 2, err
    assert err.splitlines()[: len(expected)] == expected
    assert "Send to 6 members via" in out and "not sent (answered no)" in err
    assert not sink.messages and states(config_for(project, env)) == {}
