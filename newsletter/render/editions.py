"""The editions of one issue, each rendered at most once: what the pre-flight checked is what is sent.

The pre-flight renders the editions it checks through an ``Editions``; ``send``, ``schedule``,
``approve`` and the preview then ask the same object for theirs, so an edition the check rendered is
reused and a member's own one (``poland+usa.de``) is rendered when first asked — once per command,
over one ``Renderer``. The Renderer is made on first use, so a template error surfaces where an
edition is asked for (the pre-flight turns it into a problem).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from ..config import Config
from ..model import Edition, EditionKey, Issue
from .renderer import Renderer, edition_segment_sets


class Editions:
    """A memo of ``EditionKey`` → ``Edition`` for one issue; safe to share between threads."""

    def __init__(self, issue: Issue, config: Config, renderer: Renderer | None = None):
        self.issue = issue
        self.config = config
        self._renderer = renderer
        self._done: dict[EditionKey, Edition] = {}
        self._lock = threading.Lock()  # two preview requests asking for one edition render it once

    @property
    def renderer(self) -> Renderer:
        if self._renderer is None:
            self._renderer = Renderer(self.config)
        return self._renderer

    def __getitem__(self, key: EditionKey) -> Edition:
        with self._lock:
            edition = self._done.get(key)
            if edition is None:
                edition = self.renderer.render(self.issue, key.segments, key.language)
                self._done[key] = edition
            return edition

    def of(self, keys: Iterable[EditionKey]) -> dict[EditionKey, Edition]:
        """The editions of ``keys`` (each once), in the order of their names."""
        return {key: self[key] for key in sorted(set(keys), key=str)}

    def standard(self) -> list[Edition]:
        """What ``build`` writes and ``check`` checks: each segment and "all" × the issue's languages."""
        return [self[key] for key in standard_keys(self.issue, self.config)]

    @property
    def rendered(self) -> tuple[EditionKey, ...]:
        """The editions rendered so far, in the order they were."""
        with self._lock:
            return tuple(self._done)


def standard_keys(issue: Issue, config: Config) -> list[EditionKey]:
    return [
        EditionKey(segments, lang) for segments in edition_segment_sets(config) for lang in issue.languages
    ]
