"""The progress of ``newsletter send``: a rich bar on a terminal, plain lines without one.

Both say how many members wait for a retry and until when (local time), so a send that waits
for greylisted members — or a second run whose members are not due yet — is never silent.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ..send.loop import Progress

PLAIN_EVERY = 2.0  # s between plain lines while messages go out
PLAIN_HEARTBEAT = 30.0  # s: a plain line even when nothing changed (the run is alive)


def local_time(at: datetime, zone: tzinfo | None = None) -> str:
    return f"{at.astimezone(zone):%H:%M}"


def waiting_text(p: Progress, zone: tzinfo | None = None) -> str:
    """``waiting for retry: 500 until 09:06 (next 09:01)``, or "" when nobody waits."""
    if not p.waiting or p.waiting_until is None:
        return ""
    until = local_time(p.waiting_until, zone)
    first = local_time(p.waiting_next, zone) if p.waiting_next is not None else until
    return f"waiting for retry: {p.waiting} until {until}" + (f" (next {first})" if first != until else "")


def plain_line(p: Progress, zone: tzinfo | None = None) -> str:
    rate = p.sent / p.elapsed if p.elapsed else 0.0
    waiting = waiting_text(p, zone)
    return f"sent {p.sent}, done {p.done}/{p.total}, failed {p.failed}{', ' + waiting if waiting else ''}, {rate:.0f}/s"


@contextmanager
def progress_display() -> Iterator[Callable[[Progress], None]]:
    if sys.stdout.isatty():
        with _bar() as update:
            yield update
        return
    yield _Plain()


class _Plain:
    """A line at most every PLAIN_EVERY s while sending; at once when the send starts to wait."""

    def __init__(self) -> None:
        self.last_line, self.last_at = "", float("-inf")

    def __call__(self, p: Progress) -> None:
        now, line = time.monotonic(), plain_line(p)
        changed = line != self.last_line
        if (
            changed and (p.idle or p.done == p.total or now - self.last_at >= PLAIN_EVERY)
        ) or now - self.last_at >= PLAIN_HEARTBEAT:
            self.last_line, self.last_at = line, now
            click.echo(line)


@contextmanager
def _bar() -> Iterator[Callable[[Progress], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    columns = (
        TextColumn("sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.0f}/s"),
        TimeRemainingColumn(),
        TextColumn("failed {task.fields[failed]}{task.fields[waiting]}"),
    )
    with Bar(*columns, transient=False) as bar:
        task = bar.add_task("send", total=None, rate=0.0, failed=0, waiting="")

        def update(p: Progress) -> None:
            rate = p.sent / p.elapsed if p.elapsed else 0.0
            waiting = waiting_text(p)
            bar.update(
                task,
                total=p.total,
                completed=p.done,
                rate=rate,
                failed=p.failed,
                waiting=f" · {waiting}" if waiting else "",
                refresh=p.idle,  # the send starts to wait: show it now, not at the next tick
            )

        yield update
