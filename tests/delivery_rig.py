"""Helpers for the delivery tests: member CSVs, a project pointed at a sink, the accounting invariant."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from newsletter.config import Config, load_config
from newsletter.store.db import engine_for
from newsletter.store.tables import deliveries

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "issues" / "2022-03-laenderfokus"
SLUG = EXAMPLE.name
SECRET = "test-secret-0123456789abcdef0123456789abcdef"


def write_members(
    project: Path, count: int, *, segments=None, start: int = 0, name: str = "subscribers.csv"
) -> list[str]:
    """``count`` members m<i>@example.org; ``segments(i)`` gives the cell (default: poland / usa / both)."""
    pick = segments or (lambda i: ("poland", "usa", "poland|usa")[i % 3])
    languages = ("de", "en", "pl")
    path = project / name
    addresses = []
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "first_name", "last_name", "salutation", "company", "language", "segments"])
        for i in range(start, start + count):
            address = f"m{i}@example.org"
            addresses.append(address)
            w.writerow([address, f"Vorname{i}", f"Name{i}", "", f"Firma {i}", languages[i % 3], pick(i)])
    return addresses


def copy_issue(project: Path, slug: str = SLUG) -> Path:
    target = project / "issues" / slug
    if not target.exists():
        shutil.copytree(EXAMPLE, target)
    return target


def set_sending(project: Path, **values: object) -> None:
    """Rewrite keys of the [sending] table in the project's newsletter.toml."""
    toml = project / "newsletter.toml"
    text = toml.read_text(encoding="utf-8")
    for key, value in values.items():
        rendered = (
            str(value).lower()
            if isinstance(value, bool)
            else repr(value)
            if not isinstance(value, list)
            else str(value)
        )
        line = f"{key} = {rendered}"
        text, n = re.subn(rf"(?m)^{key} = .*$", line, text)
        if not n:
            text = text.replace("[sending]\n", f"[sending]\n{line}\n", 1)
    toml.write_text(text, encoding="utf-8")


def sink_env(project_env: dict[str, str], sink, **extra: str) -> dict[str, str]:
    env = dict(project_env)
    env.update(
        NEWSLETTER_SMTP_HOST=sink.host,
        NEWSLETTER_SMTP_PORT=str(sink.port),
        NEWSLETTER_SMTP_SECURITY="none",
        NEWSLETTER_SECRET=SECRET,
        NEWSLETTER_PUBLIC_URL="https://news.example.org",
    )
    env.update(extra)
    return env


def config_for(project: Path, env: dict[str, str]) -> Config:
    return load_config(project, env)


def states(config: Config, issue: str = SLUG) -> Counter[str]:
    engine = engine_for(config.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.state, func.count())
            .where(deliveries.c.issue == issue)
            .group_by(deliveries.c.state)
        )
        return Counter({state: n for state, n in rows})


def sent_addresses(config: Config, issue: str = SLUG, state: str = "sent") -> set[str]:
    engine = engine_for(config.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.address).where(deliveries.c.issue == issue, deliveries.c.state == state)
        )
        return {r.address for r in rows}


def assert_accounting(
    received: Counter[str], config: Config, issue: str = SLUG, *, unknown_resent: bool = False
) -> None:
    """Unique recipients received = rows sent (+ unknown); no row left in ``sending``."""
    counts = states(config, issue)
    assert counts.get("sending", 0) == 0, counts
    sent = sent_addresses(config, issue)
    if unknown_resent:
        sent |= sent_addresses(config, issue, "unknown")
    assert set(received) == sent, (len(received), len(sent))


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120, **kw
) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "newsletter", *args],
        env=full,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        **kw,
    )
