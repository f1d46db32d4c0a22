"""CLI commands of the content area (filled in by its issue)."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:
    pass
