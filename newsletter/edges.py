"""Where the edges get their I/O: the state database, the ledger, the suppression list, the
subscriptions (sign-ups, preferences), the SMTP transport, the desk's users, and the engine's
``SendParts`` (store, suppressions, transport, subscriptions).

The CLI, the scheduler and the web apps call these once per process (per configuration) and
hand the parts down; this is the one module that opens the state database (``store.db.engine_for``,
one engine per URL) and the only place that chooses the real store and transport for the engine.
Each function imports what it builds, so a command loads SQLAlchemy or smtplib only when it uses them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import Config

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from .send.protocols import SendParts
    from .smtp.transport import SmtpTransport
    from .store.inbox import InboxBook
    from .store.ledger import Ledger
    from .store.subscriptions import Subscriptions
    from .store.suppressions import Suppressions
    from .store.users import Users


def state_database(config: Config) -> Engine:
    """The state database of ``NEWSLETTER_DATABASE`` (created on first use; ConfigError if it cannot open)."""
    from .store.db import engine_for

    return engine_for(config.database_url)


def ledger(config: Config) -> Ledger:
    from .store.ledger import Ledger

    return Ledger(state_database(config))


def suppressions(config: Config) -> Suppressions:
    from .store.suppressions import Suppressions

    return Suppressions(state_database(config))


def users(config: Config) -> Users:
    """The people of the desk (``newsletter users``, the desk's sign-in)."""
    from .store.users import Users

    return Users(state_database(config))


def subscriptions(config: Config) -> Subscriptions:
    """Sign-ups, consents, preferences and the change log (issue 14)."""
    from .store.subscriptions import Subscriptions

    return Subscriptions(state_database(config))


def inbox_book(config: Config) -> InboxBook:
    """The inbox's view of the state database: ledger look-ups, its record, suppressions (issue 13)."""
    from .store.inbox import InboxBook

    return InboxBook(state_database(config))


def transport(config: Config) -> SmtpTransport:
    """The configured relay; nothing is contacted before the first ``connect``."""
    from .smtp.transport import SmtpTransport

    return SmtpTransport(config.smtp)


def send_parts(config: Config) -> SendParts:
    """The real store, suppression list and transport for ``send.run.run_send``."""
    from .send.protocols import SendParts

    return SendParts(
        store=ledger(config),
        suppressions=suppressions(config),
        transport=transport(config),
        subscriptions=subscriptions(config),
    )


__all__ = [
    "inbox_book",
    "ledger",
    "send_parts",
    "state_database",
    "subscriptions",
    "suppressions",
    "transport",
    "users",
]
