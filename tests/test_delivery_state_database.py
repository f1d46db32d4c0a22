"""The state database itself: one line instead of a traceback when it cannot be opened (issue 10,
item 20), and a brand-new database file that two sends create at the same moment (item 24)."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import race_rig
from conftest import FIXTURES
from delivery_rig import SLUG, config_for, copy_issue, run_cli, sink_env, states, write_members
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)
from sqlalchemy import select

from newsletter.store.db import engine_for
from newsletter.store.tables import locks, sends

NOT_A_DATABASE = FIXTURES / "database" / "state-db-that-is-a-csv-file.db"


def _url_in_a_missing_folder(project: Path) -> tuple[str, str]:
    return f"sqlite:///{project / 'no-such-folder' / 'state.db'}", (
        f"error: NEWSLETTER_DATABASE=sqlite:///{project / 'no-such-folder' / 'state.db'}: "
        f"cannot open the state database: the folder {project / 'no-such-folder'} does not exist; "
        "create it, or point NEWSLETTER_DATABASE at a file in an existing folder"
    )


def _url_of_a_file_that_is_not_a_database(project: Path) -> tuple[str, str]:
    target = project / "members.db"
    shutil.copy(NOT_A_DATABASE, target)
    return f"sqlite:///{target}", (
        f"error: NEWSLETTER_DATABASE=sqlite:///{target}: cannot open the state database: {target} is "
        "not an SQLite database (file is not a database); point NEWSLETTER_DATABASE at the state "
        "database, or at a new file name to start an empty one"
    )


def _a_path_instead_of_a_url(project: Path) -> tuple[str, str]:
    return "newsletter.db", (
        "error: NEWSLETTER_DATABASE=newsletter.db is not a database URL; write e.g. "
        "sqlite:///newsletter.db (a file in the project folder) or postgresql+psycopg://USER@HOST/DATABASE"
    )


def _an_unknown_database_kind(project: Path) -> tuple[str, str]:
    return "mongodb://127.0.0.1/newsletter", (
        "error: NEWSLETTER_DATABASE=mongodb://127.0.0.1/newsletter names an unknown kind of database "
        "('mongodb'); use sqlite:///FILE or postgresql+psycopg://USER@HOST/DATABASE"
    )


CASES = {
    "missing-folder": _url_in_a_missing_folder,
    "not-a-database": _url_of_a_file_that_is_not_a_database,
    "path-instead-of-url": _a_path_instead_of_a_url,
    "unknown-database-kind": _an_unknown_database_kind,
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", [["status", SLUG], ["schedule", "list"], ["suppressions"]])
def test_a_state_database_that_cannot_be_opened_is_one_line_exit_2(
    project, project_env, case: str, command: list[str]
) -> None:
    copy_issue(project)
    url, expected = CASES[case](project)
    result = run_cli(command, dict(project_env, NEWSLETTER_DATABASE=url), project)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "sqlalchemy" not in result.stderr.lower()
    assert result.stderr.splitlines() == [expected]
    assert result.stdout == ""


def test_a_password_in_the_database_url_is_not_printed(project, project_env) -> None:
    """Port 1 of the loopback answers nothing: whether the driver is installed or not, the one
    line names the URL with the password masked."""
    url = "postgresql+psycopg://user:S3cr3t@127.0.0.1:1/newsletter"
    result = run_cli(["status", SLUG], dict(project_env, NEWSLETTER_DATABASE=url), project)
    assert result.returncode == 2 and "S3cr3t" not in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(
        "error: NEWSLETTER_DATABASE=postgresql+psycopg://user:***@127.0.0.1:1/newsletter: "
    )


def test_two_sends_on_a_new_database_one_sends_the_other_refuses(
    project, project_env, smtp_sink_factory, tmp_path: Path
) -> None:
    """Both processes create the schema at the same moment (parked after the pre-flight check,
    released together); the loser of the send lease refuses with exit 2, never a traceback."""
    copy_issue(project)
    addresses = write_members(project, 12)
    sink = smtp_sink_factory(delays={"DATA": 0.2})  # the winner is still sending when the loser asks
    env = sink_env(project_env, sink)
    assert not Path(env["NEWSLETTER_DATABASE"].removeprefix("sqlite:///")).exists()
    procs = race_rig.start(
        2,
        tmp_path / "barrier",
        "newsletter.send.run:prepare_send",
        ["send", SLUG, "--to", "all", "--yes"],
        env,
        project,
    )
    assert race_rig.release_when_parked(procs, tmp_path / "barrier") == 2
    results = sorted(race_rig.finish(procs))
    for _code, _out, err in results:
        assert "Traceback" not in err and "already exists" not in err, err
    (won, won_out, won_err), (lost, _lost_out, lost_err) = results
    assert won == 0, won_err
    assert "sent 12" in won_out
    assert lost == 2
    assert lost_err.splitlines()[-1].startswith(
        f"error: issue '{SLUG}' is being sent by another process ("
    ), lost_err
    received = sink.received_by_address()
    assert sorted(received) == sorted(addresses) and set(received.values()) == {1}
    config = config_for(project, env)
    assert states(config) == {"sent": 12}
    with engine_for(config.database_url).connect() as conn:
        assert [r.state for r in conn.execute(select(sends.c.state))] == ["finished"]
        assert conn.execute(select(locks)).all() == []


def test_status_commands_racing_on_a_new_database_all_work(project, project_env, tmp_path: Path) -> None:
    copy_issue(project)
    write_members(project, 3)
    procs = race_rig.start(
        4, tmp_path / "barrier", "newsletter.cli.delivery:_slug", ["status", SLUG], project_env, project
    )
    race_rig.release_when_parked(procs, tmp_path / "barrier")
    for code, out, err in race_rig.finish(procs):
        assert (code, err) == (0, ""), err
        assert out.strip() == f"{SLUG}: nothing sent yet"
