"""SIGTERM and Ctrl-C during a send: stop after the messages in flight, never die mid-record.

``timeout``, systemd and ``kill`` send SIGTERM, whose Python default is to die at once, without
``finally`` blocks: the send stayed ``running`` for ever and its lease named a dead pid. Here both
signals ask the send loop to stop (it finishes and records the messages in flight, releases its
claims and the lease), the command prints its summary and exits with 128 + the signal number
(143 for SIGTERM, 130 for Ctrl-C), as a shell reports a process ended by that signal. A second
signal aborts at once (KeyboardInterrupt), for a relay that does not answer.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

import click

NAMES = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "SIGINT (Ctrl-C)"}


@dataclass
class StopRequest:
    """Handed to ``run_send`` as ``should_stop``: falsy until a signal came, then the reason."""

    signum: int | None = None

    def __call__(self) -> str | None:
        if self.signum is None:
            return None
        return f"stopped by {NAMES[signal.Signals(self.signum)]}; run the same command again to continue"

    @property
    def exit_code(self) -> int | None:
        return None if self.signum is None else 128 + self.signum


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """While the block runs, SIGTERM/SIGINT set the StopRequest (a second one aborts)."""
    request = StopRequest()

    def handle(signum: int, _frame: FrameType | None) -> None:
        if request.signum is not None:
            raise KeyboardInterrupt  # the second signal: abort without waiting for the relay
        request.signum = signum
        click.echo(
            f"{NAMES[signal.Signals(signum)]} received: finishing the messages in flight, then stopping "
            "(again to abort)",
            err=True,
        )

    previous = {sig: signal.signal(sig, handle) for sig in NAMES}
    try:
        yield request
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
