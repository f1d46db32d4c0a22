"""The connections of one send: a slot per connection, opened, recycled, backed off and retired
by the send loop, and one selector that watches them all (single thread; each ``Connection``
comes from the transport, see ``protocols``). ``send_one`` drives one connection through one
message with its own selector: proofs, the same state machine blocking."""

from __future__ import annotations

import contextlib
import logging
import selectors
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..clock import Clock
from ..config import SmtpSettings
from .outcomes import Attempt, Outcome
from .pacing import Backoff
from .protocols import Connection, Transport, TransportError

if TYPE_CHECKING:
    from .loop import Job

log = logging.getLogger("newsletter.delivery")
IDLE_RECONNECT_SECONDS = 30.0  # relays time idle connections out (Postfix: 300 s, 10 s under stress)


@dataclass
class Slot:
    """One connection of the send and the job it carries."""

    mux: Connection | None = None
    job: Job | None = None
    events: int = 0  # what the selector watches for it
    used: float = 0.0  # clock.monotonic() when its connection last finished a message (or opened)
    delivered: int = 0  # 250s on its current connection
    backoff: Backoff = field(default_factory=Backoff)

    def idle(self) -> bool:
        return self.job is None and (self.mux is None or not self.mux.busy)


class Connections:
    def __init__(
        self,
        transport: Transport,
        settings: SmtpSettings,
        clock: Clock,
        count: int,
        first: Connection | None,
    ):
        self.transport, self.settings, self.clock = transport, settings, clock
        self.slots = [Slot() for _ in range(count)]
        if first is not None:
            self.slots[0].mux = first
            self.slots[0].used = clock.monotonic()
        self.selector = selectors.DefaultSelector()
        self.reconnects = 0

    def busy(self) -> list[Slot]:
        return [slot for slot in self.slots if not slot.idle()]

    def others_open(self, slot: Slot) -> bool:
        return any(s.mux is not None and not s.mux.closed for s in self.slots if s is not slot)

    def next_reopen(self) -> float:
        """clock.monotonic() when the first idle connection that backs off may reopen."""
        return min((s.backoff.not_before for s in self.slots if s.idle()), default=0.0)

    def start(self, slot: Slot, job: Job) -> Attempt | None:
        """Begin ``job`` on ``slot`` (opening a connection if needed); an Attempt if it could not."""
        mux = slot.mux
        idle = self.clock.monotonic() - slot.used > IDLE_RECONNECT_SECONDS  # e.g. after a retry backoff
        if mux is not None and (mux.closed or mux.sent >= self.transport.per_connection or idle):
            self.drop(slot)
        if slot.mux is None:
            try:
                slot.mux = self.transport.connect()
            except TransportError as exc:
                return Attempt(exc.attempt.outcome, exc.attempt.code, str(exc), exc.attempt.stage)
            slot.delivered = 0
            self.reconnects += 1
        slot.used = self.clock.monotonic()
        message = job.message
        assert message is not None
        slot.job = job
        # compose made the data CRLF, with no line starting with "."
        slot.mux.start(
            message.envelope_from, message.recipient, message.pieces, time.monotonic(), dot_safe=True
        )
        return None

    def poll(self, busy: list[Slot], wake_in: float | None) -> Iterator[tuple[Slot, Job, Attempt]]:
        """Wait for replies (at most until the first deadline, or ``wake_in`` s); each finished job."""
        now = time.monotonic()
        for slot in self.slots:
            self._watch(slot)
        wait = min(slot.mux.deadline for slot in busy if slot.mux is not None) - now
        if wake_in is not None:
            wait = min(wait, wake_in)
        for key, _events in self.selector.select(max(0.0, wait) + 0.01):
            slot, mux = key.data, key.data.mux
            if (
                mux is not None
                and not mux.closed
                and (finished := self._finish(slot, mux.step(time.monotonic())))
            ):
                yield finished
        now = time.monotonic()
        for slot in busy:
            if slot.mux is not None and not slot.mux.closed:
                attempt = slot.mux.expired(now)
            elif slot.job is not None:  # closed under a job without an outcome (should not happen)
                attempt = Attempt(Outcome.LOST, None, "connection closed", "connection")
            else:
                continue
            if finished := self._finish(slot, attempt):
                yield finished

    def _finish(self, slot: Slot, attempt: Attempt | None) -> tuple[Slot, Job, Attempt] | None:
        """The slot's job and its outcome, the slot freed for the next one; None while it runs."""
        if attempt is None or slot.job is None:
            return None
        job, slot.job = slot.job, None
        slot.used = self.clock.monotonic()
        if slot.mux is not None and slot.mux.closed:
            self._unwatch(slot)
            slot.mux = None
        return slot, job, attempt

    def retire(self, slot: Slot) -> None:
        """Go on with one connection fewer."""
        self.drop(slot)
        self.slots.remove(slot)

    def drop(self, slot: Slot) -> None:
        self._unwatch(slot)
        if slot.mux is not None:
            slot.mux.close()
            slot.mux = None

    def close(self) -> None:
        for slot in self.slots:
            self.drop(slot)
        self.selector.close()

    def _watch(self, slot: Slot) -> None:
        mux = slot.mux
        wanted = 0
        if mux is not None and not mux.closed and mux.busy:
            wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if mux.wants_write else 0)
        if wanted == slot.events:
            return
        if slot.events and wanted:
            self.selector.modify(mux.sock, wanted, slot)  # type: ignore[union-attr]
        elif wanted:
            self.selector.register(mux.sock, wanted, slot)  # type: ignore[union-attr]
        else:
            self._unwatch(slot)
            return
        slot.events = wanted

    def _unwatch(self, slot: Slot) -> None:
        if slot.events and slot.mux is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.selector.unregister(slot.mux.sock)
        slot.events = 0


def send_one(
    conn: Connection,
    envelope_from: str,
    recipient: str,
    data: bytes | Sequence[bytes],
    *,
    dot_safe: bool = False,
) -> Attempt:
    """One message over ``conn``, waiting for its outcome (proofs; the loop drives many at once).
    A reset still in flight after an earlier refusal is waited for first. ``dot_safe``: ``data``
    has CRLF line ends and no line starting with "." (a ``ComposedMessage``): sent as it is."""
    with selectors.DefaultSelector() as selector:
        selector.register(conn.sock, selectors.EVENT_READ)
        while conn.busy and not conn.closed:  # the RSET after a refused recipient
            if _wait(selector, conn) is not None:
                break
        if conn.closed:
            return Attempt(Outcome.LOST, None, "connection lost: the connection was closed", "connection")
        conn.start(envelope_from, recipient, data, time.monotonic(), dot_safe=dot_safe)
        while True:
            attempt = _wait(selector, conn)
            if attempt is not None:
                return attempt


def _wait(selector: selectors.BaseSelector, conn: Connection) -> Attempt | None:
    """Wait until ``conn``'s socket is ready or its reply is overdue, then step it."""
    events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.wants_write else 0)
    selector.modify(conn.sock, events)
    ready = selector.select(max(0.0, conn.deadline - time.monotonic()) + 0.01)
    now = time.monotonic()
    return (conn.step(now) if ready else None) or conn.expired(now)
