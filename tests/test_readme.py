"""The README is checked like code: every command and option it shows exists."""

from __future__ import annotations

import re
import subprocess
import sys

import click
import pytest
from conftest import REPO

from newsletter.cli import COMMANDS, main

README = (REPO / "README.md").read_text(encoding="utf-8")
# `newsletter WORD` at the start of a code span or of a line in a code block / indented example.
USED = sorted(set(re.findall(r"(?m)(?:^\s*(?:\$ )?|`)newsletter ([a-z][a-z-]+)", README)))


def test_the_readme_starts_with_the_two_commands() -> None:
    head = README[: README.index("### The pipeline")]
    assert "make demo" in head and "make test" in head


@pytest.mark.parametrize("command", USED)
def test_every_command_the_readme_shows_exists(command: str) -> None:
    assert command in COMMANDS, f"README mentions `newsletter {command}`, which does not exist"


@pytest.mark.parametrize(
    ("command", "options"),
    [
        (name, sorted(set(re.findall(rf"newsletter {name}\b[^\n`]*", README))))
        for name in ("send", "build", "suppress", "preview", "schedule", "subscribers", "import")
    ],
)
def test_options_the_readme_shows_exist(command: str, options: list[str]) -> None:
    ctx = click.Context(main)
    cmd = main.get_command(ctx, command)
    assert cmd is not None
    known: set[str] = set()
    stack = [cmd]
    while stack:  # groups (schedule, subscribers) contribute their subcommands' options too
        current = stack.pop()
        for param in current.params:
            known.update(param.opts)
        if isinstance(current, click.Group):
            stack.extend(current.commands.values())
    for line in options:
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", line):
            assert option in known, (
                f"README: `{line.strip()}` uses {option}, unknown to `newsletter {command}`"
            )


def test_the_readme_says_how_many_tests_there_are() -> None:
    """ "make test runs everything (N tests, …)": N within 10 % of what pytest collects, so the figure
    stays true while tests are added, and a stale one fails."""
    said = re.search(r"runs everything \(([\d,]+) tests", README)
    assert said is not None, "the Tests section names the number of tests"
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    found = re.search(r"^(\d+) tests? collected", collected.stdout, re.MULTILINE)
    assert found is not None, collected.stdout[-2000:] + collected.stderr
    count, claimed = int(found[1]), int(said[1].replace(",", ""))
    assert abs(claimed - count) <= count / 10, f"README says {claimed} tests, pytest collects {count}"
