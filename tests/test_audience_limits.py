"""One set of size limits for `subscribers check` and `send` (newsletter/limits.py): a row that passes
the check can be built into a message, and one that cannot is rejected by the check, naming the row."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from delivery_rig import SLUG, copy_issue, run_cli, sink_env
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)

from newsletter.audience import read_members
from newsletter.config import Config
from newsletter.limits import HEADER_VALUE_MAX, NAME_MAX
from newsletter.mail.compose import MessageTemplate
from newsletter.mail.headers import HeaderInjection
from newsletter.model import Member
from newsletter.render.renderer import Renderer

CSV = Path(__file__).resolve().parent / "fixtures" / "csv"
SHOWN = "'" + "E" * 59 + "…'"
TOO_LONG = (
    f"column first_name: {SHOWN} is 50,000 characters long; a name, salutation or company may have at most "
    "256 characters (it goes into a mail header); shorten it in the member database"
)


def test_check_rejects_a_name_too_long_for_a_mail_header(config: Config) -> None:
    path = CSV / "name_of_50000_characters.csv"
    report = read_members(path, config)
    assert [str(p) for p in report.rejected] == [f"{path}:3: {TOO_LONG}"]
    assert [m.address for m in report.members] == ["anna@example.org", "ben@example.org"]


def test_subscribers_check_names_the_row_and_exits_1(project: Path, project_env: dict[str, str]) -> None:
    shutil.copy(CSV / "name_of_50000_characters.csv", project / "members.csv")
    result = run_cli(["subscribers", "check", "members.csv"], project_env, project)
    assert (result.returncode, result.stderr) == (1, f"members.csv:3: {TOO_LONG}\n")


def test_the_limits_fit_what_the_composer_accepts() -> None:
    assert 2 * NAME_MAX + 1 <= HEADER_VALUE_MAX  # "first last" in the To header


def test_send_lists_the_row_as_rejected_mails_the_others_and_prints_no_traceback(
    project: Path, project_env: dict[str, str], smtp_sink_factory
) -> None:
    copy_issue(project)
    shutil.copy(CSV / "name_of_50000_characters.csv", project / "subscribers.csv")
    sink = smtp_sink_factory()
    result = run_cli(["send", SLUG, "--to", "all", "--yes"], sink_env(project_env, sink), project)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert f"{project / 'subscribers.csv'}:3: {TOO_LONG} (row not mailed)" in result.stderr.splitlines()
    assert sorted(sink.received_by_address()) == ["anna@example.org", "ben@example.org"]


def test_compose_refuses_a_member_beyond_the_limits_with_a_reason_not_a_traceback(config: Config) -> None:
    """A member that did not come through the check (built by hand) still fails with a clear reason."""
    from newsletter.content import load_issue

    issue = load_issue(Path(__file__).resolve().parent.parent / "issues" / "2022-03-laenderfokus", config)
    edition = Renderer(config).render(issue, frozenset({"poland"}), "de")
    member = Member(address="eve@example.org", line=3, language="de", first_name="E" * 50_000)
    with pytest.raises(HeaderInjection) as caught:
        MessageTemplate.for_edition(edition, config).personalise(member)
    assert str(caught.value) == (
        "line 3: To name is too long (50000 characters); remove it from the source and try again"
    )
