"""Sign-ups, consents, preferences and the change log in the state database (issue 14).

``confirm`` writes a double opt-in in one transaction: the consent record (proof: the text's hash
and language, both times, the source, the truncated IP if configured), the sign-up, the consented
language and segments as the reader's own choice (so they hold for a member of the CSV too), the
change for the office, and lifts an unsubscribe made before the request (a new, provable consent;
a link requested before the unsubscribe or an erasure is refused). ``set_choice`` stores
a reader's preference; ``forget`` erases every plain copy of an address and keeps only the
suppression's hash (GDPR Art. 17); ``about`` reads everything stored about one (Art. 15).
``allow`` counts requests for the sign-up limits in the database, so every ``serve`` process agrees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..audience.address import address_hash, canonical
from ..audience.signups import Choice, Signup, SignupRequest
from .db import utcnow
from .tables import changes, consents, deliveries, marks, preferences, rate_limits, signups, suppressions

EXPORT_MARK = "changes_export"
LIFTED_BY_CONSENT = ("unsubscribed", "erased")  # a bounce or a complaint stays, whatever the form says


def _segments(cell: str) -> frozenset[str]:
    return frozenset(s for s in cell.split("|") if s)


@dataclass(frozen=True)
class Change:
    """One line of ``subscribers changes``."""

    at: datetime
    kind: str  # signup | preferences | unsubscribed | bounced | complained | manual | erasure
    address: str  # empty after an erasure
    address_hash: str
    detail: dict[str, str]


class Subscriptions:
    """The subscription tables of one state database (``edges.subscriptions``)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    # ── sign-up ──

    def confirm(self, request: SignupRequest, request_id: str, source: str = "form") -> bool:
        """Record a confirmed sign-up; False (nothing changed) for a link confirmed before, or one
        requested before the address's unsubscribe or erasure (unsubscribes always win)."""
        now, h = utcnow(), address_hash(request.address)
        choice = request.choice
        lifted = (suppressions.c.address_hash == h, suppressions.c.reason.in_(LIFTED_BY_CONSENT))
        try:
            with self.engine.begin() as conn:
                # an unsubscribe (or erasure) after this link was requested wins: the link is stale
                newer = select(suppressions.c.address_hash).where(
                    *lifted, suppressions.c.created_at >= request.requested_at
                )
                if conn.execute(newer).first() is not None:
                    return False
                conn.execute(insert(consents).values(
                    request_id=request_id, address_hash=h, address=request.address, segments=choice.cell,
                    language=choice.language, text_hash=request.text_hash,
                    text_language=request.text_language, source=source, ip=request.ip,
                    requested_at=request.requested_at, confirmed_at=now,
                ))  # fmt: skip
                row = {
                    "address": request.address, "salutation": request.salutation,
                    "first_name": request.first_name, "last_name": request.last_name,
                    "company": request.company, "language": choice.language, "segments": choice.cell,
                    "confirmed_at": now,
                }  # fmt: skip
                if (
                    conn.execute(update(signups).where(signups.c.address_hash == h).values(**row)).rowcount
                    == 0
                ):
                    conn.execute(insert(signups).values(address_hash=h, **row))
                # the consented choice is the reader's own: it beats a member list row of the address too
                chosen = {"address": request.address, "language": choice.language, "segments": choice.cell,
                          "updated_at": now}  # fmt: skip
                if (
                    conn.execute(
                        update(preferences).where(preferences.c.address_hash == h).values(**chosen)
                    ).rowcount
                    == 0
                ):
                    conn.execute(insert(preferences).values(address_hash=h, **chosen))
                conn.execute(
                    delete(suppressions).where(*lifted, suppressions.c.created_at < request.requested_at)
                )
                detail = {k: str(v) for k, v in row.items() if k not in ("address", "confirmed_at")}
                _log(conn, now, "signup", request.address, detail)
        except IntegrityError:  # this link's consent is already recorded (a replay, or a race)
            return False
        return True

    def signups(self) -> list[Signup]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(signups).order_by(signups.c.confirmed_at)).all()
        return [_signup(r) for r in rows]

    def signup(self, address: str) -> Signup | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(signups).where(signups.c.address_hash == address_hash(address))).first()
        return _signup(row) if row else None

    # ── preferences ──

    def choices(self) -> dict[str, Choice]:
        """Every reader's own choice, by normalised address."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(preferences)).all()
        return {r.address: Choice(r.language, _segments(r.segments)) for r in rows}

    def choice(self, address: str) -> Choice | None:
        h = address_hash(address)
        with self.engine.connect() as conn:
            row = conn.execute(select(preferences).where(preferences.c.address_hash == h)).first()
        return Choice(row.language, _segments(row.segments)) if row else None

    def set_choice(self, address: str, choice: Choice) -> None:
        """Store a reader's language and segments (committed: a running send reads it before the
        member's message)."""
        now, h, address = utcnow(), address_hash(address), canonical(address)
        values = {"address": address, "language": choice.language, "segments": choice.cell, "updated_at": now}
        with self.engine.begin() as conn:
            if (
                conn.execute(
                    update(preferences).where(preferences.c.address_hash == h).values(**values)
                ).rowcount
                == 0
            ):
                conn.execute(insert(preferences).values(address_hash=h, **values))
            _log(conn, now, "preferences", address, {"language": choice.language, "segments": choice.cell})

    # ── limits ──

    def allow(self, key: str, limit: int, window: timedelta) -> bool:
        """Count one request under ``key``; False once ``limit`` were counted within ``window``.

        Each step is one atomic statement, so concurrent processes never both get the last place."""
        now = utcnow()
        cut = now - window
        c = rate_limits.c
        with self.engine.begin() as conn:
            counted = conn.execute(
                update(rate_limits)
                .where(c.key == key, c.window_start > cut, c.count < limit)
                .values(count=c.count + 1)
            ).rowcount
            if counted:
                return True
            reset = conn.execute(
                update(rate_limits)
                .where(c.key == key, c.window_start <= cut)
                .values(count=1, window_start=now)
            ).rowcount
            if reset:
                return True
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(rate_limits).values(key=key, count=1, window_start=now))
        except IntegrityError:  # the key exists and is used up (or another process just made it)
            return False
        return True

    def purge_limits(self, older_than: timedelta = timedelta(days=2)) -> int:
        with self.engine.begin() as conn:
            cut = utcnow() - older_than
            return conn.execute(delete(rate_limits).where(rate_limits.c.window_start < cut)).rowcount

    # ── the office ──

    def changes(self, since: datetime | None) -> list[Change]:
        """Sign-ups, preference changes, suppressions and erasures after ``since`` (all: None), oldest first."""
        with self.engine.connect() as conn:
            q = select(changes).order_by(changes.c.at, changes.c.id)
            s = select(suppressions)
            if since is not None:
                q, s = q.where(changes.c.at > since), s.where(suppressions.c.created_at > since)
            found = [
                Change(r.at, r.kind, r.address or "", r.address_hash, json.loads(r.detail or "{}"))
                for r in conn.execute(q)
            ]
            found += [
                Change(r.created_at, r.reason, r.address or "", r.address_hash, {"source": r.source})
                for r in conn.execute(s)
                if r.reason != "erased"  # the erasure itself is in the change log
            ]
        return sorted(found, key=lambda c: c.at)

    def last_export(self) -> datetime | None:
        with self.engine.connect() as conn:
            return conn.execute(select(marks.c.at).where(marks.c.name == EXPORT_MARK)).scalar_one_or_none()

    def mark_export(self, at: datetime) -> None:
        with self.engine.begin() as conn:
            if conn.execute(update(marks).where(marks.c.name == EXPORT_MARK).values(at=at)).rowcount == 0:
                conn.execute(insert(marks).values(name=EXPORT_MARK, at=at))

    def about(self, address: str) -> dict[str, list[dict[str, Any]]]:
        """Everything stored about ``address``, table by table (GDPR Art. 15)."""
        h = address_hash(address)
        plain = canonical(address)
        wanted = {
            "sign-up": select(signups).where(signups.c.address_hash == h),
            "consents": select(consents).where(consents.c.address_hash == h).order_by(consents.c.id),
            "preferences": select(preferences).where(preferences.c.address_hash == h),
            "deliveries": select(deliveries).where(deliveries.c.address == plain).order_by(deliveries.c.id),
            "suppression": select(suppressions).where(suppressions.c.address_hash == h),
            "changes": select(changes).where(changes.c.address_hash == h).order_by(changes.c.id),
        }
        with self.engine.connect() as conn:
            return {name: [dict(r._mapping) for r in conn.execute(q)] for name, q in wanted.items()}

    def forget(self, address: str) -> dict[str, int]:
        """Erase every plain copy of ``address``; only the suppression's hash stays, so it is never
        mailed again (GDPR Art. 17). Returns the rows touched per table."""
        now, h, plain = utcnow(), address_hash(address), canonical(address)
        erased = f"erased:{h}"  # the ledger keeps its counts; the row no longer names anyone
        touched: dict[str, int] = {}
        with self.engine.begin() as conn:
            for name, table in (("sign-up", signups), ("consents", consents), ("preferences", preferences)):
                touched[name] = conn.execute(delete(table).where(table.c.address_hash == h)).rowcount
            touched["deliveries"] = conn.execute(
                update(deliveries)
                .where(deliveries.c.address == plain)
                .values(address=erased, last_reply=None)
            ).rowcount
            touched["changes"] = conn.execute(
                update(changes).where(changes.c.address_hash == h).values(address=None, detail="{}")
            ).rowcount
            kept = conn.execute(
                update(suppressions).where(suppressions.c.address_hash == h).values(address=None)
            ).rowcount
            if not kept:
                conn.execute(insert(suppressions).values(
                    address_hash=h, address=None, reason="erased", source="forget", created_at=now
                ))  # fmt: skip
            touched["suppression"] = 1
            conn.execute(
                insert(changes).values(at=now, kind="erasure", address_hash=h, address=None, detail="{}")
            )
        return touched


def _log(conn: Connection, now: datetime, kind: str, address: str, detail: dict[str, str]) -> None:
    conn.execute(
        insert(changes).values(
            at=now, kind=kind, address_hash=address_hash(address), address=canonical(address),
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
        )
    )  # fmt: skip


def _signup(row: Any) -> Signup:
    return Signup(
        address=row.address,
        salutation=row.salutation,
        first_name=row.first_name,
        last_name=row.last_name,
        company=row.company,
        choice=Choice(row.language, _segments(row.segments)),
        confirmed_at=row.confirmed_at,
    )


__all__ = ["EXPORT_MARK", "Change", "Subscriptions"]
