"""``newsletter subscribers show``, ``subscribers changes`` and ``forget``: the office's side of sign-ups.

``show`` prints everything the state database holds about one address (GDPR Art. 15), ``forget``
erases it and keeps only the suppression's hash (Art. 17), ``changes`` writes what happened since
the last export as a CSV for the member database.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import edges
from ..audience.address import InvalidAddress, normalise_address
from ..config import Config, load_config
from ..model import AudienceError, Member

if TYPE_CHECKING:
    from ..audience import AudienceReport

CHANGE_COLUMNS = ("when", "change", "email", "language", "segments", "status", "salutation", "first_name",
                  "last_name", "company", "source", "address_hash")  # fmt: skip


def register(main: click.Group) -> None:
    main.add_command(forget)


def register_subcommands(group: click.Group) -> None:
    group.add_command(show)
    group.add_command(changes_command)


def _address(text: str) -> str:
    try:
        return normalise_address(text)
    except InvalidAddress as exc:
        raise AudienceError(f"'{text.strip()}' {exc.reason}") from None


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if isinstance(value, datetime) else str(value)


@click.command("show")
@click.argument("address")
def show(address: str) -> None:
    """Everything stored about ADDRESS: consents, preferences, deliveries, suppressions (right of access)."""
    config = load_config()
    plain = _address(address)
    stored = edges.subscriptions(config).about(plain)
    click.echo(f"{plain}: everything the state database holds")
    click.echo(f"Member list: {_in_member_list(config, plain)}")
    for section, rows in stored.items():
        click.echo(f"{section.capitalize()}: {len(rows) or 'none'}")
        for row in rows:
            cells = [f"{k}={_when(v)}" for k, v in row.items() if v not in (None, "") and k != "address_hash"]
            click.echo("  " + "; ".join(cells))


def _in_member_list(config: Config, address: str) -> str:
    from ..audience import read_members

    try:
        report = read_members(config.subscribers, config)
    except AudienceError as exc:
        return f"cannot read {config.subscribers} ({exc})"
    member = next((m for m in (*report.members, *report.unsubscribed) if m.address == address), None)
    if member is None:
        return f"not in {config.subscribers}"
    return f"{config.subscribers}:{member.line} (the office's file: change it in the member database)"


@click.command()
@click.argument("address")
def forget(address: str) -> None:
    """Erase ADDRESS from the state database; keep only the suppression's hash (right to erasure)."""
    config = load_config()
    plain = _address(address)
    touched = edges.subscriptions(config).forget(plain)
    counts = ", ".join(f"{name} {n}" for name, n in touched.items() if name != "suppression")
    click.echo(
        f"{plain}: erased ({counts}); only the suppression's hash is kept, so it is never mailed again"
    )
    where = _in_member_list(config, plain)
    if not where.startswith("not in"):
        click.echo(
            f"note: still in the member list at {where.split(' (')[0]}; delete it in the member database"
        )


@click.command("changes")
@click.option("--since", "since_text", metavar="DATE",
              help="From this date or time (ISO, UTC), e.g. 2026-03-01; default: since the last --out export.")  # fmt: skip
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the CSV here (UTF-8 with BOM, for Excel) and remember the export's time.")  # fmt: skip
def changes_command(since_text: str | None, out: Path | None) -> None:
    """Sign-ups, preference changes, unsubscribes and erasures as CSV for the member database."""
    from ..audience.csvfile import spreadsheet_safe, write_spreadsheet

    config = load_config()
    store = edges.subscriptions(config)
    since = _since(since_text) if since_text else store.last_export()
    now = datetime.now(UTC)
    found = store.changes(since)
    rows = [_row(c) for c in found]
    delimiter = _delimiter(config.subscribers)
    shown = f"since {since:%Y-%m-%d %H:%M:%S} UTC" if since else "ever"
    if out is None:
        import csv

        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
        writer.writerows([spreadsheet_safe(c) for c in row] for row in [CHANGE_COLUMNS, *rows])
        click.echo(buffer.getvalue(), nl=False)
        click.echo(
            f"{len(rows)} changes {shown} (add --out FILE to export them and remember the time)", err=True
        )
        return
    write_spreadsheet(out, CHANGE_COLUMNS, rows, delimiter=delimiter)
    store.mark_export(now)
    click.echo(f"{len(rows)} changes {shown} written to {out}; the next export starts from now")


def _since(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise AudienceError(f"--since '{text}' is not a date like 2026-03-01 or 2026-03-01T08:00") from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time())
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _row(change: Any) -> tuple[str, ...]:
    d = change.detail
    status = {"signup": "subscribed", "preferences": "subscribed", "erasure": "erased"}.get(
        change.kind, "unsubscribed"
    )
    return (
        f"{change.at:%Y-%m-%dT%H:%M:%SZ}", change.kind, change.address, d.get("language", ""),
        d.get("segments", ""), status, d.get("salutation", ""), d.get("first_name", ""),
        d.get("last_name", ""), d.get("company", ""), d.get("source", ""), change.address_hash,
    )  # fmt: skip


def _delimiter(path: Path) -> str:
    """The delimiter of the office's own file (``;`` from German Excel), else ``,``."""
    from ..audience.csvfile import open_csv, sniff

    try:
        encoding, _ = sniff(path)
        with path.open(encoding=encoding, newline="") as text:
            return open_csv(text)[0]
    except (OSError, AudienceError, UnicodeDecodeError):
        return ","


def signup_lines(config: Config, report: AudienceReport) -> Iterator[str]:
    """For ``subscribers check``: confirmed sign-ups not in the file, and readers' choices that
    override the file's language or segments."""
    from sqlalchemy.exc import SQLAlchemyError

    from ..audience.signups import audience as signup_audience

    store = edges.subscriptions(config)
    try:
        audience = signup_audience(report, store, config)
    except SQLAlchemyError:
        yield "(sign-ups and preferences could not be read from the state database; check NEWSLETTER_DATABASE)"
        return
    in_file = {m.address for m in report.members}
    added = [m for m in audience.members if m.address not in in_file]
    if added:
        yield ""
        yield f"Sign-ups through the web form, not in the file (mailed as well): {len(added)}"
        yield from (f"  {m.address}: {_choice(m)}" for m in added)
    if audience.overridden:
        yield ""
        yield f"Preferences chosen by the reader (they beat the file): {len(audience.overridden)}"
        for before, after in audience.overridden:
            yield f"  {report.path}:{before.line}: {before.address}: {_choice(before)} → {_choice(after)}"


def _choice(m: Member) -> str:
    return f"language {m.language}, segments {'|'.join(sorted(m.segments)) or '(none: general articles)'}"


__all__ = ["CHANGE_COLUMNS", "register", "register_subcommands", "signup_lines"]
