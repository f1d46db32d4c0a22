"""Issue 10 item 17: the placeholders an article may use, an unknown one, and `{{ }}` reported once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import enter_project

from newsletter.cli import main
from newsletter.config import Config
from newsletter.content import load_issue
from newsletter.mail.compose import MessageTemplate
from newsletter.model import Member
from newsletter.render.renderer import Renderer

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "check"
KNOWN = "[[nl:salutation]], [[nl:first_name]], [[nl:last_name]], [[nl:company]]"


@pytest.fixture
def cli(project: Path, project_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    enter_project(monkeypatch, project, project_env)
    return CliRunner()


def _check(cli: CliRunner, project: Path, case: str) -> tuple[int, list[str]]:
    shutil.copytree(FIXTURES / case, project / "issues" / case)
    result = cli.invoke(main, ["check", case])
    return result.exit_code, result.stdout.splitlines()


def test_curly_braces_first_name_is_reported_once_with_the_right_spelling(
    cli: CliRunner, project: Path
) -> None:
    code, lines = _check(cli, project, "curly-braces-first-name")
    assert code == 1
    assert lines == [
        "issues/curly-braces-first-name/articles/willkommen.de.md:4: {{ first_name }} is not filled in "
        "articles and would reach members as typed: write [[nl:first_name]]",
        "1 error(s), 0 warning(s)",
    ]


def test_unknown_placeholders_email_and_member_no_are_errors_at_their_lines(
    cli: CliRunner, project: Path
) -> None:
    code, lines = _check(cli, project, "unknown-placeholder-email-member-no")
    assert code == 1
    art = "issues/unknown-placeholder-email-member-no/articles/mitgliedschaft.de.md"
    tail = f"members would get it as typed; an article may use {KNOWN}"
    assert lines == [
        f"{art}:5: unknown placeholder [[nl:email]]: {tail}",
        f"{art}:7: unknown placeholder [[nl:member_no]]: {tail}",
        "2 error(s), 0 warning(s)",
    ]


def test_a_placeholder_in_the_subject_is_an_error(cli: CliRunner, project: Path) -> None:
    """The subject is the same for every member: a placeholder there is mailed literally."""
    issue = project / "issues" / "subject-with-first-name"
    shutil.copytree(FIXTURES / "curly-braces-first-name", issue)
    text = (issue / "issue.md").read_text(encoding="utf-8")
    (issue / "issue.md").write_text(text.replace("date:", 'subject: "Neues für [[nl:first_name]]"\ndate:'))
    (issue / "articles" / "willkommen.de.md").write_text("---\ntitle: Willkommen\n---\nText.\n")
    result = cli.invoke(main, ["check", "subject-with-first-name"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "issues/subject-with-first-name/issue.md:3: the subject is the same for every member, so "
        "[[nl:first_name]] is not filled there and would arrive as typed: remove it",
        "1 error(s), 0 warning(s)",
    ]


def test_the_documented_placeholders_are_filled_per_member(project: Path, config: Config) -> None:
    case = project / "issues" / "known"
    shutil.copytree(FIXTURES / "unknown-placeholder-email-member-no", case)
    body = "---\ntitle: Mitgliedschaft\n---\n[[nl:salutation]] [[nl:first_name]] [[nl:last_name]] von [[nl:company]]\n"
    (case / "articles" / "mitgliedschaft.de.md").write_text(body, encoding="utf-8")
    edition = Renderer(config).render(load_issue(case, config), frozenset({"poland"}), "de")
    member = Member(
        "anna@example.org", 2, "de", frozenset({"poland"}), "Anna", "Schmidt", "Frau", "Muster GmbH"
    )
    message = MessageTemplate.for_edition(edition, config).personalise(member)
    from email import policy
    from email.parser import BytesParser

    parsed = BytesParser(policy=policy.default).parsebytes(message.data)
    text = parsed.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Sehr geehrte Frau Schmidt, Anna Schmidt von Muster GmbH" in text
    assert "[[nl:" not in text
