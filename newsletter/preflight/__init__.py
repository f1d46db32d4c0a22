"""Pre-flight: the gate of `newsletter check`, repeated by `send`, `schedule`, `approve` and the preview.

An issue folder and the ``Config`` in, one frozen ``Preflight`` out: every finding at once as
``Problem`` values with severity ``error`` or ``warning`` — the content errors (``content``), the
checks of the files as written (``sources``: subjects, missing translations, links, images,
placeholders, template syntax), then the checks of every rendered edition (``editions``: size,
footer, leftovers, embedded pictures) and a missing public URL — together with what was validated:
the ``Issue`` as loaded and its ``Editions`` (``render.editions``), so the command that asked
sends, schedules, approves or shows exactly that, rendering each edition once. ``send`` and
``schedule`` refuse with ``PreflightRefused`` while it has errors (``Preflight.passed``).

``check_issue`` is ``check(load(...))``: the preview shows the loaded editions first and runs the
slower checks on the same ``Loaded`` value afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..content import Reading, read_issue, resolve_issue_path
from ..content.frontmatter import Problems
from ..model import ContentError, Issue, Problem, RefusedError
from ..render.editions import Editions
from .editions import check_editions
from .sources import check_sources, sources


class PreflightRefused(RefusedError):
    """``send`` or ``schedule`` refuses an issue that fails the pre-flight check: every error
    as ``path:line: message``, then one line saying what was refused and what to do."""

    def __init__(self, problems: Sequence[Problem], summary: str):
        self.problems = tuple(problems)
        super().__init__(summary)

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems] + [str(self)]


@dataclass(frozen=True)
class Loaded:
    """The first half of the pre-flight: the issue's files read (each parsed once) and the
    editions, rendered when first asked for. ``editions`` is None when the issue does not load."""

    path: Path
    config: Config
    reading: Reading
    editions: Editions | None

    @property
    def issue(self) -> Issue | None:
        return self.reading.issue

    def require(self) -> tuple[Issue, Editions]:
        """The issue and its editions, or the content errors as one ``ContentError``."""
        if self.reading.issue is None or self.editions is None:
            raise ContentError(self.reading.problems)
        return self.reading.issue, self.editions


@dataclass(frozen=True)
class Preflight:
    """What the pre-flight found, and what it validated: the issue and the editions it checked."""

    path: Path
    problems: tuple[Problem, ...]
    issue: Issue | None  # None: the content has errors
    editions: Editions | None  # the checked editions rendered; others render on first use

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity != "error")

    @property
    def has_errors(self) -> bool:
        return has_errors(self.problems)

    def passed(self, refusal: str) -> tuple[Issue, Editions]:
        """The validated issue and its editions; ``PreflightRefused`` (every error, then
        ``refusal``) while there is an error."""
        if self.errors or self.issue is None or self.editions is None:
            raise PreflightRefused(self.errors, refusal)
        return self.issue, self.editions


def has_errors(problems: Iterable[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)


def load(issue_path: Path | str, config: Config) -> Loaded:
    """Read the issue folder once; nothing is rendered yet."""
    path = resolve_issue_path(issue_path, config)
    reading = read_issue(path, config)
    editions = Editions(reading.issue, config) if reading.issue is not None else None
    return Loaded(path, config, reading, editions)


def check(loaded: Loaded) -> Preflight:
    """Every error and warning at once: content errors, the checks of the files as written (also
    when the content has errors), then the checks of the rendered editions."""
    path, config, reading = loaded.path, loaded.config, loaded.reading
    found = Problems(config.root, sorted(reading.problems))
    files = sources(path, reading, config)
    found.items += check_sources(path, config, reading, files)
    if loaded.editions is not None:
        check_editions(loaded.editions, files, config, found, path)
    if not config.public_url and not config.smtp.is_dev_sink:
        found.add(config.root / "newsletter.toml", 0, "NEWSLETTER_PUBLIC_URL is not set: mails to a real relay "
                  "get no web unsubscribe, browser view or calendar links (and carry their pictures inside); "
                  "set it in .env", "warning")  # fmt: skip
    return Preflight(path, tuple(dict.fromkeys(found.items)), loaded.issue, loaded.editions)


def check_issue(issue_path: Path | str, config: Config) -> Preflight:
    """The whole pre-flight of one issue folder (``check`` of ``load``)."""
    return check(load(issue_path, config))


__all__ = ["Loaded", "Preflight", "PreflightRefused", "check", "check_issue", "has_errors", "load"]
