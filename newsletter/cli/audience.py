"""``newsletter subscribers check``, ``suppress``, ``unsuppress`` and ``suppressions``."""

from __future__ import annotations

import csv
import io
import itertools
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import edges
from ..audience import AudienceReport, count_members, read_members, write_report
from ..audience.address import InvalidAddress, normalise_address
from ..audience.csvfile import ENCODINGS, spreadsheet_safe, write_spreadsheet
from ..audience.suppressions import REASONS, Suppression
from ..config import Config, load_config
from ..model import GENERAL, AudienceError, Member

if TYPE_CHECKING:
    from ..store.suppressions import Suppressions

LIST_LIMIT = 30  # entries shown per list in the summary (rejected rows are always all shown)


def register(main: click.Group) -> None:
    from .subscriptions import register_subcommands

    register_subcommands(subscribers)  # show, changes (the subscription area's)
    main.add_command(subscribers)
    main.add_command(suppress)
    main.add_command(unsuppress)
    main.add_command(suppressions_command)


def _store(config: Config) -> Suppressions:
    """The suppression list in the state database (edges imports SQLAlchemy only when it is called)."""
    return edges.suppressions(config)


@click.group()
def subscribers() -> None:
    """The member list (subscriber CSV exported from the member database)."""


@subscribers.command("check")
@click.argument("csv_file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--report", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the rejected rows to this CSV (opens in Excel) for the office.")  # fmt: skip
@click.option("--check-dns", is_flag=True, help="Also ask DNS whether each domain accepts mail (slow).")
def check(csv_file: Path | None, report: Path | None, check_dns: bool) -> None:
    """Validate the member list: counts per segment and language, every bad row as CSV:line: message.

    Exit 0 when every row is valid, 1 otherwise.
    """
    config = load_config()
    path = csv_file or _shown(config.subscribers)
    result = read_members(path, config, check_dns=check_dns)
    suppressed = _suppressed(config, result.members)
    for line in summary(result, suppressed, config):
        click.echo(line)
    if csv_file is None or path.resolve() == config.subscribers.resolve():
        from .subscriptions import signup_lines

        for line in signup_lines(config, result):
            click.echo(line)
    for problem in result.rejected:
        click.echo(str(problem), err=True)
    for problem in result.warnings:
        click.echo(str(problem), err=True)
    if report is not None:
        reasons = write_report(result, report)
        click.echo(
            f"Report for the office written to {report}: {result.rejected_rows} rejected rows, {reasons} reasons"
        )
    sys.exit(1 if result.rejected else 0)


def _shown(path: Path) -> Path:
    """A path relative to the working folder when it is inside it (shorter messages)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _suppressed(config: Config, members: Iterable[Member]) -> dict[str, Suppression]:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return _store(config).lookup(m.address for m in members)
    except SQLAlchemyError as exc:
        raise AudienceError(
            f"cannot read the suppression list from the state database ({type(exc).__name__}); "
            "check NEWSLETTER_DATABASE"
        ) from None


def summary(result: AudienceReport, suppressed: dict[str, Suppression], config: Config) -> Iterator[str]:
    """The human summary of ``subscribers check`` (stdout)."""
    path = result.path
    to_mail = [m for m in result.members if m.address not in suppressed]
    yield (
        f"{path}: {result.rows} rows ({ENCODINGS[result.encoding]}, delimiter '{result.delimiter}'): "
        f"{len(to_mail)} members to mail"
    )
    if result.read_as:  # "column 'E-Mail' read as email, 'Vorname' as first_name, …"
        (written, name), *others = result.read_as
        yield f"  column '{written}' read as {name}" + "".join(f", '{w}' as {n}" for w, n in others)
    yield (
        f"  {len(result.members)} valid members, {len(suppressed)} of them suppressed · "
        f"{result.unsubscribed_count} unsubscribed in the file · {len(result.duplicates)} duplicates merged · "
        f"{result.rejected_rows} rows rejected"
    )
    yield ""
    yield from _table(to_mail, config)
    yield from _listing(
        "Duplicates (merged into the first row)", map(str, result.duplicates), len(result.duplicates)
    )
    yield from _listing(
        "Unsubscribed in the file (never mailed)",
        [f"{path}:{m.line}: {m.address}" for m in result.unsubscribed],
    )
    yield from _listing(
        "Suppressed in the state database (never mailed; suppression beats the file)",
        [
            f"{path}:{m.line}: {m.address}: {s.reason} on {s.created_at:%Y-%m-%d} ({s.source})"
            for m in result.members
            if (s := suppressed.get(m.address))
        ],
    )
    yield ""
    if result.warnings:
        yield from _lost_letters(result)
    if result.rejected:
        yield (
            f"{result.rejected_rows} rows rejected ({len(result.rejected)} reasons, listed on stderr as "
            "CSV:line: message); fix them in the member database and export again"
        )
    else:
        yield "Every row is valid."


def _lost_letters(result: AudienceReport) -> Iterator[str]:
    yield f"{len(result.warnings)} name or company cells have '?' inside a word (warnings on stderr). A Windows-1252"
    yield '  export ("CSV (Trennzeichen-getrennt)") cannot hold Polish letters such as ł, ś, ż, ą, ę, ń, ź and'
    yield """  writes '?' instead. In Excel use File → Save as → "CSV UTF-8 (Comma delimited)" and check the new"""
    yield "  file. Warnings do not change the exit code."
    yield ""


def _table(members: list[Member], config: Config) -> Iterator[str]:
    counts = count_members(members)
    languages = list(config.languages) + [
        lang for lang in counts.per_language if lang not in config.languages
    ]
    segments = list(config.segments) + [GENERAL]
    label = {GENERAL: "(no segment)"}
    width = max(14, *(len(label.get(s, s)) for s in segments))
    yield "Members to mail per segment and language:"
    yield "  " + "segment".ljust(width) + "".join(f"{lang:>7}" for lang in languages) + f"{'total':>8}"
    for segment in segments:
        cells = [counts.per_segment_language.get((segment, lang), 0) for lang in languages]
        total = counts.per_segment.get(segment, 0)
        yield (
            "  "
            + label.get(segment, segment).ljust(width)
            + "".join(f"{n:>7}" for n in cells)
            + f"{total:>8}"
        )
    cells = [counts.per_language.get(lang, 0) for lang in languages]
    yield "  " + "all members".ljust(width) + "".join(f"{n:>7}" for n in cells) + f"{counts.total:>8}"
    yield "  (a member in several segments counts in each of their segments' rows, once in 'all members')"
    if counts.per_edition:
        editions = ", ".join(f"{key} {n}" for key, n in sorted(counts.per_edition.items()))
        yield f"  Editions: {editions}"


def _listing(title: str, lines: Iterable[str], count: int | None = None) -> Iterator[str]:
    """A titled list of its first LIST_LIMIT lines (``count``: how many there are, when not a list)."""
    total = len(lines) if count is None and isinstance(lines, list) else count or 0
    if not total:
        return
    yield ""
    yield f"{title}: {total}"
    for line in itertools.islice(lines, LIST_LIMIT):
        yield f"  {line}"
    if total > LIST_LIMIT:
        yield f"  … and {total - LIST_LIMIT} more"


# ─────────────────────────────────── suppressions ───────────────────────────────────


@click.command()
@click.argument("address", required=False)
@click.option("--reason", type=click.Choice(REASONS, case_sensitive=False),
              help="Why: unsubscribed, bounced, complained or manual.")  # fmt: skip
@click.option(
    "--source", help="Where it came from, e.g. 'mailto 2026-03-01' (default: cli, or mailto with --token)."
)
@click.option(
    "--token", help="Instead of ADDRESS: the subject of a mailto: unsubscribe ('unsubscribe <token>')."
)
@click.option(
    "--remove", is_flag=True, help="Lift the suppression instead (same as `newsletter unsuppress`)."
)
def suppress(
    address: str | None, reason: str | None, source: str | None, token: str | None, remove: bool
) -> None:
    """Never mail ADDRESS again (from any segment), whatever the member list says."""
    config = load_config()
    if (address is None) == (token is None):
        raise click.UsageError(
            "give the ADDRESS or --token (the subject of a mailto: unsubscribe), one of them"
        )
    if token is not None:
        address = _address_in(token, config)
    assert address is not None
    if remove:
        _unsuppress(config, address)
        return
    if not reason:
        raise click.UsageError("give --reason: unsubscribed, bounced, complained or manual")
    source = source or ("mailto" if token else "cli")
    normalised = _valid(address)
    store = _store(config)
    if store.add(normalised, reason, source):
        click.echo(
            f"suppressed {normalised} ({reason.lower()}, source: {source}); it will not be mailed again"
        )
    elif (entry := store.get(normalised)) is not None:
        click.echo(
            f"{normalised} was already suppressed ({entry.reason} on {entry.created_at:%Y-%m-%d}, "
            f"source: {entry.source}); left as it was"
        )


@click.command()
@click.argument("address")
def unsuppress(address: str) -> None:
    """Lift the suppression of ADDRESS (only when the member asked to be mailed again)."""
    _unsuppress(load_config(), address)


def _unsuppress(config: Config, address: str) -> None:
    store = _store(config)
    entry = store.get(address)
    if entry is None or not store.remove(address):
        click.echo(f"{address.strip()} is not on the suppression list; nothing to do")
        return
    click.echo(f"removed {entry.address or address.strip()} ({entry.reason}) from the suppression list")
    if entry.reason in ("unsubscribed", "complained"):
        click.echo("note: this address had unsubscribed or complained; keep the member's new consent on file")


def _address_in(token: str, config: Config) -> str:
    """The address in an unsubscribe token; accepts the whole subject line 'unsubscribe <token>'."""
    from ..mail.tokens import read_token  # delivery's module; only needed here

    text = token.strip()
    if text.lower().startswith("unsubscribe"):
        text = text[len("unsubscribe") :].strip()
    return read_token(text, config).address


def _valid(address: str) -> str:
    try:
        return normalise_address(address)
    except InvalidAddress as exc:
        raise AudienceError(f"{address.strip()!r} {exc.reason}") from None


@click.command("suppressions")
@click.option(
    "--csv", "as_csv", is_flag=True, help="Print CSV (address, reason, when, source) instead of a table."
)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the CSV to this file (UTF-8 with BOM, for Excel).")  # fmt: skip
def suppressions_command(as_csv: bool, out: Path | None) -> None:
    """List the suppression list (address, reason, when, source) so the office can update its database."""
    entries = _store(load_config()).list()
    header = ("address", "reason", "when", "source")
    rows = [(e.address or "", e.reason, f"{e.created_at:%Y-%m-%dT%H:%M:%SZ}", e.source) for e in entries]
    if out is not None:
        write_spreadsheet(out, header, rows)
        click.echo(f"{len(entries)} suppressed addresses written to {out}")
    elif as_csv:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(
            [spreadsheet_safe(c) for c in row] for row in [header, *rows]
        )
        click.echo(buffer.getvalue(), nl=False)
    elif not entries:
        click.echo("The suppression list is empty.")
    else:
        width = max(len(e.address or "") for e in entries) + 2
        click.echo("address".ljust(width) + "reason        when (UTC)         source")
        for e in entries:
            address = e.address or "(address erased)"
            click.echo(f"{address.ljust(width)}{e.reason:<14}{e.created_at:%Y-%m-%d %H:%M}   {e.source}")
        click.echo(f"{len(entries)} suppressed addresses")
