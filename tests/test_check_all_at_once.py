"""Issue 10 item 16: `check` shows every problem at once, warnings included while there are errors."""

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


def test_errors_and_warnings_at_once(cli: CliRunner, project: Path) -> None:
    case = "errors-and-warnings-at-once"
    shutil.copytree(FIXTURES / case, project / "issues" / case)
    result = cli.invoke(main, ["check", case])
    assert result.exit_code == 1
    where = f"issues/{case}"
    assert result.stdout.splitlines() == [
        f"{where}/articles/messe.de.md:3: unknown key 'teasr' (did you mean 'teaser'?)",
        f"{where}/issue.md:4: warning: subject for 'de' has 94 characters; mail clients cut it after about 70: "
        "shorten it",
        f"{where}/issue.md:4: warning: subject for 'en' has 94 characters; mail clients cut it after about 70: "
        "shorten it",
        f"{where}/articles/vergessen.de.md: warning: not listed under 'articles' in issue.md, so no edition "
        "contains it",
        f"{where}/articles/messe.de.md:5: warning: insecure link http://www.amz-sachsen.example/messe: use "
        "https:// if the site supports it",
        f"{where}/articles/messe.en.md: warning: missing translation: 'en' editions use "
        f"{where}/articles/messe.de.md",
        "1 error(s), 5 warning(s)",
    ]


def test_a_broken_issue_md_still_gets_the_article_warnings(cli: CliRunner, project: Path) -> None:
    case = "errors-and-warnings-at-once"
    shutil.copytree(FIXTURES / case, project / "issues" / case)
    issue_md = project / "issues" / case / "issue.md"
    issue_md.write_text(issue_md.read_text(encoding="utf-8").replace("date: 2027-04-06", "date: [2027"))
    result = cli.invoke(main, ["check", case])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"issues/{case}/issue.md:4: malformed YAML")
    assert lines[1:] == [
        f"issues/{case}/articles/messe.de.md:5: warning: insecure link http://www.amz-sachsen.example/messe: use "
        "https:// if the site supports it",
        "1 error(s), 1 warning(s)",
    ]
