"""``newsletter dev-smtp``: the embedded SMTP sink that stores every message in the outbox Maildir."""

from __future__ import annotations

import ipaddress

import click

from ..config import DEV_SINK_HOST, DEV_SINK_PORT, load_config


def register(main: click.Group) -> None:
    main.add_command(dev_smtp)


@click.command("dev-smtp")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEV_SINK_PORT,
    show_default=True,
    help="Port to listen on (0 picks a free one).",
)
@click.option("--host", default=DEV_SINK_HOST, show_default=True, help="Address to listen on.")
def dev_smtp(port: int, host: str) -> None:
    """Run a local SMTP sink that stores every message for the preview's outbox (delivers nothing)."""
    from ..smtp.devsink import serve_forever

    config = load_config()
    if not _is_loopback(host):
        click.echo(
            f"warning: {host} is reachable from other machines; anyone there can fill the outbox", err=True
        )
    serve_forever(config, port, host, echo=click.echo)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
