"""CLI of the schedule area: ``newsletter schedule …`` and ``newsletter scheduler``."""

from __future__ import annotations

import logging
import signal
import sys
import time
from types import FrameType
from typing import TYPE_CHECKING

import click

from ..config import load_config
from ..zones import fmt_local

if TYPE_CHECKING:  # schedule.plans and store.schedules bring SQLAlchemy: imported where they are used
    from ..store.schedules import ScheduleInfo


class DefaultCommandGroup(click.Group):
    """A group whose first argument dispatches: ``schedule list``, ``schedule cancel ID``,
    and anything else (``schedule ISSUE --to …``) goes to the default command ``add``."""

    default_command = "add"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(
            ctx.command_path, "ISSUE --to SEGMENT --at DATETIME [--tz ZONE] [--per-member-timezone]"
        )
        formatter.write_usage(ctx.command_path, "list [--issue ISSUE] | cancel ID...", prefix="   or: ")


@click.group("schedule", cls=DefaultCommandGroup)
def schedule_group() -> None:
    """Persistent schedules: send ISSUE to SEGMENT at a local time (fired by `newsletter scheduler`).

    --at takes ISO 8601 (2026-12-01T09:00); without an offset it is read in --tz, else in the
    segment's time zone from newsletter.toml. --to all (every member) and --to general (the
    members in no segment) use the default zone, [newsletter] timezone. Times that do not exist or happen twice on a DST
    night are refused with the possible instants named.
    """


@schedule_group.command("add")
@click.argument("issue")
@click.option(
    "--to",
    "segment",
    required=True,
    metavar="SEGMENT",
    help="one segment id (e.g. poland), all (every member) or general (the members in no segment)",
)
@click.option("--at", "at", required=True, metavar="DATETIME", help="ISO 8601, e.g. 2026-12-01T09:00")
@click.option("--tz", default=None, metavar="ZONE", help="IANA zone for --at (default: the segment's)")
@click.option(
    "--per-member-timezone",
    is_flag=True,
    help="send at this wall-clock time in each member's own zone (one job per zone)",
)
def add_command(issue: str, segment: str, at: str, tz: str | None, per_member_timezone: bool) -> None:
    """Schedule ISSUE for SEGMENT (the same as `newsletter schedule ISSUE …`)."""
    from ..schedule.plans import BERLIN, Request, create_schedule, overlapping

    config = load_config()
    created = create_schedule(config, Request(issue, segment, at, tz, per_member_timezone))
    for info in created:
        zone = f" for members in {info.member_timezone}" if info.member_timezone else ""
        click.echo(
            f"scheduled #{info.id}: {info.issue} to {info.segment}{zone} at {fmt_local(info.at_utc, info.local_zone)} "
            f"{info.local_zone} = {fmt_local(info.at_utc, BERLIN)} {BERLIN} = {info.at_utc:%Y-%m-%d %H:%M} UTC"
        )
    ids = " ".join(str(i.id) for i in created)
    click.echo(f"cancel with `newsletter schedule cancel {ids}`")
    others = overlapping(config, created[0])
    if others:
        shown = ", ".join(
            f"#{o.id} {o.segment} at {fmt_local(o.at_utc, o.local_zone)} {o.local_zone}" for o in others
        )
        click.echo(
            f"note: also scheduled for this issue: {shown}; each member gets the issue once, "
            "from whichever schedule fires first"
        )
    if not _scheduler_running(config):
        click.echo(
            "note: no scheduler is running on this database; start one with `newsletter scheduler`", err=True
        )


def _scheduler_running(config: object) -> bool:
    from ..clock import SystemClock
    from ..edges import state_database
    from ..schedule.service import LOCK_NAME
    from ..store.leases import is_alive

    return is_alive(state_database(config), LOCK_NAME, SystemClock())  # type: ignore[arg-type]


@schedule_group.command("list")
@click.option("--issue", default=None, help="only this issue (slug)")
def list_command(issue: str | None) -> None:
    """Every schedule: local time (its zone and Berlin), UTC, state and what happened."""
    from ..edges import state_database
    from ..store.schedules import list_schedules

    config = load_config()
    rows = list_schedules(state_database(config), issue)
    if not rows:
        click.echo("no schedules; add one with `newsletter schedule ISSUE --to SEGMENT --at DATETIME`")
        return
    for line in format_table(rows):
        click.echo(line.rstrip())


def format_table(rows: list[ScheduleInfo]) -> list[str]:
    from ..schedule.plans import BERLIN

    header = ("ID", "ISSUE", "SEGMENT", "LOCAL", "BERLIN", "UTC", "STATE", "MESSAGE")
    cells = [header] + [
        (
            str(r.id),
            r.issue,
            r.segment,
            f"{fmt_local(r.at_utc, r.local_zone)} {r.local_zone}",
            fmt_local(r.at_utc, BERLIN),
            f"{r.at_utc:%Y-%m-%d %H:%M}",
            r.shown_state,
            r.message or "",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1] for row in cells
    ]


@schedule_group.command("cancel")
@click.argument("ids", nargs=-1, required=True, type=int, metavar="ID...")
def cancel_command(ids: tuple[int, ...]) -> None:
    """Cancel schedules (a running one stops after the message in flight)."""
    from ..schedule.plans import cancel_schedule

    config = load_config()
    for schedule_id in ids:
        info = cancel_schedule(config, schedule_id)
        click.echo(f"cancelled #{info.id}: {info.issue} to {info.segment} at {info.when()}")


@click.command("scheduler")
@click.option(
    "--poll", default=2.0, show_default=True, help="seconds between looks at new or cancelled schedules"
)
def scheduler_command(poll: float) -> None:
    """Run the scheduler in the foreground until SIGINT/SIGTERM (one per database)."""
    from ..schedule.service import SchedulerService

    _setup_logging()
    service = SchedulerService(load_config(), poll=poll)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("newsletter.scheduler").info(
            "%s received: stopping after the message in flight (again to abort)", signal.Signals(signum).name
        )
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        service.stop()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    sys.exit(service.run())


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)sZ %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger("newsletter")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    aps = logging.getLogger("apscheduler")
    aps.addHandler(handler)
    aps.setLevel(logging.WARNING)


def register(main: click.Group) -> None:
    main.add_command(schedule_group)
    main.add_command(scheduler_command)
