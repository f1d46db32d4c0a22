"""Loader problems on their fields: `path:line: message` → (file, field path) for the desk."""

from __future__ import annotations

from newsletter.config import Config
from newsletter.content import read_issue
from newsletter.content.locate import locate
from newsletter.content.scaffold import create_issue
from newsletter.model import Problem

ARTICLE = """---
title: Treffen
segments: [poland, mexico]
contacts:
  - name: Anna Nowak
    email: nowak@example.pl
  - name: Dirk Vogel
    email: mailto:vogel@example.org
  - name: Ohne Adresse
event:
  title: Clustertreffen
  start: 2022-05-30T09:00 Europe/Warsaw
---
Text.
"""


def test_each_problem_is_placed_on_its_field(config: Config) -> None:
    issue = create_issue(config, "2022-05-fehler").path
    (issue / "articles" / "erster-artikel.de.md").write_text(ARTICLE, encoding="utf-8")
    problems = read_issue(issue, config).problems
    placed = {(p.file, p.field): str(p.problem) for p in locate(problems, issue, config.root)}
    shown = "issues/2022-05-fehler/articles/erster-artikel.de.md"
    assert placed[("articles/erster-artikel.de.md", ("contacts", 1, "email"))].startswith(f"{shown}:8: ")
    assert placed[("articles/erster-artikel.de.md", ("segments", 1))].startswith(f"{shown}:3: ")
    assert placed[("articles/erster-artikel.de.md", ("contacts", 2, "email"))].startswith(f"{shown}:9: ")
    assert placed[("articles/erster-artikel.de.md", ("event", "location"))].startswith(f"{shown}:10: ")
    assert len(placed) == len(problems) == 4


def test_a_problem_in_the_body_or_of_the_whole_file(config: Config) -> None:
    issue = create_issue(config, "2022-05-koerper").path
    shown = "issues/2022-05-koerper/articles/erster-artikel.de.md"
    found = [Problem(shown, 12, "image without alt text", "warning"), Problem(shown, 0, "unknown language"),
             Problem("newsletter.toml", 3, "elsewhere")]  # fmt: skip
    located = locate(found, issue, config.root)
    assert [(p.file, p.area, p.field) for p in located] == [
        ("articles/erster-artikel.de.md", "body", ()), ("articles/erster-artikel.de.md", "file", ()),
        (None, "elsewhere", ()),
    ]  # fmt: skip
