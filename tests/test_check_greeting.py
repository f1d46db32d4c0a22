"""Issue 10 item 18: an intro that starts with its own greeting gets a warning; `new` says why."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import enter_project

from newsletter.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "check"


@pytest.fixture
def cli(project: Path, project_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    enter_project(monkeypatch, project, project_env)
    return CliRunner()


def _warning(greeting: str, salutation: str) -> str:
    return (
        f"warning: the intro starts with a greeting ('{greeting}'), but every mail already opens with the "
        f"member's salutation ('{salutation}'): remove it, or members read two greetings"
    )


def test_intro_starts_with_greeting_in_de_en_pl(cli: CliRunner, project: Path) -> None:
    case = "intro-starts-with-greeting"
    shutil.copytree(FIXTURES / case, project / "issues" / case)
    result = cli.invoke(main, ["check", case])
    assert result.exit_code == 0, result.output
    where = f"issues/{case}"
    assert result.stdout.splitlines() == [
        f"{where}/issue.md:7: {_warning('Liebe Mitglieder und Partner,', 'Sehr geehrte Frau Muster,')}",
        f"{where}/issue.en.md:5: {_warning('Dear members and partners,', 'Dear Ms Muster,')}",
        f"{where}/issue.pl.md:4: {_warning('Szanowni Państwo!', 'Szanowna Pani,')}",
        "0 error(s), 3 warning(s): ready to send",
    ]


@pytest.mark.parametrize(
    ("first_line", "shown"),
    [("Hallo zusammen,", "Hallo zusammen,"), ("Sehr geehrte Damen und Herren,", "Sehr geehrte Damen und Herren,"),
     ("Guten Tag!", "Guten Tag!"), ("Hello everyone, welcome", "Hello everyone,"),
     ("Drodzy Członkowie,", "Drodzy Członkowie,"), ("Dzień dobry,", "Dzień dobry,"),
     ("Lieber Herr Vogel, liebe Frau Schmidt,", "Lieber Herr Vogel,"),
     ("Hallo [[nl:first_name]],", "Hallo [[nl:first_name]],"), ("[[nl:salutation]]", "[[nl:salutation]]")],
)  # fmt: skip
def test_other_greetings_are_recognised(cli: CliRunner, project: Path, first_line: str, shown: str) -> None:
    case = "intro-starts-with-greeting"
    shutil.copytree(FIXTURES / case, project / "issues" / case)
    (project / "issues" / case / "issue.en.md").unlink()
    (project / "issues" / case / "issue.pl.md").unlink()
    text = (project / "issues" / case / "issue.md").read_text(encoding="utf-8")
    (project / "issues" / case / "issue.md").write_text(
        text.replace("Liebe Mitglieder und Partner,", first_line)
    )
    lines = cli.invoke(main, ["check", case]).stdout.splitlines()
    assert [line for line in lines if "greeting" in line] == [
        f"issues/{case}/issue.md:7: {_warning(shown, 'Sehr geehrte Frau Muster,')}"
    ]


def test_an_intro_without_greeting_and_greetings_in_articles_pass(
    cli: CliRunner, example_issue: Path
) -> None:
    result = cli.invoke(main, ["check", "2022-03-laenderfokus"])
    assert "greeting" not in result.stdout
    text = (example_issue / "issue.md").read_text(encoding="utf-8")
    (example_issue / "issue.md").write_text(
        text.replace("In diesem Jahr", "Lieber spät als nie: in diesem Jahr")
    )
    assert "greeting" not in cli.invoke(main, ["check", "2022-03-laenderfokus"]).stdout


def test_new_says_in_the_stub_that_the_salutation_is_automatic(
    cli: CliRunner, project: Path, example_issue: Path
) -> None:
    note = '# Die Anrede ("Sehr geehrte Frau Muster,") setzt das Programm selbst vor das Editorial: beginnen Sie ohne Anrede.'
    assert cli.invoke(main, ["new", "2027-04-fruehjahr"]).exit_code == 0
    assert (
        note
        in (project / "issues" / "2027-04-fruehjahr" / "issue.md").read_text(encoding="utf-8").splitlines()
    )
    assert cli.invoke(main, ["new", "2027-05-mai", "--from", "2022-03-laenderfokus"]).exit_code == 0
    copied = (project / "issues" / "2027-05-mai" / "issue.md").read_text(encoding="utf-8").splitlines()
    assert copied.count(note) == 1
    assert cli.invoke(main, ["new", "2027-06-juni", "--from", "2027-05-mai"]).exit_code == 0
    again = (project / "issues" / "2027-06-juni" / "issue.md").read_text(encoding="utf-8").splitlines()
    assert again.count(note) == 1
