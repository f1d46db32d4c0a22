"""``newsletter inbox``: process the bounce mailbox (NEWSLETTER_INBOX) once, or every inbox_minutes."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime

import click

from ..config import load_config


def register(main: click.Group) -> None:
    main.add_command(inbox)


@click.command()
@click.option(
    "--once", is_flag=True, help="Read the mailbox once and exit (default: every [inbox] inbox_minutes)."
)
@click.option("--dry-run", is_flag=True, help="Say what would be done; change nothing, move nothing.")
def inbox(once: bool, dry_run: bool) -> None:
    """Process NEWSLETTER_INBOX: delivery reports, complaints, mailto: unsubscribes; leave other mail untouched."""
    from ..inbox.mailbox import MailboxError, hide_password
    from ..inbox.run import inbox_once

    config = load_config()
    assert config.inbox is not None
    if once or dry_run:
        click.echo(inbox_once(config, dry_run=dry_run, echo=click.echo).summary())
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    minutes = config.inbox.minutes
    click.echo(
        f"reading {hide_password(config.inbox.url)} every {minutes:g} minute(s); Ctrl+C stops", err=True
    )
    while not stop.is_set():
        try:
            click.echo(inbox_once(config, echo=click.echo).summary())
        except MailboxError as exc:  # a mailbox that is down now may answer at the next interval
            click.echo(f"error: {exc}; trying again in {minutes:g} minute(s)", err=True)
        click.echo(f"next read at {_next(minutes)} UTC", err=True)
        stop.wait(minutes * 60)
    click.echo("stopped", err=True)


def _next(minutes: float) -> str:
    return f"{datetime.fromtimestamp(datetime.now(UTC).timestamp() + minutes * 60, UTC):%H:%M}"
