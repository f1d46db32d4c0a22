"""Shared fixtures: a throw-away project folder with the real newsletter.toml and templates."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.config import Config, load_config

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_ISSUE = REPO / "issues" / "2022-03-laenderfokus"
SEEDS = REPO.parent / "shared" / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright's own browser download cannot work here
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def enter_project(monkeypatch: pytest.MonkeyPatch, project: Path, env: dict[str, str]) -> None:
    """Run the CLI as a user in ``project`` would: only ``env``'s NEWSLETTER_ variables, that folder
    as the working directory (undone by ``monkeypatch`` after the test)."""
    for name in list(os.environ):
        if name.startswith("NEWSLETTER_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(project)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright, one per test module. Missing, it fails the test
    (never a skip: `make test` installs it)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test`, which installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project root in tmp_path: newsletter.toml pointing at the repo's templates, an empty issues/."""
    toml = (REPO / "newsletter.toml").read_text(encoding="utf-8")
    toml = toml.replace("[newsletter]\n", f'[newsletter]\ntemplates = "{REPO / "templates"}"\n', 1)
    (tmp_path / "newsletter.toml").write_text(toml, encoding="utf-8")
    (tmp_path / "issues").mkdir()
    return tmp_path


@pytest.fixture
def state_database(project: Path) -> Iterator[str]:
    """The state database URL of one test: an SQLite file, or with NEWSLETTER_TEST_POSTGRES set
    (a server URL such as ``postgresql+psycopg://postgres@/postgres?host=/var/run/postgresql``)
    a fresh PostgreSQL database, so the same suite proves the ledger on both."""
    server = os.environ.get("NEWSLETTER_TEST_POSTGRES")
    if not server:
        yield f"sqlite:///{project / 'state.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"nl_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(server).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def project_env(project: Path, state_database: str) -> dict[str, str]:
    """An environment for load_config that ignores the developer's own .env and shell."""
    return {
        "NEWSLETTER_DATABASE": state_database,
        "NEWSLETTER_SUBSCRIBERS": str(project / "subscribers.csv"),
        "NEWSLETTER_OUTBOX": str(project / "outbox"),
    }


@pytest.fixture
def config(project: Path, project_env: dict[str, str]) -> Config:
    return load_config(project, project_env)


@pytest.fixture
def example_issue(project: Path) -> Path:
    """A copy of the example issue inside the temporary project (tests may edit it)."""
    target = project / "issues" / EXAMPLE_ISSUE.name
    shutil.copytree(EXAMPLE_ISSUE, target)
    return target
