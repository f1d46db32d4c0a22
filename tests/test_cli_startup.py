"""Each command imports only what it uses (issue 11 item 5): the modules a whole process loads.

`newsletter --help` lists the commands from the table in newsletter/cli/__init__.py without
importing any command module; `build` needs no database, mail or web library; `subscribers
check` renders nothing. These are facts about imports, not timings (benchmarks/startup.py and
benchmarks/build.py print those).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from newsletter.cli import COMMANDS, main

# Runs `newsletter ARGS…` in a fresh interpreter, then writes every imported module's name to a file.
_RUN = """\
import json, sys
from newsletter.cli import main
try:
    main(sys.argv[2:], prog_name="newsletter")
except SystemExit:
    pass
with open(sys.argv[1], "w") as out:
    json.dump(sorted(sys.modules), out)
"""

IO_LIBRARIES = {
    "sqlalchemy",
    "email_validator",
    "starlette",
    "uvicorn",
    "apscheduler",
    "cryptography",
    "aiosmtpd",
}
RENDERING = {"jinja2", "mjml", "markdown_it", "nh3", "babel"}


def imported(
    tmp_path: Path, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> set[str]:
    listing = tmp_path / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", _RUN, str(listing), *args],
        cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert listing.exists(), result.stdout + result.stderr
    return set(json.loads(listing.read_text()))


def top_level(modules: set[str]) -> set[str]:
    return {name.partition(".")[0] for name in modules}


def test_help_lists_every_command_and_imports_no_command_module(tmp_path: Path) -> None:
    modules = imported(tmp_path, "--help")
    assert {m for m in modules if m.startswith("newsletter")} == {"newsletter", "newsletter.cli"}
    assert not top_level(modules) & (IO_LIBRARIES | RENDERING | {"yaml", "dotenv"})


def test_a_commands_own_help_imports_only_its_area(tmp_path: Path) -> None:
    modules = imported(tmp_path, "build", "--help")
    assert "newsletter.cli.content" in modules
    assert not top_level(modules) & (IO_LIBRARIES | RENDERING)
    assert not {m for m in modules if m.startswith(("newsletter.render", "newsletter.preflight"))}


def test_build_imports_no_database_mail_or_web_library(
    tmp_path: Path, project: Path, project_env: dict[str, str], example_issue: Path
) -> None:
    modules = imported(tmp_path, "build", example_issue.name, "--out", "out", cwd=project, env=project_env)
    assert (project / "out" / "all.de.html").is_file()
    assert not top_level(modules) & IO_LIBRARIES
    assert not {
        m for m in modules if m.startswith(("newsletter.preflight", "newsletter.mail", "newsletter.store"))
    }


def test_subscribers_check_renders_nothing(
    tmp_path: Path, project: Path, project_env: dict[str, str]
) -> None:
    members = project / "members.csv"
    members.write_text("email;first_name\nanna@example.com;Anna\n", encoding="utf-8")
    modules = imported(tmp_path, "subscribers", "check", str(members), cwd=project, env=project_env)
    assert "email_validator" in modules
    assert not top_level(modules) & (RENDERING | {"starlette", "uvicorn", "apscheduler", "cryptography"})
    # it reads the suppression list from the state database, and only that brings SQLAlchemy
    assert "newsletter.store.suppressions" in modules


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_command_table_says_what_each_commands_help_says(name: str) -> None:
    command = main.get_command(click.Context(main), name)
    assert command is not None
    assert command.name == name
    assert command.callback is not None
    assert command.callback.__module__ == f"newsletter.cli.{COMMANDS[name].module}"
    assert COMMANDS[name].summary == command.get_short_help_str(limit=1000)
