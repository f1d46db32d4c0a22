"""Issue 10 item 3: a remote image (a tracking pixel, a picture from another site) is a check error."""

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


def _fix(url: str, name: str) -> str:
    return (
        f"remote image {url}: a mail shows only images of the issue (no tracking pixels, no pictures "
        f"from other sites); put the file in the issue's images/ folder and write images/{name} "
        "(it then travels with the mail, or loads from NEWSLETTER_PUBLIC_URL)"
    )


def test_remote_tracking_pixel_in_body_teaser_and_intro_is_an_error(cli: CliRunner, project: Path) -> None:
    case = "remote-tracking-pixel"
    shutil.copytree(FIXTURES / case, project / "issues" / case)
    result = cli.invoke(main, ["check", case])
    assert result.exit_code == 1
    where = f"issues/{case}"
    assert result.stdout.splitlines() == [
        f"{where}/issue.md:6: {_fix('//cdn.example/logo.png', 'logo.png')}",
        f"{where}/articles/messe.de.md:3: {_fix('https://fotos.example/stand.jpg', 'stand.jpg')}",
        f"{where}/articles/messe.de.md:6: warning: image without alt text: write ![what the picture shows](file)",
        f"{where}/articles/messe.de.md:6: {_fix('https://tracker.example/open.gif?id=123', 'open.gif')}",
        f"{where}/articles/messe.de.md:8: {_fix('https://messe.example/plan/halle-2.png', 'halle-2.png')}",
        "4 error(s), 1 warning(s)",
    ]
