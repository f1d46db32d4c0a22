"""CLI commands of the web area: ``newsletter preview``."""

from __future__ import annotations

import contextlib
import webbrowser

import click

from ..config import Config

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
    from ..config import load_config
    from ..content import resolve_issue_path
    from ..model import ContentError, Problem, RefusedError
    from ..web.preview.app import bind, create_app, server
    from ..web.preview.state import PreviewState
    from ..web.safety import allowed_hosts

    config = load_config()
    path = resolve_issue_path(issue, config)
    if not (path / "issue.md").is_file():
        raise ContentError(
            [Problem(issue, 0, "no issue.md here; give an issue folder or a slug under issues/")]
        )
    if dev_smtp and not config.smtp.is_dev_sink:
        raise RefusedError(
            f"--dev-smtp needs NEWSLETTER_SMTP_HOST on this computer without a login (it is {config.smtp.host})"
        )
    host = host or "127.0.0.1"
    sock = bind(host, port)
    port = sock.getsockname()[1]
    state = PreviewState(lambda: load_config(config.root), path)
    with contextlib.ExitStack() as stack:
        if dev_smtp:
            _start_dev_sink(stack, config)
        state.reload()
        app = create_app(state, allowed_hosts(host, port), port)
        base = f"http://{'localhost' if host == '127.0.0.1' else host}:{port}"
        _announce(path.name, base, host)
        for line in state.snapshot.errors:
            click.echo(line, err=True)
        if open_page:
            webbrowser.open(base + PAGES[open_page])
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


def _announce(name: str, base: str, host: str) -> None:
    click.echo(f"Preview of {name}: {base}/  (Ctrl+C stops it)")
    click.echo(f"  outbox: {base}/outbox   delivery: {base}/delivery")
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"warning: listening on {host}: other computers can open the preview and send proofs", err=True
        )


def register(main: click.Group) -> None:
    main.add_command(preview)
