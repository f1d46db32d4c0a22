"""The ``newsletter`` command: thin click commands over the library.

Each area keeps its commands in its own module (content, audience, delivery, schedule,
web, compliance); they register on ``main`` here. User errors become one line on stderr.
"""

from __future__ import annotations

import re
import sys

import click

from ..model import NewsletterError


class NewsletterGroup(click.Group):
    """Turns NewsletterError into one line per problem and the documented exit code."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except NewsletterError as exc:
            for line in exc.lines():
                click.echo(f"error: {line}" if not _has_place(line) else line, err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


_PLACE = re.compile(r"^[^\s:]+(:\d+)?: ")


def _has_place(line: str) -> bool:
    """``path:line: message`` lines already say where (and what); plain messages get ``error:``."""
    return line.startswith(("error: ", "warning: ")) or bool(_PLACE.match(line))


@click.group(cls=NewsletterGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsletter")
def main() -> None:
    """Newsletters for associations: write Markdown, preview, send on schedule, never twice."""


def _register() -> None:
    from . import audience, compliance, content, delivery, devsink, schedule, web

    for module in (content, audience, delivery, devsink, schedule, web, compliance):
        module.register(main)


_register()
