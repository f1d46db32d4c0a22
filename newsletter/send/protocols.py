"""The interfaces the send engine owns; the edges implement them and hand them in (listmonk's manager).

``Transport.connect`` opens, secures and authenticates a ``Connection`` (blocking, rare; ``smtp``)
or raises ``TransportError``; the connection is then driven without blocking, one message
transaction at a time, through one selector (the loop, ``slots``) or to the end of one message
(proofs, ``slots.send_one``). ``Store`` is the ledger as the engine uses it: the issue's lease, the
runs, the frozen audience, the report's counts and the latest approval; its ``StoreSession`` is the
loop's hot path (claims, staged outcomes made durable by ``commit``, suppression look-ups).
``Suppressions`` is the list of addresses never to mail. ``SendParts`` carries the three real ones
(``edges.send_parts``) into ``run.run_send``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ..approval import Approval
from ..audience.signups import Choice, Signup
from ..model import DeliveryError, DeliveryState, SendState
from .job import Row
from .outcomes import Attempt
from .report import FailedRow, LedgerCounts


class Connection(Protocol):
    """One open SMTP connection and its in-flight message transaction, stepped when its socket is ready."""

    sock: socket.socket
    deadline: float  # monotonic time by which the next reply is due
    sent: int  # messages started on this connection
    closed: bool

    @property
    def busy(self) -> bool: ...

    @property
    def wants_write(self) -> bool: ...

    def start(
        self,
        envelope_from: str,
        recipient: str,
        data: bytes | Sequence[bytes],
        now: float,
        *,
        dot_safe: bool = False,
    ) -> None:
        """Begin one message; ``data`` may come in pieces, written in order (``dot_safe``: CRLF line
        ends and no line starting with "." — sent as it is, without dot-stuffing)."""
        ...

    def step(self, now: float) -> Attempt | None: ...

    def expired(self, now: float) -> Attempt | None: ...

    def close(self) -> None: ...


class Transport(Protocol):
    per_connection: int  # messages per connection before it is recycled

    def connect(self) -> Connection:
        """Open, secure and authenticate one connection; raises TransportError."""
        ...


class TransportError(DeliveryError):
    """A connection could not be opened, secured or authenticated."""

    def __init__(self, attempt: Attempt, message: str):
        super().__init__(message)
        self.attempt = attempt


class StoreSession(Protocol):
    """The loop's hot path over one held connection (single thread).

    ``record`` stages an outcome; ``commit`` makes every staged one durable in one transaction. The
    loop commits before it starts the next message on a connection, so a ``sent`` row is only ever
    written after its 250 and at most one accepted message per connection is unrecorded."""

    def claim(self, ids: Sequence[int], holder: str, now: datetime) -> list[int]: ...

    def recheck(self, address: str) -> str | Choice | None:
        """Right before the member's message: ``"suppressed"``, the reader's current ``Choice``
        (language and segments from the preference page), or None."""
        ...

    def record(
        self,
        row_id: int,
        state: DeliveryState,
        *,
        now: datetime,
        code: int | None,
        reply: str,
        attempts: int,
        message_id: str | None = None,
        next_attempt_at: datetime | None = None,
        suppress: tuple[str, str] | None = None,
        edition: str | None = None,
    ) -> None: ...

    def commit(self) -> None: ...

    def close(self) -> None: ...


class Store(Protocol):
    """The ledger as ``run_send`` and the loop use it (``store.ledger.Ledger``)."""

    def acquire(self, issue: str) -> str:
        """Take the issue's send lease (RefusedError while another send holds it); the holder name."""
        ...

    def heartbeat(self, issue: str, holder: str) -> bool:
        """Extend the lease; False once another process took it over."""
        ...

    def release(self, issue: str, holder: str) -> None: ...

    def start_send(self, issue: str, segments: Sequence[str], now: datetime) -> int: ...

    def finish_send(self, send_id: int, state: SendState, reason: str | None, now: datetime) -> None: ...

    def freeze(
        self, issue: str, send_id: int, rows: Iterable[tuple[str, str, int, str]], now: datetime
    ) -> int:
        """Add (address, edition, CSV line, state) rows not in the ledger yet; how many were added."""
        ...

    def recover(self, issue: str, now: datetime) -> int:
        """Rows a dead process left ``sending`` back to ``pending``."""
        ...

    def reopen_failed(
        self,
        issue: str,
        addresses: Iterable[str] | None,
        now: datetime,
        states: Sequence[DeliveryState] = (DeliveryState.FAILED, DeliveryState.UNKNOWN),
    ) -> int: ...

    def rows(self, issue: str) -> list[Row]: ...

    def counts(self, issue: str) -> LedgerCounts: ...

    def failed(self, issue: str) -> list[FailedRow]: ...

    def session(self) -> StoreSession: ...

    def release_claims(self, issue: str, holder: str, now: datetime) -> int: ...

    def latest_approval(self, issue: str) -> Approval | None: ...


class Suppressions(Protocol):
    """The suppression list: whatever the member list says, these addresses are not mailed."""

    def filter(self, addresses: Iterable[str]) -> set[str]:
        """The suppressed ones among ``addresses``, as given (bulk)."""
        ...

    def contains(self, address: str) -> bool: ...


class Subscriptions(Protocol):
    """Confirmed sign-ups (members not in the CSV) and readers' own choices (``store.subscriptions``)."""

    def signups(self) -> list[Signup]: ...

    def choices(self) -> dict[str, Choice]: ...


@dataclass(frozen=True)
class SendParts:
    """The engine's I/O, built once by an edge (``edges.send_parts``) and handed to every send."""

    store: Store
    suppressions: Suppressions
    transport: Transport
    subscriptions: Subscriptions | None = None  # None: the CSV's members only


__all__ = [
    "Connection",
    "SendParts",
    "Store",
    "StoreSession",
    "Subscriptions",
    "Suppressions",
    "Transport",
    "TransportError",
]
