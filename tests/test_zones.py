"""One "did you mean" for time zones (newsletter/zones.py): the member list, article events, newsletter.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.config import load_config
from newsletter.model import ConfigError
from newsletter.zones import did_you_mean, suggest_zone


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("America/Los_Angles", "America/Los_Angeles"),
        ("Europe/Warschau", "Europe/Warsaw"),
        ("europa/berlin", "Europe/Berlin"),
        ("Los Angeles", "America/Los_Angeles"),  # a city alone
        ("Berlin", "Europe/Berlin"),
        ("Mars/Olympus", None),
        ("Europe/Chemnitz", None),  # no zone is close: better no guess than a wrong one
        ("", None),
    ],
)
def test_suggestions(typed: str, meant: str | None) -> None:
    assert suggest_zone(typed) == meant


def test_did_you_mean_reads_like_the_other_suggestions() -> None:
    assert did_you_mean("America/Los_Angles") == " (did you mean 'America/Los_Angeles'?)"
    assert did_you_mean("Mars/Olympus") == ""


def test_newsletter_toml_segment_zone_typo_gets_a_did_you_mean(
    project: Path, project_env: dict[str, str]
) -> None:
    toml = project / "newsletter.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace(
            'timezone = "America/New_York"', 'timezone = "America/Los_Angles"'
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(project, project_env)
    assert "unknown time zone 'America/Los_Angles' (did you mean 'America/Los_Angeles'?)" in str(caught.value)
