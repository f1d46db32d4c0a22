"""Every table of the state database (ledger, send runs, suppressions, schedules, leases, approvals,
the desk's users and edits, sign-ups, consents, preferences, changes, rate limits).

SQLAlchemy Core ``Table`` definitions on one ``MetaData``; ``db.engine_for`` creates them (and the
indexes added later) on first use. Times are ``db.UtcDateTime``: aware UTC in, aware UTC out.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text, UniqueConstraint, func

from .db import UtcDateTime

metadata = MetaData()
# Schedule states that still send (schedule.plans): at most one such row per issue, segment and zone.
ACTIVE_SCHEDULE_STATES = ("scheduled", "running", "held")

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

# The editor's desk (issue 12, people): who may sign in, and who saved which issue last.
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),  # as typed (trimmed), shown on pages and approvals
    Column("name_key", String(200), nullable=False, unique=True),  # casefolded: names unique in any case
    Column("role", String(20), nullable=False),  # editor | approver
    Column("password_hash", String(300), nullable=False),  # argon2id, never shown
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_sign_in", UtcDateTime, nullable=True),
)

# One row per save from the desk (append-only): the latest row of an issue is its last editor.
edits = Table(
    "edits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("issue", String(200), nullable=False, index=True),
    Column("user_name", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)


# ── subscriptions (issue 14): sign-ups, consents, preferences, the change log, rate limits ──
# Every address column here is erased by `newsletter forget` (store.subscriptions.forget); the
# hash columns (sha256 of the normalised address) are matching keys only.

# A confirmed sign-up through /subscribe (double opt-in): who, in which language and segments.
signups = Table(
    "signups",
    metadata,
    Column("address_hash", String(64), primary_key=True),
    Column("address", String(320), nullable=False),
    Column("salutation", String(40), nullable=False, default=""),
    Column("first_name", String(100), nullable=False, default=""),
    Column("last_name", String(100), nullable=False, default=""),
    Column("company", String(200), nullable=False, default=""),
    Column("language", String(8), nullable=False),
    Column("segments", String(400), nullable=False, default=""),  # "poland|usa"; empty = general
    Column("confirmed_at", UtcDateTime, nullable=False),
)

# Proof of consent (UWG §7, BGH I ZR 164/09): one row per confirmed consent, never updated.
consents = Table(
    "consents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False, unique=True),  # sha256 of the confirmation token
    Column("address_hash", String(64), nullable=False, index=True),
    Column("address", String(320), nullable=True),
    Column("segments", String(400), nullable=False),
    Column("language", String(8), nullable=False),  # the newsletter's language consented to
    Column("text_hash", String(64), nullable=False),  # sha256 of the consent text shown
    Column("text_language", String(8), nullable=False),  # the language that text was shown in
    Column("source", String(20), nullable=False),  # form | import | office
    Column("ip", String(64), nullable=True),  # truncated (/24, /48), only with record_ip = true
    Column("requested_at", UtcDateTime, nullable=False),
    Column("confirmed_at", UtcDateTime, nullable=False),
)

# A reader's own choice on the preference page: beats the CSV's and the sign-up's columns.
preferences = Table(
    "preferences",
    metadata,
    Column("address_hash", String(64), primary_key=True),
    Column("address", String(320), nullable=False),
    Column("language", String(8), nullable=False),
    Column("segments", String(400), nullable=False),  # "poland|usa"; empty = general articles only
    Column("updated_at", UtcDateTime, nullable=False, index=True),
)

# What the office must carry back into its member database (`newsletter subscribers changes`).
changes = Table(
    "changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("kind", String(20), nullable=False),  # signup | preferences | unsubscribe | erasure
    Column("address_hash", String(64), nullable=False, index=True),
    Column("address", String(320), nullable=True),  # NULL after an erasure
    Column("detail", Text, nullable=False, default=""),  # JSON of the new values
)

# Counters for the sign-up limits, shared by every serve process of a database.
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("key", String(100), primary_key=True),  # "address:<hash>" | "ip:<keyed hash>:<hour>"
    Column("count", Integer, nullable=False),
    Column("window_start", UtcDateTime, nullable=False, index=True),
)

# Small remembered values: the time of the last `subscribers changes` export.
marks = Table(
    "marks",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("at", UtcDateTime, nullable=False),
)


# ── inbound mail (issue 13, `newsletter inbox`) ──
# One row per recipient a processed report named (or one per mail naming nobody): what it was and
# what was done, so a second run and --dry-run know it, and `status` / the preview can show it.
inbox_events = Table(
    "inbox_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_key", String(300), nullable=False),  # the mail's Message-ID, or "sha256:…" of it
    Column("position", Integer, nullable=False),  # 0, 1, … per recipient of the report
    Column("kind", String(20), nullable=False),  # dsn | complaint | unsubscribe | notice
    Column(
        "severity", String(20), nullable=False
    ),  # hard | soft | delayed | blocked | complaint | unsubscribe | none
    Column("address", String(320), nullable=True),
    Column("delivery_id", Integer, nullable=True, index=True),  # the ledger row it was matched to
    Column("issue", String(200), nullable=True, index=True),
    Column("status", String(20), nullable=False, default=""),  # enhanced status code, e.g. 5.1.1
    Column("action", String(300), nullable=False),  # what was done, as `newsletter inbox` printed it
    Column("diagnostic", Text, nullable=True),  # the receiving server's words
    Column("moved", Integer, nullable=False, default=0),  # 1: the mail goes to the Processed folder
    Column("reported_at", UtcDateTime, nullable=True),  # the report's Date
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("message_key", "position", name="uq_inbox_event"),
)
# Without VERP and a Message-ID, a report is matched by its recipient address (issue 13). The
# Message-ID needs no index: it names its row (mail.compose.delivery_row_of), so the send's hot
# path, which writes it, updates no index for it.
deliveries_address = Index("ix_deliveries_address", deliveries.c.address)


__all__ = [
    "ACTIVE_SCHEDULE_STATES",
    "approvals",
    "changes",
    "consents",
    "deliveries",
    "deliveries_address",
    "edits",
    "inbox_events",
    "locks",
    "marks",
    "metadata",
    "preferences",
    "rate_limits",
    "schedules",
    "schedules_active",
    "sends",
    "signups",
    "suppressions",
    "users",
]
