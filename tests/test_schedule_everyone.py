"""Every member can be scheduled (issue 10, item 7): `schedule --to all` (every member, at the zone
of `[newsletter] timezone`), `--to general` (only the members in no segment), and `send --dry-run`
naming the members a choice of segments leaves out. The example list has 19 members, 4 of them
in no segment: the README's typical month must reach all 19."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink / test_schedule_process)
from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO
from delivery_rig import SLUG, config_for, run_cli, sink_env, states
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)
from test_schedule_process import make_rig  # noqa: F401  (fixture: real scheduler processes)

from newsletter.audience import read_members
from newsletter.cli import main
from newsletter.cli.schedule import format_table
from newsletter.config import load_config
from newsletter.edges import state_database
from newsletter.store.schedules import list_schedules

EXAMPLE_MEMBERS = REPO / "subscribers.example.csv"
NO_SEGMENT = {
    "thomas.mueller@example.com",
    "sabine.koenig@example.org",
    "stefan.hoffmann@example.com",
    "tomasz.lewandowski@example.org",
}


def _set_default_zone(project: Path, zone: str) -> None:
    """``timezone`` under [newsletter] (the first key of that name in the file; segments follow)."""
    toml = project / "newsletter.toml"
    text = toml.read_text(encoding="utf-8")
    text, n = re.subn(r'(?m)^timezone = "[^"]*"', f'timezone = "{zone}"', text, count=1)
    if not n:
        text = text.replace("[newsletter]\n", f'[newsletter]\ntimezone = "{zone}"\n', 1)
    toml.write_text(text, encoding="utf-8")


@pytest.fixture
def run(project: Path, project_env: dict[str, str], example_issue: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(project)
    shutil.copy(EXAMPLE_MEMBERS, project / "subscribers.csv")
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, list(args), env=project_env, catch_exceptions=False)

    return invoke


def test_schedule_to_all_is_at_the_default_zone_of_newsletter_toml(run) -> None:  # type: ignore[no-untyped-def]
    result = run("schedule", SLUG, "--to", "all", "--at", "2027-07-15T09:00")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        f"scheduled #1: {SLUG} to all at 2027-07-15 09:00 CEST Europe/Berlin = 2027-07-15 09:00 CEST "
        "Europe/Berlin = 2027-07-15 07:00 UTC"
    )
    listed = run("schedule", "list").output.splitlines()
    assert listed[1].split()[:7] == ["1", SLUG, "all", "2027-07-15", "09:00", "CEST", "Europe/Berlin"]


def test_the_default_zone_is_the_timezone_key_under_newsletter(run, project: Path) -> None:  # type: ignore[no-untyped-def]
    _set_default_zone(project, "Europe/Lisbon")
    result = run("schedule", SLUG, "--to", "general", "--at", "2027-07-15T09:00")
    assert result.exit_code == 0, result.output
    assert (
        "to general at 2027-07-15 09:00 WEST Europe/Lisbon = 2027-07-15 10:00 CEST Europe/Berlin"
        in result.output
    )


def test_an_unknown_default_zone_is_refused(run, project: Path) -> None:  # type: ignore[no-untyped-def]
    _set_default_zone(project, "Europe/Chemnitz")
    result = run("schedule", "list")
    assert result.exit_code == 2 and "unknown time zone 'Europe/Chemnitz'" in result.output


def test_to_all_next_to_a_segment_schedule_says_who_gets_which(run) -> None:  # type: ignore[no-untyped-def]
    assert run("schedule", SLUG, "--to", "poland", "--at", "2027-07-15T09:00").exit_code == 0
    result = run("schedule", SLUG, "--to", "all", "--at", "2027-07-15T18:00")
    assert result.exit_code == 0, result.output
    assert (
        "note: also scheduled for this issue: #1 poland at 2027-07-15 09:00 CEST Europe/Warsaw; each member "
        "gets the issue once, from whichever schedule fires first" in result.output
    )
    again = run("schedule", SLUG, "--to", "all", "--at", "2027-07-16T09:00")
    assert again.exit_code == 2 and "already scheduled for all (#2" in again.output


def test_an_unknown_segment_names_all_and_general_too(run) -> None:  # type: ignore[no-untyped-def]
    result = run("schedule", SLUG, "--to", "alle", "--at", "2027-07-15T09:00")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: unknown segment 'alle' (known: poland, usa); or --to all (every member) "
        "or --to general (the members in no segment)"
    )


def test_per_member_timezone_to_all_uses_each_members_zone_then_their_segments(run) -> None:  # type: ignore[no-untyped-def]
    result = run("schedule", SLUG, "--to", "all", "--at", "2027-07-15T09:00", "--per-member-timezone")
    assert result.exit_code == 0, result.output
    zones = re.findall(r"for members in (\S+) at", result.output)
    # Europe/Berlin: no segment and no zone (4) plus lisa.becker (Europe/Berlin in the CSV);
    # America/Detroit: emily.johnson; the rest by their first segment in newsletter.toml.
    assert zones == ["America/Detroit", "America/New_York", "Europe/Berlin", "Europe/Warsaw"]


def test_dry_run_says_how_many_members_the_segments_leave_out(project, project_env, example_issue) -> None:
    shutil.copy(EXAMPLE_MEMBERS, project / "subscribers.csv")
    result = run_cli(["send", SLUG, "--to", "poland,usa", "--dry-run"], project_env, project)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-2].startswith("dry run: 15 of 15 members would get a message (")
    assert lines[-1] == (
        "note: 4 members are in no segment you named and get nothing (no segment: 4): "
        "add --to all, or --to poland,usa,general"
    )
    assert not any(address in result.stdout for address in NO_SEGMENT)
    only_poland = run_cli(["send", SLUG, "--to", "poland", "--dry-run"], project_env, project)
    assert only_poland.stdout.splitlines()[-1] == (
        "note: 10 members are in no segment you named and get nothing (usa: 6, no segment: 4): "
        "add --to all, or --to poland,usa,general"
    )
    everyone = run_cli(["send", SLUG, "--to", "all", "--dry-run"], project_env, project)
    assert everyone.stdout.splitlines()[-1].startswith("dry run: 19 of 19 members would get a message")


def test_general_sends_only_the_members_in_no_segment_and_then_nobody_is_left(
    project, project_env, example_issue, smtp_sink_factory
) -> None:
    shutil.copy(EXAMPLE_MEMBERS, project / "subscribers.csv")
    sink = smtp_sink_factory()
    env = sink_env(project_env, sink)
    first = run_cli(["send", SLUG, "--to", "poland,usa", "--yes"], env, project)
    assert first.returncode == 0, first.stderr
    assert (
        "note: 4 members are in no segment you named and get nothing (no segment: 4): "
        "add --to all, or --to poland,usa,general"
    ) in first.stderr.splitlines()
    general = run_cli(["send", SLUG, "--to", "general", "--yes"], env, project)
    assert general.returncode == 0, general.stderr
    received = sink.received_by_address()
    assert len(received) == 19 and set(received.values()) == {1}
    assert {r for m in sink.messages[-4:] for r in m.rcpt_tos} == NO_SEGMENT
    assert states(config_for(project, env)) == {"sent": 19}
    dry = run_cli(["send", SLUG, "--to", "poland", "--dry-run"], env, project)
    assert "note:" not in dry.stdout  # the others already have it: nobody is left out any more


def test_the_readme_typical_month_reaches_every_example_member(project, project_env) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    month = readme[readme.index("A typical month") :]
    month = month[: month.index("```", month.index("```") + 3)]
    targets = set()
    for segments in re.findall(r"newsletter schedule \S+ --to (\S+) --at", month):
        targets.update(segments.split(","))
    members = read_members(EXAMPLE_MEMBERS, load_config(project, project_env)).members
    reached = {
        m.address
        for m in members
        if "all" in targets or m.segments & targets or ("general" in targets and not m.segments)
    }
    assert len(members) == 19 and reached == {m.address for m in members}


def test_scheduled_poland_general_and_all_mail_everyone_once_each_at_its_schedules_time(make_rig) -> None:  # type: ignore[no-untyped-def]
    """A real scheduler: poland, then general, then an `all` catch-all. Poland's and the no-segment
    members get the issue at their schedules' times; `all` mails only those left (the usa-only
    members); nobody twice."""
    r = make_rig(members=0)
    shutil.copy(EXAMPLE_MEMBERS, r.root / "subscribers.csv")
    config = r.config()
    members = read_members(config.subscribers, config).members
    poland_members = {m.address for m in members if "poland" in m.segments}
    s = r.scheduler()
    s.wait_log("scheduler started")
    now = datetime.now(UTC)
    poland = r.schedule(now + timedelta(seconds=2))
    ids = {}
    for segment, seconds in (("general", 4), ("all", 8)):
        at = (now + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")
        result = run_cli(["schedule", SLUG, "--to", segment, "--at", at], r.env, r.root)
        assert result.returncode == 0, result.stderr
        ids[segment] = int(result.stdout.split()[1].strip("#:"))
    for schedule_id in (poland.id, ids["general"], ids["all"]):
        r.wait_state(schedule_id, ("done",), timeout=40)
    assert s.stop() == 0
    got = r.sink.received_by_address()
    assert set(got) == {m.address for m in members} and set(got.values()) == {1}
    order = [m.rcpt_tos[0] for m in r.sink.messages]
    assert set(order[:9]) == poland_members and set(order[9:13]) == NO_SEGMENT
    assert max(sorted(r.stamps)[:13]) < (now + timedelta(seconds=8)).timestamp()
    table = "\n".join(format_table(list_schedules(state_database(r.config()))))
    assert re.search(rf"\n{ids['all']} +{SLUG} +all .* done +audience 19: sent 6\b", table), table
