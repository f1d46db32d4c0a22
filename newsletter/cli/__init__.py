"""The ``newsletter`` command: thin click commands over the library.

Each area keeps its commands in its own module (content, audience, delivery, schedule,
web, compliance); ``COMMANDS`` below names the module of each command and its one line of
help, so ``newsletter --help`` lists them without importing any of them, and a command's module
is imported only when the command runs or shows its own ``--help``. User errors become one line
on stderr.
"""

from __future__ import annotations

import importlib
import re
import sys
from typing import NamedTuple

import click


class Entry(NamedTuple):
    module: str  # the area module under newsletter.cli that defines (and registers) the command
    summary: str  # its help's first sentence, as `newsletter --help` lists it (a test keeps them equal)


# Command name → its module and summary. Nothing here imports a command module: `newsletter --help`
# costs click and this file, `newsletter build` does not pay for SQLAlchemy, Starlette and APScheduler.
COMMANDS: dict[str, Entry] = {
    "new": Entry(
        "content", "Start issues/SLUG/ with an issue.md and one article stub (exit 2 if it exists)."
    ),
    "import": Entry(
        "content", "Turn a Word file (.docx) into an article of ISSUE and list what it could not map."
    ),
    "build": Entry("content", "Render every edition of ISSUE (a folder or a slug under issues/) into DIR."),
    "check": Entry(
        "content",
        "Pre-flight check of ISSUE: content, translations, size, alt text, links, placeholders, footer.",
    ),
    "subscribers": Entry("audience", "The member list (subscriber CSV exported from the member database)."),
    "suppress": Entry(
        "audience", "Never mail ADDRESS again (from any segment), whatever the member list says."
    ),
    "unsuppress": Entry(
        "audience", "Lift the suppression of ADDRESS (only when the member asked to be mailed again)."
    ),
    "suppressions": Entry(
        "audience",
        "List the suppression list (address, reason, when, source) so the office can update its database.",
    ),
    "forget": Entry(
        "subscriptions",
        "Erase ADDRESS from the state database; keep only the suppression's hash (right to erasure).",
    ),
    "send": Entry(
        "delivery",
        "Send ISSUE to the members of the --to segments (each member once, all their segments in one mail).",
    ),
    "status": Entry(
        "delivery", "Per segment and overall: sent, failed, bounced, unknown, pending, suppressed."
    ),
    "dev-smtp": Entry(
        "devsink",
        "Run a local SMTP sink that stores every message for the preview's outbox (delivers nothing).",
    ),
    "schedule": Entry(
        "schedule",
        "Persistent schedules: send ISSUE to SEGMENT at a local time (fired by `newsletter scheduler`).",
    ),
    "scheduler": Entry(
        "schedule", "Run the scheduler in the foreground until SIGINT/SIGTERM (one per database)."
    ),
    "inbox": Entry(
        "inbox",
        "Process NEWSLETTER_INBOX: delivery reports, complaints, mailto: unsubscribes; leave other mail untouched.",
    ),
    "preview": Entry(
        "web",
        "Live browser preview of ISSUE (a folder or a slug under issues/): every edition, proofs, outbox.",
    ),
    "desk": Entry(
        "web",
        "The editor's desk in the browser: issues, their state, approval by signed-in people, the preview.",
    ),
    "users": Entry("people", "People of the desk: add, list, remove (passwords stored as argon2id hashes)."),
    "serve": Entry(
        "compliance",
        "The public service: one-click unsubscribe (/u/<token>), sign-up, preference pages, archive.",
    ),
    "approve": Entry(
        "compliance", "Record that NAME approved the issue's current rendered content (every edition)."
    ),
    "archive": Entry(
        "compliance",
        "Build the static web archive: a page per issue and language, indexes, RSS, event .ics files.",
    ),
}


class NewsletterGroup(click.Group):
    """Loads commands lazily; turns NewsletterError into one line per problem and the exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module = importlib.import_module(f"{__name__}.{COMMANDS[cmd_name].module}")
            module.register(self)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``newsletter --help`` from ``COMMANDS``: no command module imported."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, _short_help(self, name, limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> object:
        from ..model import NewsletterError

        try:
            return super().invoke(ctx)
        except NewsletterError as exc:
            for line in exc.lines():
                click.echo(f"error: {line}" if not _has_place(line) else line, err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


def _short_help(group: click.Group, name: str, limit: int) -> str:
    """The summary shortened as click shortens a command's help (a stand-in command does it)."""
    command = group.commands.get(name) or click.Command(name, help=COMMANDS[name].summary)
    return command.get_short_help_str(limit)


_PLACE = re.compile(r"^[^\s:]+(:\d+)?: ")


def _has_place(line: str) -> bool:
    """``path:line: message`` lines already say where (and what); plain messages get ``error:``."""
    return line.startswith(("error: ", "warning: ")) or bool(_PLACE.match(line))


@click.group(cls=NewsletterGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsletter")
def main() -> None:
    """Newsletters for associations: write Markdown, preview, send on schedule, never twice."""
