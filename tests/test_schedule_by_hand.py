"""`newsletter send` by hand while schedules of the issue exist (issue 10, item 19): a warning
naming them, `--yes` required, and afterwards the schedules whose members all got the issue show
`done (sent by hand)` in `schedule list` and `status`; the scheduler does not fire them."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink / test_schedule_process)
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import REPO
from delivery_rig import SLUG, run_cli, sink_env
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)
from test_schedule_process import make_rig  # noqa: F401  (fixture: real scheduler processes)

from newsletter.cli.schedule import format_table
from newsletter.config import load_config
from newsletter.edges import state_database
from newsletter.store.schedules import list_schedules

EXAMPLE_MEMBERS = REPO / "subscribers.example.csv"
POLAND = "#1 poland at 2027-07-15 09:00 CEST Europe/Warsaw"
USA = "#2 usa at 2027-07-15 09:00 EDT America/New_York"
GENERAL = "#3 general at 2027-07-15 09:00 CEST Europe/Berlin"


@pytest.fixture
def scheduled(project: Path, project_env: dict[str, str], example_issue: Path, smtp_sink_factory):
    """The example members; poland, usa and general scheduled for 2027-07-15 09:00 local (listed
    earliest first: poland and general at 07:00 UTC, usa at 13:00 UTC); a sink."""
    shutil.copy(EXAMPLE_MEMBERS, project / "subscribers.csv")
    sink = smtp_sink_factory()
    env = sink_env(project_env, sink)
    for segment in ("poland", "usa", "general"):
        result = run_cli(["schedule", SLUG, "--to", segment, "--at", "2027-07-15T09:00"], env, project)
        assert result.returncode == 0, result.stderr
    return env, sink


def test_sending_a_scheduled_issue_without_a_terminal_and_without_yes_refuses_naming_the_schedules(
    project, scheduled
) -> None:
    env, sink = scheduled
    result = run_cli(["send", SLUG, "--to", "poland"], env, project)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {SLUG} is scheduled ({POLAND}, {GENERAL}, {USA}); to send it by hand now add --yes "
        "(the schedules whose members this send reaches are then marked done), or cancel them first: "
        "`newsletter schedule cancel 1 3 2`"
    ]
    assert not sink.messages


def test_with_yes_it_warns_sends_and_the_covered_schedules_show_done_sent_by_hand(project, scheduled) -> None:
    env, sink = scheduled
    result = run_cli(["send", SLUG, "--to", "poland,usa", "--yes"], env, project)
    assert result.returncode == 0, result.stderr
    err = result.stderr.splitlines()
    assert err[0] == (
        f"warning: {SLUG} is scheduled ({POLAND}, {GENERAL}, {USA}); sending it by hand now, "
        "the schedules whose members this send reaches are then marked done"
    )
    assert "done (sent by hand): #1 poland, #2 usa; still scheduled: #3 general" in err
    assert len(sink.received_by_address()) == 15
    by_hand = re.compile(
        rf"by `newsletter send {SLUG} --to poland,usa` \(send #1\), \d{{4}}-\d\d-\d\d \d\d:\d\d UTC"
    )
    listed = run_cli(["schedule", "list"], env, project).stdout.splitlines()
    rows = {line.split()[0]: line for line in listed[1:]}
    for schedule_id in ("1", "2"):
        state, message = re.split(r"\s{2,}", rows[schedule_id])[6:8]
        assert state == "done (sent by hand)" and by_hand.fullmatch(message), rows[schedule_id]
    assert re.split(r"\s{2,}", rows["3"])[6] == "scheduled"
    status = run_cli(["status", SLUG], env, project).stdout.splitlines()
    assert status[0].startswith(
        "schedule #1 poland: 2027-07-15 09:00 CEST Europe/Warsaw (2027-07-15 07:00 UTC) "
    )
    assert status[0].endswith(" done (sent by hand) — " + by_hand.search(status[0])[0])
    assert status[1].startswith("schedule #3 general: ") and status[1].endswith(" scheduled")
    assert status[2].startswith("schedule #2 usa: ") and " done (sent by hand) — by `" in status[2]

    general = run_cli(["send", SLUG, "--to", "general", "--yes"], env, project)
    assert general.returncode == 0, general.stderr
    assert general.stderr.splitlines()[0] == (
        f"warning: {SLUG} is scheduled ({GENERAL}); sending it by hand now, "
        "the schedules whose members this send reaches are then marked done"
    )
    assert "done (sent by hand): #3 general" in general.stderr.splitlines()
    assert len(sink.received_by_address()) == 19 and set(sink.received_by_address().values()) == {1}


def test_a_send_that_reaches_only_part_of_a_schedules_members_leaves_it_scheduled(project, scheduled) -> None:
    env, sink = scheduled
    result = run_cli(["send", SLUG, "--to", "usa", "--yes"], env, project)
    assert result.returncode == 0, result.stderr
    # members in both poland and usa got it; the poland-only members are still to be mailed at 09:00
    assert "done (sent by hand): #2 usa; still scheduled: #1 poland, #3 general" in result.stderr
    states = {s.id: s.state for s in list_schedules(state_database(load_config(project, env)))}
    assert states == {1: "scheduled", 2: "done", 3: "scheduled"}


def test_on_a_terminal_the_warning_comes_before_the_question(project, scheduled) -> None:
    env, sink = scheduled
    controller, terminal = os.openpty()
    full = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")} | env
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "send", SLUG, "--to", "poland"],
        env=full,
        cwd=project,
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(terminal)
    os.write(controller, b"n\n")
    out, err = proc.communicate(timeout=60)
    os.close(controller)
    assert proc.returncode == 2
    assert err.splitlines()[0].startswith(f"warning: {SLUG} is scheduled ({POLAND}, {GENERAL}, {USA})")
    assert "Send to 9 members via" in out
    assert (
        "note: 10 members are in no segment you named and get nothing (usa: 6, no segment: 4): "
        "add --to all, or --to poland,usa,general"
    ) in out.splitlines()  # the confirmation names whom --to leaves out, too
    assert err.splitlines()[-1] == "error: not sent (answered no)"
    assert not sink.messages and all(
        s.state == "scheduled" for s in list_schedules(state_database(load_config(project, env)))
    )


def test_the_running_scheduler_drops_a_schedule_sent_by_hand(make_rig) -> None:  # type: ignore[no-untyped-def]
    r = make_rig(members=12)
    s = r.scheduler()
    s.wait_log("scheduler started")
    info = r.schedule(datetime.now(UTC) + timedelta(minutes=10))
    s.wait_log(f"picked up #{info.id}")
    assert _jobs(r) == [f"schedule-{info.id}"]
    result = run_cli(["send", SLUG, "--to", "poland", "--yes"], r.env, r.root)
    assert result.returncode == 0, result.stderr
    s.wait_log(f"dropped #{info.id}: sent by hand")
    assert _jobs(r) == []  # nothing left in APScheduler's job store to fire
    assert s.stop() == 0
    assert f"start #{info.id}:" not in s.text()
    got = r.sink.received_by_address()
    assert sorted(got) == sorted(r.members) and set(got.values()) == {1}
    table = "\n".join(format_table(list_schedules(state_database(r.config()))))
    assert re.search(
        rf"(?m)^{info.id} .* done \(sent by hand\)  by `newsletter send {SLUG} --to poland`", table
    )


def _jobs(r) -> list[str]:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from newsletter.store.db import engine_for

    with engine_for(r.config().database_url).connect() as conn:
        return [row.id for row in conn.execute(text("SELECT id FROM apscheduler_jobs ORDER BY id"))]
