"""The state database: one SQLAlchemy engine and every table (ledger, suppressions, schedules …).

SQLite by default (WAL, synchronous=NORMAL, busy timeout: survives a kill without losing a
commit and lets the scheduler, the sender and the unsubscribe service share one file);
the same URL scheme takes PostgreSQL. Only store modules import this.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError
from sqlalchemy.schema import CreateIndex
from sqlalchemy.types import TypeDecorator

from .model import ConfigError

log = logging.getLogger("newsletter.db")
metadata = MetaData()
# Schedule states that still send (schedule.py): at most one such row per issue, segment and zone.
ACTIVE_SCHEDULE_STATES = ("scheduled", "running", "held")


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
    Column("state", String(20), nullable=False),  # running | paused | finished | stopped | interrupted
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
# The database, not a check-then-insert, keeps a second active schedule of one issue and segment
# out (two `newsletter schedule` commands racing): a partial unique index, which SQLite and
# PostgreSQL both have, so cancelled and done rows never block a new schedule. Per-member-timezone
# jobs differ by zone; plain ones have none (NULLs are distinct in a unique index, hence coalesce).
schedules_active = Index(
    "uq_schedules_active",
    schedules.c.issue,
    schedules.c.segment,
    func.coalesce(schedules.c.member_timezone, ""),
    unique=True,
    sqlite_where=schedules.c.state.in_(ACTIVE_SCHEDULE_STATES),
    postgresql_where=schedules.c.state.in_(ACTIVE_SCHEDULE_STATES),
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
    """One engine per URL per process; creates the tables on first use.

    A database that cannot be opened (bad URL, missing driver, missing folder, not a database,
    server down) is a ConfigError naming NEWSLETTER_DATABASE, for every command."""
    try:
        engine = _engine(url)
        _create_schema(engine)
    except (ArgumentError, ImportError, DBAPIError) as exc:
        raise _cannot_open(url, exc) from None
    return engine


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, pool_pre_ping=False)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            _set_wal(cur)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def _set_wal(cur: sqlite3.Cursor, timeout: float = 30.0) -> None:
    """Switching a new file to WAL needs it alone for a moment and SQLite does not wait for that
    (no busy handler): a second process opening the same new file gets "database is locked" at
    once. Wait for it here; once the file is in WAL mode the pragma is a no-op."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _create_schema(engine: Engine, attempts: int = 6) -> None:
    """create_all checks, then creates: two processes opening a new database at once both see
    "no table" and the slower one gets "already exists". That only means the other won; look again."""
    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            _add_missing_indexes(engine)
            return
        except DBAPIError as exc:
            if attempt == attempts - 1 or not _lost_creation_race(exc):
                raise
            time.sleep(0.05 * (attempt + 1))


def _lost_creation_race(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    # SQLite: "table x already exists"; PostgreSQL: DuplicateTable, or a unique violation in its
    # catalogue (pg_type / pg_class) when two CREATE TABLE commit together.
    return "already exists" in text or (isinstance(exc, IntegrityError) and "pg_" in text)


def _add_missing_indexes(engine: Engine) -> None:
    """Indexes added after a database was created (create_all skips existing tables)."""
    try:  # IF NOT EXISTS: reflection cannot see expression indexes, so checkfirst would not do
        with engine.begin() as conn:
            conn.execute(CreateIndex(schedules_active, if_not_exists=True))
    except IntegrityError as exc:
        if _lost_creation_race(exc):
            return
        # A file from before the index may hold two active schedules of one segment (the race
        # this index prevents): keep working, refuse duplicates in code, and say what to do.
        log.warning(
            "warning: the state database holds two active schedules of the same issue and segment; "
            "cancel one (`newsletter schedule list`, `newsletter schedule cancel ID`)"
        )


def shown_url(url: str) -> str:
    """The URL as the user wrote it, with any password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        scheme, sep, rest = url.partition("://")
        user, at, host = rest.rpartition("@")
        return f"{scheme}{sep}{user.partition(':')[0]}:***{at}{host}" if at else url


def _cannot_open(url: str, exc: Exception) -> ConfigError:
    shown = f"NEWSLETTER_DATABASE={shown_url(url)}"
    examples = "sqlite:///FILE or postgresql+psycopg://USER@HOST/DATABASE"
    if isinstance(exc, NoSuchModuleError):
        kind = url.partition("://")[0]
        return ConfigError(f"{shown} names an unknown kind of database ('{kind}'); use {examples}")
    if isinstance(exc, ArgumentError):
        return ConfigError(
            f"{shown} is not a database URL; write e.g. sqlite:///newsletter.db (a file in the "
            "project folder) or postgresql+psycopg://USER@HOST/DATABASE"
        )
    if isinstance(exc, ImportError):
        return ConfigError(
            f"{shown}: the database driver is not installed ({exc}); "
            "for PostgreSQL: pip install -e '.[postgres]'"
        )
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    return ConfigError(f"{shown}: cannot open the state database: {_explain(url, reason)}")


def _explain(url: str, reason: str) -> str:
    """What the driver's complaint means for the file or server the URL names."""
    database = make_url(url).database if url.startswith("sqlite") else None
    if not database or database == ":memory:":
        return f"{reason}; check NEWSLETTER_DATABASE and that the database server is running"
    path = Path(database)
    if not path.parent.is_dir():
        return (
            f"the folder {path.parent} does not exist; create it, or point NEWSLETTER_DATABASE at a "
            "file in an existing folder"
        )
    if path.is_dir():
        return f"{path} is a folder; point NEWSLETTER_DATABASE at a file in it, e.g. {path / 'newsletter.db'}"
    if "not a database" in reason:
        return (
            f"{path} is not an SQLite database ({reason}); point NEWSLETTER_DATABASE at the state "
            "database, or at a new file name to start an empty one"
        )
    return f"{reason} ({path}); check that this user may read and write it and its folder"


__all__ = [
    "ACTIVE_SCHEDULE_STATES",
    "approvals",
    "deliveries",
    "engine_for",
    "locks",
    "metadata",
    "schedules",
    "schedules_active",
    "sends",
    "shown_url",
    "suppressions",
    "utcnow",
    "UniqueConstraint",
]
