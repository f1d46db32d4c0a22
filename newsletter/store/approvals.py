"""The approvals table: who approved which rendered content of an issue, and when.

``approval`` computes the hashes and decides; this module only writes an ``Approval`` and reads
the latest one back (the edition hashes as JSON, keyed by the edition's name).
"""

from __future__ import annotations

import json

from sqlalchemy import Engine, insert, select

from ..approval import Approval
from .tables import approvals


def record(engine: Engine, approval: Approval) -> None:
    """Store one approval (append-only: the latest one counts)."""
    with engine.begin() as conn:
        conn.execute(
            insert(approvals).values(
                issue=approval.issue,
                approved_by=approval.approved_by,
                content_hash=approval.content_hash,
                editions=json.dumps(dict(approval.editions), sort_keys=True),
                created_at=approval.created_at,
            )
        )


def latest(engine: Engine, issue_slug: str) -> Approval | None:
    """The most recent approval of the issue, or None."""
    with engine.connect() as conn:
        row = conn.execute(
            select(approvals)
            .where(approvals.c.issue == issue_slug)
            .order_by(approvals.c.created_at.desc(), approvals.c.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    m = row._mapping
    return Approval(
        m["issue"], m["approved_by"], m["created_at"], m["content_hash"], json.loads(m["editions"])
    )


__all__ = ["latest", "record"]
