"""The state database: one SQLAlchemy engine and every table (ledger, suppressions, schedules …).

SQLite by default (WAL, synchronous=NORMAL, busy timeout: survives a kill without losing a
commit and lets the scheduler, the sender and the unsubscribe service share one file);
the same URL scheme takes PostgreSQL. Only store modules import this.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData()


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the state database")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# Addresses that must never be mailed again, whatever the CSV says.
suppressions = Table(
    "suppressions",
    metadata,
    Column("address_hash", String(64), primary_key=True),  # sha256 of the normalised address
    Column("address", String(320), nullable=True),  # kept so the office can update its database
    Column("reason", String(20), nullable=False),  # unsubscribed | bounced | complained | manual
    Column("source", String(200), nullable=False),  # e.g. "one-click", "smtp 550 5.1.1", "cli"
    Column("created_at", UtcDateTime, nullable=False),
)

# One run of `newsletter send` (or a scheduled job) for an issue.
sends = Table(
    "sends",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("issue", String(200), nullable=False, index=True),
    Column("segments", String(200), nullable=False),  # what --to asked for, "poland,usa"
    Column("state", String(20), nullable=False),  # running | paused | finished | stopped
    Column("reason", Text, nullable=True),  # why paused/stopped
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# The ledger: one row per (issue, member address), created when the send starts.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("issue", String(200), nullable=False),
    Column("address", String(320), nullable=False),  # normalised envelope address
    Column("send_id", Integer, nullable=False),
    Column("edition", String(200), nullable=False),  # Edition.key, e.g. "poland+usa.de"
    Column("member_line", Integer, nullable=True),  # CSV line when the audience was frozen
    # pending → sending → sent | failed | bounced | unknown | suppressed
    Column("state", String(20), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_code", Integer, nullable=True),
    Column("last_reply", Text, nullable=True),
    Column("message_id", String(200), nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    UniqueConstraint("issue", "address", name="uq_delivery_issue_address"),
)

# Persistent schedules: one absolute UTC instant per (issue, segment[, zone]).
schedules = Table(
    "schedules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("issue", String(200), nullable=False),
    Column("segment", String(100), nullable=False),
    Column("issue_path", Text, nullable=True),  # the issue folder the job sends (schedule area)
    Column("member_timezone", String(64), nullable=True),  # per-member-timezone jobs
    Column("at_utc", UtcDateTime, nullable=False),
    Column("local_zone", String(64), nullable=False),  # zone the editor meant
    Column("state", String(20), nullable=False),  # scheduled | running | done | held | cancelled | failed
    Column("message", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# A lease so only one scheduler process works on a database at a time.
locks = Table(
    "locks",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("holder", String(200), nullable=False),  # host:pid:uuid
    Column("expires_at", UtcDateTime, nullable=False),
)

# Four-eyes approval of an issue's rendered content.
approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("issue", String(200), nullable=False, index=True),
    Column("approved_by", String(200), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("editions", Text, nullable=False),  # JSON: edition key → hash
    Column("created_at", UtcDateTime, nullable=False),
)


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One engine per URL per process; creates the tables on first use."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, pool_pre_ping=False)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    metadata.create_all(engine)
    return engine


__all__ = [
    "approvals",
    "deliveries",
    "engine_for",
    "locks",
    "metadata",
    "schedules",
    "sends",
    "suppressions",
    "utcnow",
    "UniqueConstraint",
]
