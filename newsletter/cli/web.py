"""CLI commands of the web area: ``newsletter preview``."""

from __future__ import annotations

import click


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
def preview(issue: str, port: int, host: str | None) -> None:
    """Open a live browser preview of ISSUE (a folder or a slug under issues/)."""
    from ..config import load_config
    from ..content import resolve_issue_path
    from ..model import ContentError, Problem
    from ..web.preview import bind, create_app, server
    from ..web.preview_safety import allowed_hosts
    from ..web.preview_state import PreviewState

    config = load_config()
    path = resolve_issue_path(issue, config)
    if not (path / "issue.md").is_file():
        raise ContentError(
            [Problem(issue, 0, "no issue.md here; give an issue folder or a slug under issues/")]
        )
    host = host or "127.0.0.1"
    sock = bind(host, port)
    port = sock.getsockname()[1]
    state = PreviewState(lambda: load_config(config.root), path)
    state.reload()
    app = create_app(state, allowed_hosts(host, port), port)
    shown = "localhost" if host == "127.0.0.1" else host
    click.echo(f"Preview of {path.name}: http://{shown}:{port}/  (Ctrl+C stops it)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"warning: listening on {host}: other computers can open the preview and send proofs", err=True
        )
    if state.snapshot.errors:
        for line in state.snapshot.errors:
            click.echo(line, err=True)
    server(app).run(sockets=[sock])


def register(main: click.Group) -> None:
    main.add_command(preview)
