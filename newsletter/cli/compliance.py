"""``newsletter serve``, ``newsletter approve`` and ``newsletter archive``."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import load_config


def register(main: click.Group) -> None:
    main.add_command(serve)
    main.add_command(approve)
    main.add_command(archive)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; keep the default behind a reverse proxy.")  # fmt: skip
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--site", type=click.Path(path_type=Path, file_okay=False),
              help="Archive folder to serve (default: site/ in the project, as built by `newsletter archive`).")  # fmt: skip
def serve(host: str, port: int, site: Path | None) -> None:
    """The public service: one-click unsubscribe (/u/<token>), sign-up, preference pages, archive.

    Run it behind the association's web server at NEWSLETTER_PUBLIC_URL (see README).
    """
    import uvicorn

    from ..mail.tokens import require_real_secret
    from ..model import ConfigError
    from ..web.public import create_app

    config = load_config()
    require_real_secret(config)  # whatever the relay: the dev key is public, anyone could unsubscribe anyone
    if site is not None and _holds_project_files(site.resolve(), config.root):
        raise ConfigError(
            f"--site {site} holds project files (newsletter.toml, the member list or the state database); "
            "serve the folder `newsletter archive` writes, e.g. site/"
        )
    extra = (host,) if host not in ("0.0.0.0", "::") else ()  # noqa: S104 - only a comparison
    app = create_app(config, site=site.resolve() if site else None, hosts=extra)
    where = config.public_url or "(NEWSLETTER_PUBLIC_URL not set)"
    click.echo(
        f"serving unsubscribe, sign-up (/subscribe), preferences and archive on http://{host}:{port}/ for {where}; "
        "Ctrl+C stops"
    )
    uvicorn.run(app, host=host, port=port, access_log=False, server_header=False, log_level="warning")


@click.command()
@click.argument("issue", type=click.Path(path_type=Path))
@click.option("--by", "by", required=True, help="Name of the person who reviewed the issue.")
def approve(issue: Path, by: str) -> None:
    """Record that NAME approved the issue's current rendered content (every edition)."""
    from .. import edges, preflight
    from ..approval import approve as approval_of

    config = load_config()
    loaded = preflight.load(issue, config)
    loaded.require()  # an issue that does not load: its content errors, exit 1
    # What fails the pre-flight cannot be sent, so it is not approved either (as `schedule`, exit 2);
    # the editions the check rendered are the ones hashed.
    _, editions = preflight.check(loaded).passed(
        f"not approved: {issue} fails the pre-flight check; fix it (`newsletter check {issue}`)"
    )
    result = approval_of(config, issue, by, editions=editions)
    edges.ledger(config).record_approval(result)
    click.echo(
        f"{result.issue}: approved by {result.approved_by} on {result.when} "
        f"({len(result.editions)} editions, content {result.content_hash[:12]})"
    )
    if not config.require_approval:
        click.echo("note: require_approval is false in newsletter.toml, so send does not check approvals")


@click.command()
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Output folder (default: site/ in the project).")  # fmt: skip
def archive(out: Path | None) -> None:
    """Build the static web archive: a page per issue and language, indexes, RSS, event .ics files."""
    from ..archive.site import build_archive

    config = load_config()
    report = build_archive(config, out or config.root / "site")
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"archive: {report.issues} issue(s), {report.pages} page(s), {report.calendars} calendar file(s) "
        f"in {report.out}"
    )


def _holds_project_files(site: Path, root: Path) -> bool:
    """Whether serving ``site`` would publish the project itself (config, members, state)."""
    root = root.resolve()
    return root.is_relative_to(site) or any(
        (site / name).exists() for name in ("newsletter.toml", "subscribers.csv", "newsletter.db")
    )
