"""Validate once, use what was validated (issue 11 item 4): one command parses each file of the issue
once and renders each distinct edition once; the send, the schedule and the approval use the
``Issue`` and the ``Editions`` the pre-flight checked.

Counted through the debug records the loader and the renderer write for every parse and render
(``newsletter.content`` and ``newsletter.render``), over whole CLI commands — nothing is mocked.
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO

from newsletter import audience
from newsletter.approval import segment_sets
from newsletter.cli import main
from newsletter.config import Config
from newsletter.model import EditionKey

SLUG = "2022-03-laenderfokus"
STANDARD = {f"{s}.{lang}" for s in ("poland", "usa", "all") for lang in ("de", "en", "pl")}


@pytest.fixture
def env(project: Path, project_env: dict[str, str], example_issue: Path, monkeypatch) -> dict[str, str]:
    shutil.copy(REPO / "subscribers.example.csv", project / "subscribers.csv")
    monkeypatch.chdir(project)
    return {**project_env, "NEWSLETTER_CONFIG": str(project / "newsletter.toml")}


def _run(args: list[str], env: dict[str, str], caplog) -> tuple[Counter[str], Counter[str]]:
    """Front matter parses per file and renders per edition key during one command."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="newsletter"):
        result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    parses = Counter(str(r.args[0]) for r in caplog.records if r.name == "newsletter.content")  # type: ignore[index]
    renders = Counter(str(r.args[0]) for r in caplog.records if r.name == "newsletter.render")  # type: ignore[index]
    return parses, renders


def _issue_files(issue: Path) -> set[str]:
    return {str(p) for p in issue.rglob("*.md")}


def test_send_dry_run_parses_each_file_once_and_renders_each_edition_once(
    env: dict[str, str], example_issue: Path, config: Config, caplog
) -> None:
    parses, renders = _run(["send", SLUG, "--to", "all", "--dry-run"], env, caplog)
    assert set(parses) == _issue_files(example_issue) and len(parses) == 13
    assert set(parses.values()) == {1}, parses.most_common(3)
    members = audience.read_members(config.subscribers, config).members
    theirs = {str(EditionKey.of(m)) for m in members}
    assert {"poland+usa.de", "general.de"} <= theirs  # editions the pre-flight does not check
    assert set(renders) == STANDARD | theirs  # what the check rendered is what the send uses
    assert set(renders.values()) == {1}, renders.most_common(3)


def test_check_parses_each_file_once_and_renders_the_standard_editions_once(
    env: dict[str, str], example_issue: Path, caplog
) -> None:
    parses, renders = _run(["check", SLUG], env, caplog)
    assert set(parses) == _issue_files(example_issue) and set(parses.values()) == {1}
    assert renders == Counter(STANDARD)


def test_approve_renders_every_combination_once_through_one_editions(
    env: dict[str, str], example_issue: Path, config: Config, caplog
) -> None:
    parses, renders = _run(["approve", SLUG, "--by", "Anna Schmidt"], env, caplog)
    assert set(parses) == _issue_files(example_issue) and set(parses.values()) == {1}
    every = {str(EditionKey(s, lang)) for s in segment_sets(config) for lang in config.languages}
    assert len(every) == 15 and renders == Counter(every)


def test_schedule_parses_and_renders_once(env: dict[str, str], example_issue: Path, caplog) -> None:
    parses, renders = _run(["schedule", SLUG, "--to", "poland", "--at", "2099-01-05T09:00"], env, caplog)
    assert set(parses) == _issue_files(example_issue) and set(parses.values()) == {1}
    assert renders == Counter(STANDARD)


def test_preview_shows_and_checks_what_it_read_once(
    env: dict[str, str], project: Path, project_env: dict[str, str], example_issue: Path, caplog
) -> None:
    from newsletter.config import load_config
    from newsletter.web.preview.state import PreviewState

    state = PreviewState(lambda: load_config(project, project_env), example_issue)
    with caplog.at_level(logging.DEBUG, logger="newsletter"):
        snapshot = state.reload()  # the cards (render), then the pre-flight on the same files (check)
    parses = Counter(str(r.args[0]) for r in caplog.records if r.name == "newsletter.content")  # type: ignore[index]
    renders = Counter(str(r.args[0]) for r in caplog.records if r.name == "newsletter.render")  # type: ignore[index]
    assert not snapshot.errors and snapshot.preflight and not snapshot.preflight_errors
    assert set(parses) == _issue_files(example_issue) and set(parses.values()) == {1}
    assert renders == Counter(card.key for card in snapshot.cards) and set(renders) > STANDARD
