"""Two (or four) `newsletter schedule` commands for one issue and segment at the same moment
(issue 10, item 24): the database keeps exactly one, the others get the usual refusal.

The commands are real processes parked after their pre-flight check and released together
(tests/race_rig.py), on a database file that does not exist yet: the schema is created in the
same race."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
import race_rig
from delivery_rig import SLUG, copy_issue, write_members
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from newsletter.config import Config, load_config
from newsletter.edges import state_database
from newsletter.model import RefusedError
from newsletter.schedule.plans import Request, create_schedule
from newsletter.store.db import engine_for
from newsletter.store.schedules import list_schedules
from newsletter.store.tables import schedules

ACTIVE = ("scheduled", "running", "held")


def _race(project: Path, env: dict[str, str], barrier: Path, count: int, *args: str):
    procs = race_rig.start(
        count, barrier, "newsletter.schedule.plans:_check_preflight", ["schedule", SLUG, *args], env, project
    )
    assert race_rig.release_when_parked(procs, barrier) == count
    return race_rig.finish(procs)


@pytest.mark.parametrize("count", [2, 4])
def test_racing_schedule_commands_store_exactly_one(project, project_env, tmp_path: Path, count: int) -> None:
    copy_issue(project)
    write_members(project, 6)
    results = _race(
        project, project_env, tmp_path / "barrier", count, "--to", "poland", "--at", "2027-07-15T09:00"
    )
    for _code, out, err in results:
        assert "Traceback" not in out + err, err
    winners = [r for r in results if r[0] == 0]
    losers = [r for r in results if r[0] != 0]
    assert len(winners) == 1, results
    ((_, won_out, _),) = winners
    (scheduled_id,) = {
        line.split()[1].strip("#:") for line in won_out.splitlines() if line.startswith("scheduled #")
    }
    for code, out, err in losers:
        assert code == 2 and out == ""
        assert err.splitlines() == [
            f"error: {SLUG} is already scheduled for poland (#{scheduled_id}, scheduled, 2027-07-15 07:00 UTC); "
            f"to replace it: `newsletter schedule cancel {scheduled_id}`"
        ]
    config = load_config(project, project_env)
    active = [s for s in list_schedules(state_database(config)) if s.state in ACTIVE]
    assert [(s.issue, s.segment) for s in active] == [(SLUG, "poland")]


def test_racing_per_member_timezone_commands_store_one_set_of_jobs(
    project, project_env, tmp_path: Path
) -> None:
    copy_issue(project)
    (project / "subscribers.csv").write_text(
        "email,language,segments,timezone\na@example.org,en,usa,America/Chicago\nb@example.org,en,usa,\n",
        encoding="utf-8",
    )
    results = _race(
        project, project_env, tmp_path / "barrier", 3,
        "--to", "usa", "--at", "2027-07-15T09:00", "--per-member-timezone",
    )  # fmt: skip
    assert sorted(code for code, _, _ in results) == [0, 2, 2], results
    assert all("Traceback" not in err for _, _, err in results)
    config = load_config(project, project_env)
    zones = sorted(
        s.member_timezone or "" for s in list_schedules(state_database(config)) if s.state in ACTIVE
    )
    assert zones == ["America/Chicago", "America/New_York"]


def test_the_database_itself_refuses_a_second_active_schedule(config: Config, project: Path) -> None:
    """What the race relies on: the unique index, not the check before the insert."""
    copy_issue(project)
    write_members(project, 3)
    create_schedule(config, Request(SLUG, "poland", "2027-07-15T09:00"))
    engine = engine_for(config.database_url)
    row = dict(engine.connect().execute(select(schedules)).mappings().one())
    row.pop("id")
    with pytest.raises(IntegrityError, match="UNIQUE|unique|duplicate"), engine.begin() as conn:
        conn.execute(schedules.insert().values(**row))
    with engine.begin() as conn:  # a cancelled or done row no longer counts
        conn.execute(schedules.update().values(state="cancelled"))
        conn.execute(schedules.insert().values(**row))
    with pytest.raises(RefusedError, match="already scheduled for poland"):
        create_schedule(config, Request(SLUG, "poland", "2027-07-16T09:00"))


OLD_SCHEDULES = """CREATE TABLE schedules (
    id INTEGER NOT NULL PRIMARY KEY, issue VARCHAR(200) NOT NULL, segment VARCHAR(100) NOT NULL,
    issue_path TEXT, member_timezone VARCHAR(64), at_utc DATETIME NOT NULL,
    local_zone VARCHAR(64) NOT NULL, state VARCHAR(20) NOT NULL, message TEXT,
    created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL)"""
OLD_ROW = (
    "INSERT INTO schedules (issue, segment, at_utc, local_zone, state, created_at, updated_at) VALUES "
    "('old-issue', 'poland', '2027-07-15 07:00:00', 'Europe/Warsaw', 'scheduled', "
    "'2027-01-01 00:00:00', '2027-01-01 00:00:00')"
)


def _old_database(path: Path, rows: int) -> str:
    with sqlite3.connect(path) as conn:
        conn.execute(OLD_SCHEDULES)
        for _ in range(rows):
            conn.execute(OLD_ROW)
    return f"sqlite:///{path}"


def _index_names(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")]


def test_a_database_from_before_the_index_gets_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine_for(_old_database(path, rows=1))
    assert "uq_schedules_active" in _index_names(path)


def test_an_old_database_holding_the_duplicates_still_opens_and_says_so(tmp_path: Path, caplog) -> None:
    path = tmp_path / "old-with-duplicates.db"
    caplog.set_level(logging.WARNING, logger="newsletter.db")
    engine_for(_old_database(path, rows=2))
    assert "uq_schedules_active" not in _index_names(path)
    assert "holds two active schedules of the same issue and segment" in caplog.text
