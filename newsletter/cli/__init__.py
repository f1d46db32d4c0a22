"""The ``newsletter`` command: thin click commands over the library.

Each area keeps its commands in its own module (content, audience, delivery, schedule,
web, compliance); they register on ``main`` here. User errors become one line on stderr.
"""

from __future__ import annotations

import importlib
import re
import sys

import click

from ..model import NewsletterError

# Command name → the area module that defines it. Modules are imported only when one of their
# commands runs (or --help lists them), so `newsletter build` does not pay for SQLAlchemy,
# Starlette and APScheduler.
COMMANDS = {
    "new": "content",
    "build": "content",
    "check": "content",
    "subscribers": "audience",
    "suppress": "audience",
    "unsuppress": "audience",
    "suppressions": "audience",
    "send": "delivery",
    "status": "delivery",
    "dev-smtp": "devsink",
    "schedule": "schedule",
    "scheduler": "schedule",
    "preview": "web",
    "serve": "compliance",
    "approve": "compliance",
    "archive": "compliance",
}


class NewsletterGroup(click.Group):
    """Loads commands lazily; turns NewsletterError into one line per problem and the exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module = importlib.import_module(f"{__name__}.{COMMANDS[cmd_name]}")
            module.register(self)
        return self.commands.get(cmd_name)

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
