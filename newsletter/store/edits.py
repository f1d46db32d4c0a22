"""Who saved which issue last: the ``edits`` table (append-only; the newest row counts).

Four eyes in the desk: the person who saved an issue last may not approve it. The desk's save
handlers call :func:`record_edit` after every successful save.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select

from .db import utcnow
from .tables import edits


@dataclass(frozen=True)
class Edit:
    issue: str
    user: str
    at: datetime  # aware UTC


def record_edit(engine: Engine, issue: str, user: str, at: datetime | None = None) -> Edit:
    """Note that ``user`` saved ``issue`` (its slug) now, or at ``at``."""
    edit = Edit(issue, user, at or utcnow())
    with engine.begin() as conn:
        conn.execute(insert(edits).values(issue=edit.issue, user_name=edit.user, created_at=edit.at))
    return edit


def last_edit(engine: Engine, issue: str) -> Edit | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(edits)
            .where(edits.c.issue == issue)
            .order_by(edits.c.created_at.desc(), edits.c.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    m = row._mapping
    return Edit(m["issue"], m["user_name"], m["created_at"])


__all__ = ["Edit", "last_edit", "record_edit"]
