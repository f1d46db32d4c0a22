"""CLI commands of the web area: ``newsletter preview``."""

from __future__ import annotations

import contextlib
import webbrowser
from pathlib import Path

import click

from ..config import Config, load_config

PAGES = {"editions": "/", "outbox": "/outbox", "delivery": "/delivery"}


@click.command()
@click.argument("issue")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on."
)
@click.option(
    "--host",
    default=None,
    help="Address to listen on. Default 127.0.0.1: only this computer can open the preview.",
)
@click.option(
    "--open",
    "open_page",
    type=click.Choice(list(PAGES)),
    is_flag=False,
    flag_value="editions",
    default=None,
    help="Open the browser on this page (editions when given alone).",
)
@click.option(
    "--dev-smtp",
    is_flag=True,
    help="Also run the test mail server (as `newsletter dev-smtp`), so proofs land in the outbox.",
)
def preview(issue: str, port: int, host: str | None, open_page: str | None, dev_smtp: bool) -> None:
    """Live browser preview of ISSUE (a folder or a slug under issues/): every edition, proofs, outbox."""
    from ..content import resolve_issue_path
    from ..model import ContentError, Problem

    config = load_config()
    path = resolve_issue_path(issue, config)
    if not (path / "issue.md").is_file():
        raise ContentError(
            [Problem(issue, 0, "no issue.md here; give an issue folder or a slug under issues/")]
        )
    _run_desk(config, host, port, dev_smtp, issue_path=path.resolve(), open_page=open_page)


@click.command()
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on."
)
@click.option(
    "--host",
    default=None,
    help="Address to listen on. Default 127.0.0.1: only this computer. Another address needs users "
    "(`newsletter users add`).",
)
@click.option("--dev-smtp", is_flag=True, help="Also run the test mail server, so proofs land in the outbox.")
def desk(port: int, host: str | None, dev_smtp: bool) -> None:
    """The editor's desk in the browser: issues, their state, approval by signed-in people, the preview."""
    _run_desk(load_config(), host, port, dev_smtp)


def _run_desk(config: Config, host: str | None, port: int, dev_smtp: bool, *,
              issue_path: Path | None = None, open_page: str | None = None) -> None:  # fmt: skip
    """Bind, check who may come in, then serve the desk until Ctrl+C."""
    from .. import edges
    from ..model import RefusedError
    from ..web.desk.app import create_desk_app
    from ..web.preview.app import bind, server
    from ..web.safety import LOOPBACK, allowed_hosts

    if dev_smtp and not config.smtp.is_dev_sink:
        raise RefusedError(
            f"--dev-smtp needs NEWSLETTER_SMTP_HOST on this computer without a login (it is {config.smtp.host})"
        )
    host = host or "127.0.0.1"
    users = edges.users(config)
    if host not in LOOPBACK and users.count() == 0:
        raise RefusedError(
            f"the desk on {host} would let anyone on the network in; add a user first "
            "(newsletter users add NAME --role editor), or leave out --host"
        )
    sock = bind(host, port)
    port = sock.getsockname()[1]
    with contextlib.ExitStack() as stack:
        if dev_smtp:
            _start_dev_sink(stack, config)
        app = create_desk_app(lambda: load_config(config.root), allowed_hosts(host, port), port,
                              loopback=host in LOOPBACK, users=users, extra_issue=issue_path)  # fmt: skip
        base = f"http://{'localhost' if host == '127.0.0.1' else host}:{port}"
        _announce(base, host, issue_path, users.count())
        if open_page:
            where = f"/issues/{issue_path.name}" if issue_path else ""
            webbrowser.open(base + where + PAGES[open_page])
        server(app).run(sockets=[sock])


def _start_dev_sink(stack: contextlib.ExitStack, config: Config) -> None:
    from ..model import RefusedError
    from ..smtp.devsink import start_dev_sink

    where = f"{config.smtp.host}:{config.smtp.port}"
    try:
        sink = stack.enter_context(start_dev_sink(config, config.smtp.port, config.smtp.host))
    except RefusedError:
        click.echo(f"note: {where} is taken, probably by a running `newsletter dev-smtp`; proofs go there")
        return
    click.echo(f"Test mail server on {where}; mails land in the outbox {sink.outbox}")


def _announce(base: str, host: str, issue_path: Path | None, users: int) -> None:
    from ..web.safety import LOOPBACK

    if issue_path is not None:
        page = f"{base}/issues/{issue_path.name}/"
        click.echo(f"Preview of {issue_path.name}: {page}  (Ctrl+C stops it)")
        click.echo(f"  outbox: {page}outbox   delivery: {page}delivery   desk: {base}/")
    else:
        click.echo(f"Editor's desk: {base}/  (Ctrl+C stops it)")
    if users == 0:
        click.echo("  no users: one editor on this computer, without sign-in (newsletter users add for more)")
    if host not in LOOPBACK:
        click.echo(
            f"warning: listening on {host}: other computers can open the desk; they must sign in", err=True
        )


def register(main: click.Group) -> None:
    main.add_command(preview)
    main.add_command(desk)
