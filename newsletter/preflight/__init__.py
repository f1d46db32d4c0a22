"""Pre-flight: the gate of `newsletter check`, repeated by `send`, `schedule` and the preview.

An issue folder and the ``Config`` in, every finding out at once as a list of ``Problem`` values
with severity ``error`` or ``warning``: the content errors (``content``), the checks of the files
as written (``sources``: subjects, missing translations, links, images, placeholders, template
syntax), then the checks of every rendered edition (``editions``: size, footer, leftovers,
embedded pictures) and a missing public URL. ``send`` and ``schedule`` refuse with
``PreflightRefused`` while ``has_errors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..config import Config
from ..content import read_issue, resolve_issue_path
from ..content.frontmatter import Problems
from ..model import Problem, RefusedError
from .editions import check_editions
from .sources import check_sources


class PreflightRefused(RefusedError):
    """``send`` or ``schedule`` refuses an issue that fails the pre-flight check: every error
    as ``path:line: message``, then one line saying what was refused and what to do."""

    def __init__(self, problems: Sequence[Problem], summary: str):
        self.problems = tuple(problems)
        super().__init__(summary)

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems] + [str(self)]


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)


def check_issue(issue_path: Path, config: Config) -> list[Problem]:
    """Every error and warning of an issue at once: content errors, the checks of the files as
    written (also when the content has errors), then the checks of the rendered editions."""
    path = resolve_issue_path(issue_path, config)
    reading = read_issue(path, config)
    found = Problems(config.root, sorted(reading.problems))
    found.items += check_sources(path, config, reading.outline)
    if reading.issue is not None:
        check_editions(reading.issue, reading.outline, config, found, path)
    if not config.public_url and not config.smtp.is_dev_sink:
        found.add(config.root / "newsletter.toml", 0, "NEWSLETTER_PUBLIC_URL is not set: mails to a real relay "
                  "get no web unsubscribe, browser view or calendar links (and carry their pictures inside); "
                  "set it in .env", "warning")  # fmt: skip
    return _dedupe(found.items)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


__all__ = ["PreflightRefused", "check_issue", "has_errors"]
