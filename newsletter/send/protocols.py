"""The interfaces the send engine owns; the edges implement them and hand them in (listmonk's manager).

``Transport`` opens, secures and authenticates a ``Connection`` (blocking, rare; ``smtp.transport``)
or raises ``TransportError``; ``Connection.multiplexed`` gives that connection's non-blocking
``Transaction`` (``smtp.transaction``), which the loop drives for every message through one
selector. ``Store`` and ``StoreSession`` are the part of the ledger the loop itself calls
(``store.ledger``): claims, outcomes in their own commit, suppression look-ups, the lease heartbeat.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from ..model import DeliveryError, DeliveryState
from .outcomes import Attempt


class Transaction(Protocol):
    """One connection's in-flight message transaction, stepped when its socket is ready."""

    sock: socket.socket
    deadline: float  # monotonic time by which the next reply is due
    sent: int  # messages started on this connection
    closed: bool

    @property
    def busy(self) -> bool: ...

    @property
    def wants_write(self) -> bool: ...

    def start(
        self, envelope_from: str, recipient: str, data: bytes, now: float, *, crlf: bool = False
    ) -> None: ...

    def step(self, now: float) -> Attempt | None: ...

    def expired(self, now: float) -> Attempt | None: ...

    def close(self) -> None: ...


class Connection(Protocol):
    sent: int  # messages attempted on this connection

    def send(self, envelope_from: str, recipient: str, data: bytes) -> Attempt: ...

    def close(self) -> None: ...

    def multiplexed(self, timeout: float) -> Transaction:
        """This connection driven without blocking (the send loop's way; ``send`` is for proofs)."""
        ...


class Transport(Protocol):
    per_connection: int

    def connect(self) -> Connection:
        """Open, secure and authenticate one connection; raises TransportError."""
        ...


class TransportError(DeliveryError):
    """A connection could not be opened, secured or authenticated."""

    def __init__(self, attempt: Attempt, message: str):
        super().__init__(message)
        self.attempt = attempt


class StoreSession(Protocol):
    """The loop's hot path over one held connection: claims, outcomes, suppression look-ups."""

    def claim(self, ids: Sequence[int], holder: str, now: datetime) -> list[int]: ...

    def is_suppressed(self, address: str) -> bool: ...

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
    ) -> None: ...

    def close(self) -> None: ...


class Store(Protocol):
    """What the send loop asks of the ledger besides its session."""

    def session(self) -> StoreSession: ...

    def heartbeat(self, issue: str, holder: str) -> bool: ...

    def release_claims(self, issue: str, holder: str, now: datetime) -> int: ...


__all__ = ["Connection", "Store", "StoreSession", "Transaction", "Transport", "TransportError"]
