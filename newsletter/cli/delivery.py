"""``newsletter send`` and ``newsletter status``: thin commands over newsletter.delivery / ledger."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..config import Config, load_config
from ..model import ALL, Problem, RefusedError
from .progress import local_time, progress_display

if TYPE_CHECKING:
    from ..delivery import SendReport

STATUS_COLUMNS = ("sent", "failed", "bounced", "unknown", "pending", "suppressed")


def register(main: click.Group) -> None:
    main.add_command(send)
    main.add_command(status)


def _split(values: Sequence[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.command()
@click.argument("issue")
@click.option("--to", "to", multiple=True, help="Segment id(s), comma-separated, or 'all'.")
@click.option("--dry-run", is_flag=True, help="Print who would get which edition; change nothing.")
@click.option("--test", "test", multiple=True, metavar="ADDRESS", help="Send a [TEST] proof to ADDRESS only.")
@click.option("--language", help="Language of the --test proof (default: the default language).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--retry-failed", is_flag=True, help="Send again to members whose message failed or is unknown."
)
@click.option(
    "--no-wait",
    is_flag=True,
    help="End the run instead of waiting for retries due later; they stay pending with their due time.",
)
def send(
    issue: str,
    to: tuple[str, ...],
    dry_run: bool,
    test: tuple[str, ...],
    language: str | None,
    yes: bool,
    retry_failed: bool,
    no_wait: bool,
) -> None:
    """Send ISSUE to the members of the --to segments (each member once, all their segments in one mail)."""
    from ..delivery import run_send

    config = load_config()
    segments = _split(to)
    if test:
        _send_test(config, issue, segments, language or config.default_language, _split(test))
        return
    if not segments:
        raise RefusedError("name the segments with --to (e.g. --to poland,usa or --to all)")
    if dry_run:
        report = run_send(config, issue, segments, dry_run=True, retry_failed=retry_failed)
        _print_plan(report)
        return
    if not yes:
        _confirm(config, issue, segments, retry_failed)
    with progress_display() as progress:
        report = run_send(
            config, issue, segments, retry_failed=retry_failed, progress=progress, no_wait=no_wait
        )
    _print_report(report)
    sys.exit(report.exit_code)


def _send_test(config: Config, issue: str, segments: list[str], language: str, addresses: list[str]) -> None:
    from ..delivery import send_test

    results = send_test(config, issue, segments or [ALL], language, addresses)
    for r in results:
        click.echo(f"{'sent' if r.accepted else 'NOT sent'} [TEST] to {r.address}: {r.reply}")
    if not all(r.accepted for r in results):
        sys.exit(1)


def _confirm(config: Config, issue: str, segments: list[str], retry_failed: bool) -> None:
    from ..delivery import run_send

    if not sys.stdin.isatty():
        raise RefusedError("not asking for confirmation without a terminal; add --yes to send (or --dry-run)")
    plan = run_send(config, issue, segments, dry_run=True, retry_failed=retry_failed)
    _print_rejected(plan.rejected)
    going = sum(1 for p in plan.plan if p.status in ("send", "retry"))
    editions = ", ".join(f"{k} {n}" for k, n in sorted(plan.editions.items()))
    click.echo(f"{plan.issue}: {going} of {plan.audience} addressed members get a message ({editions}).")
    if not click.confirm(
        f"Send to {going} members via {config.smtp.host}:{config.smtp.port}?", default=False
    ):
        raise RefusedError("not sent (answered no)")


def _print_rejected(rejected: Sequence[Problem]) -> None:
    for problem in rejected:
        click.echo(f"{problem} (row not mailed)", err=True)


def _print_plan(r: SendReport) -> None:
    _print_rejected(r.rejected)
    for p in r.plan:
        click.echo(f"{p.address}\t{p.edition}\t{'would send' if p.status in ('send', 'retry') else p.status}")
    going = sum(1 for p in r.plan if p.status in ("send", "retry"))
    editions = ", ".join(f"{k}: {n}" for k, n in sorted(r.editions.items()))
    click.echo(
        f"dry run: {going} of {r.audience} members would get a message ({editions}); nothing was changed"
    )


def _print_report(r: SendReport) -> None:
    _print_rejected(r.rejected)
    o = r.outcomes
    click.echo(
        f"{r.issue}: sent {o.get('sent', 0)}, bounced {o.get('bounced', 0)}, failed {o.get('failed', 0)}, "
        f"unknown {o.get('unknown', 0)}, suppressed {o.get('suppressed', 0)}, pending {r.pending} "
        f"({r.audience} members addressed, {r.attempts} attempts, {r.elapsed:.1f} s)"
    )
    for f in r.failures:
        click.echo(f"{f.state}: {f.address}: {f.reply_text}".rstrip(), err=True)
    if r.state == "waiting" and r.retry_until is not None:
        click.echo(
            f"waiting: {r.pending} member(s) wait for a retry until {local_time(r.retry_until)} (local time); "
            f"run `newsletter send {r.issue} --to {','.join(r.segments)}` again then, "
            "or leave them to a running `newsletter scheduler`",
            err=True,
        )
    elif r.state != "finished":
        click.echo(f"{r.state}: {r.reason}", err=True)
    elif r.pending:
        click.echo(
            f"{r.pending} member(s) still pending (retries due later); run the same command again", err=True
        )
    if any(f.state in ("failed", "unknown") for f in r.failures):
        click.echo("to send again to failed/unknown members: add --retry-failed", err=True)


@click.command()
@click.argument("issue")
@click.option(
    "--failed", "show_failed", is_flag=True, help="List failed, unknown and bounced addresses with replies."
)
def status(issue: str, show_failed: bool) -> None:
    """Per segment and overall: sent, failed, bounced, unknown, pending, suppressed."""
    from ..db import engine_for
    from ..ledger import Ledger

    config = load_config()
    slug = _slug(issue, config)
    ledger = Ledger(engine_for(config.database_url))
    counts = ledger.counts(slug)
    _echo_schedule_and_approval(config, slug)
    if not counts.rows:
        click.echo(f"{slug}: nothing sent yet")
        return
    click.echo(f"{'':<14}" + "".join(f"{c:>11}" for c in STATUS_COLUMNS))
    for name, states in sorted(counts.by_segment.items()):
        click.echo(f"{name:<14}" + "".join(f"{_col(states, c):>11}" for c in STATUS_COLUMNS))
    click.echo(f"{'overall':<14}" + "".join(f"{_col(counts.total, c):>11}" for c in STATUS_COLUMNS))
    latest = ledger.latest_send(slug)
    if latest is not None:
        reason = f": {latest['reason']}" if latest.get("reason") else ""
        click.echo(
            f"last send: {latest['state']} ({latest['segments']}, {latest['updated_at']:%Y-%m-%d %H:%M} UTC){reason}"
        )
    if show_failed:
        for f in ledger.failed(slug):
            click.echo(f"{f.state}\t{f.address}\t{f.attempts} attempt(s)\t{f.reply_text}".rstrip())


def _echo_schedule_and_approval(config: Config, slug: str) -> None:
    """What is planned and who approved, next to the delivery counts."""
    from ..approval import describe_approval, latest
    from ..schedule import describe_schedules

    for info in describe_schedules(config, slug):
        click.echo(f"schedule {info}")
    if config.require_approval or latest(config, slug) is not None:
        click.echo(describe_approval(config, slug))


def _col(states: Mapping[str, int], column: str) -> int:
    return states.get(column, 0) + (states.get("sending", 0) if column == "pending" else 0)


def _slug(issue: str, config: Config) -> str:
    from ..content import resolve_issue_path

    path = resolve_issue_path(issue, config)
    if (path / "issue.md").is_file():
        try:
            from ..content import load_issue

            return load_issue(path, config).slug
        except Exception:  # status must work for an issue that no longer loads
            return path.name
    return Path(issue).name.removesuffix("issue.md").rstrip("/") or issue
