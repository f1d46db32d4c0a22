"""`newsletter schedule ISSUE …`, `schedule list`, `schedule cancel`: exact output and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter.cli import main
from newsletter.config import Config
from newsletter.edges import state_database
from newsletter.schedule.plans import member_zones, members_in_zone
from newsletter.store.schedules import describe_schedules

SLUG = "2022-03-laenderfokus"


@pytest.fixture
def run(project: Path, project_env: dict[str, str], example_issue: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(project)
    for key in ("NEWSLETTER_CONFIG", "NEWSLETTER_SMTP_HOST", "NEWSLETTER_SMTP_PORT"):
        monkeypatch.delenv(key, raising=False)
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, list(args), env=project_env, catch_exceptions=False)

    return invoke


def test_schedule_stores_the_utc_instant_of_the_segments_local_time(run) -> None:  # type: ignore[no-untyped-def]
    result = run("schedule", SLUG, "--to", "poland", "--at", "2027-07-15T09:00")
    assert result.exit_code == 0, result.output
    assert (
        "scheduled #1: 2022-03-laenderfokus to poland at 2027-07-15 09:00 CEST Europe/Warsaw" in result.output
    )
    assert "= 2027-07-15 07:00 UTC" in result.output
    assert "cancel with `newsletter schedule cancel 1`" in result.output
    result = run("schedule", SLUG, "--to", "usa", "--at", "2027-01-15T09:00")
    assert result.exit_code == 0, result.output
    assert (
        "09:00 EST America/New_York = 2027-01-15 15:00 CET Europe/Berlin = 2027-01-15 14:00 UTC"
        in result.output
    )


def test_list_shows_local_berlin_and_utc_times(run) -> None:  # type: ignore[no-untyped-def]
    run("schedule", SLUG, "--to", "usa", "--at", "2027-07-15T09:00")
    run("schedule", f"issues/{SLUG}", "--to", "poland", "--at", "2027-01-15T09:00")
    result = run("schedule", "list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "ISSUE", "SEGMENT", "LOCAL", "BERLIN", "UTC", "STATE", "MESSAGE"]
    assert lines[1].split() == [
        "2", SLUG, "poland", "2027-01-15", "09:00", "CET", "Europe/Warsaw",
        "2027-01-15", "09:00", "CET", "2027-01-15", "08:00", "scheduled",
    ]  # fmt: skip
    assert lines[2].split() == [
        "1", SLUG, "usa", "2027-07-15", "09:00", "EDT", "America/New_York",
        "2027-07-15", "15:00", "CEST", "2027-07-15", "13:00", "scheduled",
    ]  # fmt: skip


def test_tz_option_and_explicit_offset(run) -> None:  # type: ignore[no-untyped-def]
    result = run("schedule", SLUG, "--to", "usa", "--at", "2027-07-15T09:00", "--tz", "America/Chicago")
    assert result.exit_code == 0, result.output
    assert "2027-07-15 14:00 UTC" in result.output
    result = run("schedule", SLUG, "--to", "poland", "--at", "2027-07-15T09:00+02:00")
    assert "2027-07-15 07:00 UTC" in result.output


def test_duplicate_is_refused_and_says_how_to_cancel(run) -> None:  # type: ignore[no-untyped-def]
    assert run("schedule", SLUG, "--to", "poland", "--at", "2027-07-15T09:00").exit_code == 0
    result = run("schedule", SLUG, "--to", "Poland", "--at", "2027-07-16T09:00")
    assert result.exit_code == 2
    assert "already scheduled for poland (#1, scheduled, 2027-07-15 07:00 UTC)" in result.output
    assert "`newsletter schedule cancel 1`" in result.output
    result = run("schedule", "cancel", "1")
    assert result.exit_code == 0
    assert (
        "cancelled #1: 2022-03-laenderfokus to poland at 2027-07-15 09:00 CEST Europe/Warsaw" in result.output
    )
    assert run("schedule", SLUG, "--to", "poland", "--at", "2027-07-16T09:00").exit_code == 0
    listed = run("schedule", "list").output
    assert "cancelled  cancelled at" in listed


def test_cancel_unknown_or_twice(run) -> None:  # type: ignore[no-untyped-def]
    result = run("schedule", "cancel", "42")
    assert result.exit_code == 1
    assert result.output.strip() == "error: no schedule #42; see `newsletter schedule list`"
    run("schedule", SLUG, "--to", "poland", "--at", "2027-07-15T09:00")
    run("schedule", "cancel", "1")
    result = run("schedule", "cancel", "1")
    assert result.exit_code == 1
    assert "schedule #1 is already cancelled" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--to", "usa", "--at", "2026-03-08T02:30"], "does not exist in America/New_York"),
        (
            ["--to", "usa", "--at", "2026-03-08T02:30"],
            "01:59 EST (06:59 UTC) or 2026-03-08 03:00 EDT (07:00 UTC)",
        ),
        (
            ["--to", "poland", "--at", "2026-10-25T02:30", "--tz", "Europe/Berlin"],
            "2026-10-25 00:30 UTC (CEST",
        ),
        (
            ["--to", "poland", "--at", "2026-10-25T02:30", "--tz", "Europe/Berlin"],
            "2026-10-25 01:30 UTC (CET",
        ),
        (["--to", "poland", "--at", "2020-01-15T09:00"], "is in the past"),
        (["--to", "mars", "--at", "2027-01-15T09:00"], "unknown segment 'mars' (known: poland, usa)"),
        (["--to", "poland,usa", "--at", "2027-01-15T09:00"], "schedule one segment per command"),
        (["--to", "poland", "--at", "next monday"], "is not an ISO 8601 date and time"),
        (["--to", "poland", "--at", "2027-01-15T09:00", "--tz", "Europe/Chemnitz"], "unknown time zone"),
    ],
)
def test_refusals_exit_2_with_one_line(run, args: list[str], expected: str) -> None:  # type: ignore[no-untyped-def]
    result = run("schedule", SLUG, *args)
    assert result.exit_code == 2
    assert expected in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "no schedules" in run("schedule", "list").output


def test_an_issue_failing_preflight_is_refused(run, example_issue: Path) -> None:  # type: ignore[no-untyped-def]
    issue_md = example_issue / "issue.md"
    issue_md.write_text(issue_md.read_text(encoding="utf-8").replace("title:", "titel:", 1), encoding="utf-8")
    result = run("schedule", SLUG, "--to", "poland", "--at", "2027-01-15T09:00")
    assert result.exit_code == 2
    assert "issue.md" in result.output
    assert result.output.strip().splitlines()[-1] == (
        f"error: not scheduled: {SLUG} fails the pre-flight check; fix it (`newsletter check {SLUG}`)"
    )
    result = run("schedule", "no-such-issue", "--to", "poland", "--at", "2027-01-15T09:00")
    assert result.exit_code == 2
    assert "no issue here" in result.output


def test_describe_schedules_for_status(run, config: Config) -> None:  # type: ignore[no-untyped-def]
    run("schedule", SLUG, "--to", "poland", "--at", "2027-01-15T09:00")
    run("schedule", SLUG, "--to", "usa", "--at", "2027-01-15T09:00")
    lines = [str(info) for info in describe_schedules(state_database(config), SLUG)]
    assert lines == [
        "#1 poland: 2027-01-15 09:00 CET Europe/Warsaw (2027-01-15 08:00 UTC) scheduled",
        "#2 usa: 2027-01-15 09:00 EST America/New_York (2027-01-15 14:00 UTC) scheduled",
    ]
    assert describe_schedules(state_database(config), "other-issue") == []


def test_member_zones_default_to_the_segments(config: Config, project: Path) -> None:
    (project / "subscribers.csv").write_text(
        "email,language,segments,timezone\n"
        "a@example.org,en,usa,America/Chicago\n"
        "b@example.org,en,usa,\n"
        "c@example.org,en,usa|poland,America/New_York\n"
        "e@example.org,en,poland,Asia/Tokyo\n",
        encoding="utf-8",
    )
    assert member_zones(config, "usa", "America/New_York") == ["America/Chicago", "America/New_York"]
    assert members_in_zone(config, "usa", "America/New_York", "America/New_York") == {
        "b@example.org",
        "c@example.org",
    }
    assert member_zones(config, "poland", "Europe/Warsaw") == ["America/New_York", "Asia/Tokyo"]


def test_per_member_timezone_makes_one_job_per_zone(run, project: Path) -> None:  # type: ignore[no-untyped-def]
    (project / "subscribers.csv").write_text(
        "email,language,segments,timezone\n"
        "a@example.org,en,usa,America/Chicago\n"
        "b@example.org,en,usa,\n"
        "c@example.org,en,usa,America/Los_Angeles\n"
        "d@example.org,en,usa,America/New_York\n"
        "e@example.org,en,poland,Asia/Tokyo\n",
        encoding="utf-8",
    )
    result = run("schedule", SLUG, "--to", "usa", "--at", "2027-01-15T09:00", "--per-member-timezone")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "for members in America/Chicago at 2027-01-15 09:00 CST America/Chicago" in out
    assert "= 2027-01-15 15:00 UTC" in out
    assert "for members in America/Los_Angeles" in out and "= 2027-01-15 17:00 UTC" in out
    assert "for members in America/New_York" in out and "= 2027-01-15 14:00 UTC" in out
    assert "Asia/Tokyo" not in out
    assert "cancel with `newsletter schedule cancel 1 2 3`" in out
    result = run("schedule", SLUG, "--to", "usa", "--at", "2027-01-16T09:00")
    assert result.exit_code == 2 and "schedule cancel 1 2 3" in result.output


def test_help_and_usage(run) -> None:  # type: ignore[no-untyped-def]
    result = run("schedule", "--help")
    assert result.exit_code == 0
    assert "schedule ISSUE --to SEGMENT --at DATETIME" in result.output
    assert "list" in result.output and "cancel" in result.output
    assert run("schedule", "list", "--help").exit_code == 0


def test_status_shows_the_schedule_and_the_approval_before_anything_is_sent(run) -> None:  # type: ignore[no-untyped-def]
    run("schedule", SLUG, "--to", "poland", "--at", "2027-01-15T09:00")
    run("approve", SLUG, "--by", "Anna Schmidt")
    result = run("status", SLUG)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        lines[0] == "schedule #1 poland: 2027-01-15 09:00 CET Europe/Warsaw (2027-01-15 08:00 UTC) scheduled"
    )
    assert lines[1].startswith("approval: by Anna Schmidt on ")
    assert lines[1].endswith("; content unchanged")
    assert lines[2] == f"{SLUG}: nothing sent yet"


def test_the_segment_zone_job_takes_members_whose_zone_has_no_job(config: Config, project: Path) -> None:
    (project / "subscribers.csv").write_text(
        "email,language,segments,timezone\n"
        "a@example.org,en,usa,America/Chicago\n"
        "b@example.org,en,usa,\n"
        "d@example.org,en,usa,America/Denver\n",  # joined after the jobs were made
        encoding="utf-8",
    )
    scheduled = {"America/Chicago", "America/New_York"}
    ny = members_in_zone(config, "usa", "America/New_York", "America/New_York", scheduled)
    chicago = members_in_zone(config, "usa", "America/New_York", "America/Chicago", scheduled)
    assert ny == {"b@example.org", "d@example.org"}
    assert chicago == {"a@example.org"}
