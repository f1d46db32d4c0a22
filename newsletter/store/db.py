"""The state database: one SQLAlchemy engine per URL, the schema set up on first use (tables in ``tables``).

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
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, and_, bindparam, create_engine, event, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError
from sqlalchemy.schema import CreateIndex
from sqlalchemy.types import TypeDecorator

from ..model import ConfigError

log = logging.getLogger("newsletter.db")


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
    from . import tables  # the tables use UtcDateTime from here

    for attempt in range(attempts):
        try:
            tables.metadata.create_all(engine)
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
    from . import tables

    with engine.begin() as conn:  # the inbox's look-ups of the ledger (issue 13)
        conn.execute(CreateIndex(tables.deliveries_address, if_not_exists=True))
    try:  # IF NOT EXISTS: reflection cannot see expression indexes, so checkfirst would not do
        with engine.begin() as conn:
            conn.execute(CreateIndex(tables.schedules_active, if_not_exists=True))
    except IntegrityError as exc:
        if _lost_creation_race(exc):
            return
        # A file from before the index may hold two active schedules of one segment (the race
        # this index prevents): keep working, refuse duplicates in code, and say what to do.
        log.warning(
            "warning: the state database holds two active schedules of the same issue and segment; "
            "cancel one (`newsletter schedule list`, `newsletter schedule cancel ID`)"
        )


def insert_ignore(conn: Connection, table: object, rows: list[dict[str, object]], keys: list[str]) -> int:
    """INSERT … ON CONFLICT DO NOTHING on SQLite/PostgreSQL; select-then-insert elsewhere.
    Returns the number of rows inserted where the dialect tells (else 0 or more)."""
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        from sqlalchemy.dialects import postgresql, sqlite

        dialect_insert: Any = sqlite.insert if dialect == "sqlite" else postgresql.insert
        stmt = dialect_insert(table).on_conflict_do_nothing(index_elements=keys)
        result = conn.execute(stmt, rows)
        return max(result.rowcount, 0)
    cols = [table.c[k] for k in keys]  # type: ignore[attr-defined]
    fresh = []
    for row in rows:
        cond = and_(*(col == bindparam(f"k_{col.name}", row[col.name]) for col in cols))
        if conn.execute(select(cols[0]).where(cond)).first() is None:
            fresh.append(row)
    if fresh:
        conn.execute(insert(table), fresh)  # type: ignore[arg-type]
    return len(fresh)


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


__all__ = ["UtcDateTime", "engine_for", "insert_ignore", "shown_url", "utcnow"]
