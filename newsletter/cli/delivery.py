"""``newsletter send`` and ``newsletter status``: thin commands over ``send.run`` and the ledger."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..config import Config, load_config
from ..model import ALL, GENERAL, DeliveryState, EditionKey, Member, Problem, RefusedError, SendState
from .progress import local_time, progress_display
from .signals import stop_on_signals

if TYPE_CHECKING:
    from ..send.protocols import SendParts
    from ..send.report import SendReport
    from ..store.ledger import Ledger
    from ..store.schedules import ScheduleInfo

_D = DeliveryState
STATUS_COLUMNS = (_D.SENT, _D.FAILED, _D.BOUNCED, _D.UNKNOWN, _D.PENDING, _D.SUPPRESSED)  # pending: + sending


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
@click.option(
    "--language", help="Language of the --test proof (default: the --as member's, else the default language)."
)
@click.option("--as", "as_member", metavar="MEMBER_EMAIL",
              help="Personalise the --test proof as this member of the list (salutation, names, their edition).")  # fmt: skip
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
    as_member: str | None,
    yes: bool,
    retry_failed: bool,
    no_wait: bool,
) -> None:
    """Send ISSUE to the members of the --to segments (each member once, all their segments in one mail)."""
    from ..edges import send_parts
    from ..send.run import run_send

    config = load_config()
    segments = _split(to)
    if as_member is not None and not test:
        raise RefusedError("--as only personalises a proof: add --test ADDRESS (proofs go to that address)")
    parts = send_parts(config)  # the ledger, the suppression list and the relay, for this command
    if test:
        _send_test(config, parts, issue, segments, language, _split(test), as_member)
        return
    if not segments:
        raise RefusedError("name the segments with --to (e.g. --to poland,usa or --to all)")
    if dry_run:
        report = run_send(config, issue, segments, parts=parts, dry_run=True, retry_failed=retry_failed)
        _print_plan(report)
        return
    waiting = _scheduled_already(config, issue, yes)
    if not yes:
        _confirm(config, parts, issue, segments, retry_failed)
    with stop_on_signals() as stop:
        try:
            with progress_display() as progress:
                report = run_send(
                    config,
                    issue,
                    segments,
                    parts=parts,
                    retry_failed=retry_failed,
                    progress=progress,
                    should_stop=stop,
                    no_wait=no_wait,
                )
        except KeyboardInterrupt:  # a second signal: the messages in flight were not waited for
            if stop.exit_code is None:
                raise
            click.echo("aborted; run the same command again to continue", err=True)
            sys.exit(stop.exit_code)
    if yes:  # without --yes the confirmation showed them before the question
        _print_warnings(report.warnings)
    _print_report(report)
    if waiting:
        _settle_schedules(config, report, segments)
    stopped_by_signal = report.state == SendState.STOPPED and stop.exit_code is not None
    sys.exit(stop.exit_code if stopped_by_signal else report.exit_code)


def _scheduled_already(config: Config, issue: str, yes: bool) -> list[ScheduleInfo]:
    """A send by hand of an issue with schedules: warn, and without --yes and a terminal refuse."""
    from ..schedule.plans import waiting_schedules

    slug = _slug(issue, config)
    waiting = waiting_schedules(config, slug)
    if not waiting:
        return []
    named = ", ".join(info.short() for info in waiting)
    if not yes and not sys.stdin.isatty():
        ids = " ".join(str(info.id) for info in waiting)
        raise RefusedError(
            f"{slug} is scheduled ({named}); to send it by hand now add --yes (the schedules whose "
            f"members this send reaches are then marked done), or cancel them first: "
            f"`newsletter schedule cancel {ids}`"
        )
    click.echo(
        f"warning: {slug} is scheduled ({named}); sending it by hand now, the schedules whose members "
        "this send reaches are then marked done",
        err=True,
    )
    return waiting


def _settle_schedules(config: Config, report: SendReport, segments: list[str]) -> None:
    from ..schedule.plans import settle_by_hand, waiting_schedules

    settled = settle_by_hand(config, report.issue, ",".join(segments), report.send_id)
    still = waiting_schedules(config, report.issue)
    parts = []
    if settled:
        parts.append("done (sent by hand): " + ", ".join(f"#{i.id} {i.segment}" for i in settled))
    if still:
        parts.append("still scheduled: " + ", ".join(f"#{i.id} {i.segment}" for i in still))
    click.echo("; ".join(parts), err=True)


def _send_test(
    config: Config,
    parts: SendParts,
    issue: str,
    segments: list[str],
    language: str | None,
    addresses: list[str],
    as_address: str | None,
) -> None:
    """Proofs; with --as personalised as that member, in their edition unless --to / --language say otherwise."""
    from ..send.run import send_test

    member = _proof_member(config, as_address) if as_address else None
    if member is None:
        targets, language = segments or [ALL], language or config.default_language
    else:
        targets, language = segments or sorted(member.segments), language or member.language
    results = send_test(config, issue, targets, language, addresses, transport=parts.transport, member=member)
    as_whom = ""
    if member is not None:
        name = " ".join(p for p in (member.first_name, member.last_name) if p) or member.address
        chosen = frozenset(config.segment(s).id for s in targets) if ALL not in targets else frozenset({ALL})
        as_whom = f" as {member.address} ({name}, {EditionKey(chosen, language)})"
    for r in results:
        click.echo(f"{'sent' if r.accepted else 'NOT sent'} [TEST] to {r.address}{as_whom}: {r.reply}")
    if not all(r.accepted for r in results):
        sys.exit(1)


def _proof_member(config: Config, text: str) -> Member:
    """The member of the list with this address: a proof is personalised from the list, never from
    what was typed (only the address is taken from the command line)."""
    from ..audience import read_members
    from ..audience.address import InvalidAddress, normalise_address
    from ..model import AudienceError

    where = _shown(config.subscribers)
    try:
        address = normalise_address(text)
        members = read_members(config.subscribers, config).members
    except InvalidAddress as exc:
        raise RefusedError(f"--as {text.strip()}: {exc.reason}") from None
    except (AudienceError, OSError) as exc:
        raise RefusedError(f"--as {text.strip()}: the member list {where} cannot be read ({exc})") from None
    for member in members:
        if member.address == address:
            return member
    raise RefusedError(
        f"--as {text.strip()}: no member with this address in {where}; use an address of the member list, "
        "or leave --as out for the sample member Erika Mustermann"
    )


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _confirm(config: Config, parts: SendParts, issue: str, segments: list[str], retry_failed: bool) -> None:
    from ..send.run import run_send

    if not sys.stdin.isatty():
        raise RefusedError("not asking for confirmation without a terminal; add --yes to send (or --dry-run)")
    plan = run_send(config, issue, segments, parts=parts, dry_run=True, retry_failed=retry_failed)
    _print_warnings(plan.warnings)
    _print_rejected(plan.rejected)
    going = sum(1 for p in plan.plan if p.status in ("send", "retry"))
    editions = ", ".join(f"{k} {n}" for k, n in sorted(plan.editions.items()))
    click.echo(f"{plan.issue}: {going} of {plan.audience} addressed members get a message ({editions}).")
    if note := left_out_note(plan):
        click.echo(note)
    if not click.confirm(
        f"Send to {going} members via {config.smtp.host}:{config.smtp.port}?", default=False
    ):
        raise RefusedError("not sent (answered no)")


def _print_warnings(warnings: Sequence[Problem]) -> None:
    """Pre-flight warnings and the member list's (duplicates, '?' for lost letters), one line each,
    as `newsletter check` and `subscribers check` print them."""
    for problem in warnings:
        click.echo(str(problem), err=True)


def _print_rejected(rejected: Sequence[Problem]) -> None:
    for problem in rejected:
        click.echo(f"{problem} (row not mailed)", err=True)


def _print_plan(r: SendReport) -> None:
    _print_warnings(r.warnings)
    _print_rejected(r.rejected)
    for p in r.plan:
        click.echo(f"{p.address}\t{p.edition}\t{'would send' if p.status in ('send', 'retry') else p.status}")
    going = sum(1 for p in r.plan if p.status in ("send", "retry"))
    editions = ", ".join(f"{k}: {n}" for k, n in sorted(r.editions.items()))
    click.echo(
        f"dry run: {going} of {r.audience} members would get a message ({editions}); nothing was changed"
    )
    if note := left_out_note(r):
        click.echo(note)


def left_out_note(r: SendReport) -> str | None:
    """``note: 4 members are in no segment you named and get nothing (no segment: 4): add --to all, …``"""
    count = sum(r.left_out.values())
    if not count:
        return None
    groups = sorted(r.left_out.items(), key=lambda kv: (kv[0] == GENERAL, kv[0]))
    shown = ", ".join(f"{'no segment' if key == GENERAL else key}: {n}" for key, n in groups)
    wider = [s for s in r.segments if s != ALL]
    for key, _ in groups:
        wider += [seg for seg in key.split("+") if seg not in wider]
    members = "1 member is" if count == 1 else f"{count} members are"
    return (
        f"note: {members} in no segment you named and get nothing ({shown}): "
        f"add --to all, or --to {','.join(wider)}"
    )


def _print_report(r: SendReport) -> None:
    _print_rejected(r.rejected)
    o, d = r.outcomes, DeliveryState
    click.echo(
        f"{r.issue}: sent {o.get(d.SENT, 0)}, bounced {o.get(d.BOUNCED, 0)}, failed {o.get(d.FAILED, 0)}, "
        f"unknown {o.get(d.UNKNOWN, 0)}, suppressed {o.get(d.SUPPRESSED, 0)}, pending {r.pending} "
        f"({r.audience} members addressed, {r.attempts} attempts, {r.elapsed:.1f} s)"
    )
    for f in r.failures:
        click.echo(f"{f.state}: {f.address}: {f.reply_text}".rstrip(), err=True)
    if r.state == SendState.WAITING and r.retry_until is not None:
        click.echo(
            f"waiting: {r.pending} member(s) wait for a retry until {local_time(r.retry_until)} (local time); "
            f"run `newsletter send {r.issue} --to {','.join(r.segments)}` again then, "
            "or leave them to a running `newsletter scheduler`",
            err=True,
        )
    elif r.state != SendState.FINISHED:
        click.echo(f"{r.state}: {r.reason}", err=True)
    elif r.pending:
        click.echo(
            f"{r.pending} member(s) still pending (retries due later); run the same command again", err=True
        )
    if any(f.state in (DeliveryState.FAILED, DeliveryState.UNKNOWN) for f in r.failures):
        click.echo("to send again to failed/unknown members: add --retry-failed", err=True)
    if note := left_out_note(r):
        click.echo(note, err=True)


@click.command()
@click.argument("issue")
@click.option(
    "--failed", "show_failed", is_flag=True, help="List failed, unknown and bounced addresses with replies."
)
def status(issue: str, show_failed: bool) -> None:
    """Per segment and overall: sent, failed, bounced, unknown, pending, suppressed."""
    from ..edges import ledger as ledger_of

    config = load_config()
    slug = _slug(issue, config)
    ledger = ledger_of(config)
    counts = ledger.counts(slug)
    _echo_schedule_and_approval(config, ledger, slug)
    if not counts.rows:
        click.echo(f"{slug}: nothing sent yet")
        return
    click.echo(f"{'':<14}" + "".join(f"{c:>11}" for c in STATUS_COLUMNS))
    for name, states in sorted(counts.by_segment.items()):
        click.echo(f"{name:<14}" + "".join(f"{_col(states, c):>11}" for c in STATUS_COLUMNS))
    click.echo(f"{'overall':<14}" + "".join(f"{_col(counts.total, c):>11}" for c in STATUS_COLUMNS))
    latest = ledger.latest_send(slug)
    if latest is not None:
        click.echo(_last_send(ledger, slug, latest))
    _echo_reported(config, slug, show_failed)
    if show_failed:
        for f in ledger.failed(slug):
            click.echo(f"{f.state}\t{f.address}\t{f.attempts} attempt(s)\t{f.reply_text}".rstrip())


def _last_send(ledger: Ledger, slug: str, latest: Mapping[str, object]) -> str:
    """``last send: STATE (SEGMENTS, WHEN UTC): REASON``; a ``running`` send whose process is
    gone (kill -9, a crash, a lost machine) is shown as ``interrupted`` with the resuming command."""
    state, reason = latest["state"], latest.get("reason")
    if state == SendState.RUNNING and (holder := ledger.dead_holder(slug)) is not None:
        state = SendState.INTERRUPTED
        reason = (
            f"the sending process{f' ({holder})' if holder else ''} is gone without finishing; "
            f"run `newsletter send {slug} --to {latest['segments']}` to continue"
        )
    when = f"{latest['updated_at']:%Y-%m-%d %H:%M} UTC"
    return f"last send: {state} ({latest['segments']}, {when}){f': {reason}' if reason else ''}"


REPORT_COLUMNS = ("hard", "soft", "blocked", "complaint", "delayed")  # the inbox's severities


def _echo_reported(config: Config, slug: str, show_failed: bool) -> None:
    """What came back by mail after the relay's 250 (``newsletter inbox``): per segment, and with
    ``--failed`` each report with the receiving server's words. Nothing when nothing came back."""
    from ..edges import inbox_book

    book = inbox_book(config)
    counts = book.by_segment(slug)
    if not counts:
        return
    click.echo("reported later by mail (newsletter inbox):")
    click.echo(f"{'':<14}" + "".join(f"{c:>11}" for c in REPORT_COLUMNS))
    for name in [*sorted(k for k in counts if k != "overall"), "overall"]:
        click.echo(f"{name:<14}" + "".join(f"{counts.get(name, {}).get(c, 0):>11}" for c in REPORT_COLUMNS))
    if show_failed:
        for e in book.events_of(slug):
            words = f"{e.status} {e.diagnostic}".strip()
            click.echo(f"reported {e.severity}\t{e.address}\t{words}\t{e.action}")


def _echo_schedule_and_approval(config: Config, ledger: Ledger, slug: str) -> None:
    """What is planned and who approved, next to the delivery counts."""
    from ..approval import describe_approval
    from ..store.schedules import describe_schedules

    for info in describe_schedules(ledger.engine, slug):
        click.echo(f"schedule {info}")
    approval = ledger.latest_approval(slug)
    if config.require_approval or approval is not None:
        click.echo(describe_approval(config, slug, approval))


def _col(states: Mapping[str, int], column: DeliveryState) -> int:
    sending = states.get(DeliveryState.SENDING, 0) if column == DeliveryState.PENDING else 0
    return states.get(column, 0) + sending


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
