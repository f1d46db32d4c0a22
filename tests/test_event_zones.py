"""Issue 10 item 14: an event's start and end keep the zone each was written in."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from newsletter.archive.site import event_calendar
from newsletter.cli import main
from newsletter.config import Config
from newsletter.content import load_issue
from newsletter.model import Event
from newsletter.render.localise import event_when
from newsletter.render.renderer import Renderer

CASE = "event-ends-in-another-zone"
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "check" / CASE
BERLIN, LA = ZoneInfo("Europe/Berlin"), ZoneInfo("America/Los_Angeles")
DE = "Uhr"  # the time suffix of [de.mail] in templates/labels.toml


@pytest.fixture
def issue(project: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, project / "issues" / CASE))


def _plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")  # CLDR's narrow spaces before AM/PM


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("de", "Freitag, 11. Juni 2027, 10:00 Uhr MESZ (Berlin) – 18:00 Uhr PDT (Los Angeles)"),
        ("en", "Friday, June 11, 2027, 10:00 AM CEST (Berlin) – 6:00 PM PDT (Los Angeles)"),
        ("pl", "piątek, 11 czerwca 2027, 10:00 CEST (Berlin) – 18:00 PDT (Los Angeles)"),
    ],
)
def test_each_time_is_shown_as_written_with_its_own_zone(
    issue: Path, config: Config, language: str, expected: str
) -> None:
    edition = Renderer(config).render(load_issue(issue, config), frozenset({"usa"}), language)
    assert expected in _plain(edition.text)
    assert expected in _plain(edition.html)
    assert "03:00" not in edition.text and "3:00" not in edition.text  # 18:00 PDT is not moved to Berlin


def test_days_apart_and_a_clock_change_inside_one_zone() -> None:
    apart = Event("x", datetime(2027, 6, 10, 10, tzinfo=BERLIN), datetime(2027, 6, 11, 18, tzinfo=LA), None)
    assert event_when(apart, "de", DE) == (
        "10. Juni 2027, 10:00 Uhr MESZ (Berlin) – 11. Juni 2027, 18:00 Uhr PDT (Los Angeles)"
    )
    dst = Event("x", datetime(2027, 3, 27, 10, tzinfo=BERLIN), datetime(2027, 3, 29, 17, tzinfo=BERLIN), None)
    assert event_when(dst, "de", DE) == "27. März 2027, 10:00 Uhr MEZ – 29. März 2027, 17:00 Uhr MESZ"
    same = Event("x", datetime(2027, 7, 7, 14, tzinfo=BERLIN), datetime(2027, 7, 7, 19, tzinfo=BERLIN), None)
    assert event_when(same, "de", DE) == "Mittwoch, 7. Juli 2027, 14:00–19:00 Uhr MESZ"  # unchanged


def test_check_warns_when_start_and_end_are_in_different_zones(
    issue: Path, project: Path, project_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("NEWSLETTER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(project)
    result = CliRunner().invoke(main, ["check", CASE], env=project_env)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        *(
            f"issues/{CASE}/articles/webinar.{lang}.md:6: warning: the event starts in Europe/Berlin and ends "
            "in America/Los_Angeles; the mail and the calendar file show each time in its own zone: check "
            "that both are meant"
            for lang in ("de", "en", "pl")
        ),
        "0 error(s), 3 warning(s): ready to send",
    ]


def test_the_calendar_file_keeps_both_zones(issue: Path, config: Config) -> None:
    ics = event_calendar(config, load_issue(issue, config), "webinar", "de")
    assert ics is not None
    lines = ics.split("\r\n")
    assert "DTSTART;TZID=Europe/Berlin:20270611T100000" in lines
    assert "DTEND;TZID=America/Los_Angeles:20270611T180000" in lines
    assert "TZID:Europe/Berlin" in lines and "TZID:America/Los_Angeles" in lines
    assert lines.count("BEGIN:VTIMEZONE") == 2
