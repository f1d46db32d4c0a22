"""CLI command of the embedded dev SMTP sink (filled in by the delivery issue)."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:
    pass
