"""A classified report → what to do: which ledger row it is about, whether to suppress, what to record.

Matching (``match``): with VERP the token in the address the report was sent to names the row; a
token that does not verify matches nothing, whatever else the report says (it is forged or not
ours). Without a token, the original Message-ID the ledger stores; without VERP only, then the
recipient address among the deliveries the relay accepted in the last 30 days. A plain-text notice
(a guess) needs the token or the Message-ID to name the very address it guessed.

Soft bounces (``soft_streak``): a delivery is *accepted* when the relay took it (``sent_at`` set)
and no failure report (soft or hard) has been recorded for it; delayed reports and 5.7.x blocks
neither count nor reset. The count for an address is the number of different issues among its
soft-bounced deliveries after its last accepted one, so a later accepted delivery starts the count
from zero, and a late report about an old delivery counts only if nothing was accepted since.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from ..config import Config
from ..mail.compose import delivery_row_of
from ..mail.tokens import InvalidToken, read_token
from ..mail.verp import read_verp, verp_token
from ..reports import Kind, Recipient, Report, Severity
from ..store.inbox import Changes, Delivery, Event

ADDRESS_WINDOW = timedelta(days=30)
# a report's original Message-IDs (of our domain) looked up, best first: a forged report quoting
# thousands would otherwise cost one lookup each (the original's own id comes first)
LOOKUPS = 3
_FAILED = frozenset({Severity.SOFT, Severity.HARD})
LABELS = {
    Severity.HARD: "hard bounce",
    Severity.SOFT: "soft bounce",
    Severity.DELAYED: "delayed",
    Severity.BLOCKED: "blocked",
    Severity.DELIVERED: "delivered",
    "complaint": "complaint",
    "unsubscribe": "unsubscribe",
}


class Book(Protocol):
    """What deciding reads of the state database (``store.inbox.InboxBook``)."""

    def delivery(self, row_id: int) -> Delivery | None: ...

    def by_message_id(self, message_id: str, row_id: int | None = None) -> Delivery | None: ...

    def latest_to(self, address: str, since: datetime) -> Delivery | None: ...

    def history(self, address: str) -> list[tuple[Delivery, frozenset[str]]]: ...

    def suppressed(self, address: str) -> bool: ...


@dataclass
class Context:
    config: Config
    book: Book
    now: datetime
    # severities decided in this run but not recorded (a dry run): delivery id → severities
    unrecorded: dict[int, set[str]] = field(default_factory=dict)
    # address → reason, for each address this run suppressed (or, a dry run, would have)
    suppressing: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    report: Report
    changes: Changes | None  # None: the mail is left exactly where it is, nothing recorded
    left_because: str = ""  # why it is left (for the office)


def decide(report: Report, ctx: Context) -> Plan:
    if report.kind is Kind.PERSONAL:
        return Plan(report, None, "a person's mail")
    if report.kind is Kind.AUTO_REPLY:
        return Plan(report, None, "an auto-reply (never a bounce)")
    if report.kind is Kind.UNSUBSCRIBE:
        return _unsubscribe(report, ctx)
    if not report.recipients:
        return Plan(report, None, f"a {_what(report)} that names no recipient")
    events, bounced, suppress, reasons = [], [], [], []
    found = candidates(report, ctx)
    for position, recipient in enumerate(report.recipients):
        row, why = match(report, recipient, ctx, found)
        if row is None:
            reasons.append(f"{recipient.address}: {why}")
            continue
        action, marks, suppression = _act(report, recipient, row, ctx)
        bounced += marks
        suppress += suppression
        severity = "complaint" if report.kind is Kind.COMPLAINT else str(recipient.severity)
        events.append(_event(report, position, severity, recipient, row, action))
    if not events:
        return Plan(report, None, f"a {_what(report)}, nobody suppressed: {'; '.join(reasons)}")
    return Plan(report, Changes(tuple(events), tuple(bounced), tuple(suppress)))


@dataclass(frozen=True)
class Candidates:
    """The ledger rows a report names, looked up once per report: by VERP token (``verp``: None
    when it carries no token of ours) and by the original Message-ID."""

    verp: list[Delivery] | None
    by_message_id: list[Delivery]


def candidates(report: Report, ctx: Context) -> Candidates:
    config, book = ctx.config, ctx.book
    tokens = [t for a in report.verp_candidates if (t := verp_token(a, config)) is not None]
    if tokens:
        return Candidates([r for t in tokens if (i := read_verp(t, config)) and (r := book.delivery(i))], [])
    found = [
        r
        for m in _ours(report, config)[:LOOKUPS]
        if (r := book.by_message_id(m, delivery_row_of(m, config.mail_domain)))
    ]
    return Candidates(None, found)


def match(
    report: Report, recipient: Recipient, ctx: Context, found: Candidates | None = None
) -> tuple[Delivery | None, str]:
    """The ledger row the report is about for this recipient, or None and why not (``found``: the
    report's ``candidates``, looked up here when not given)."""
    config, book = ctx.config, ctx.book
    found = found if found is not None else candidates(report, ctx)
    single = len(report.recipients) == 1 and report.kind is not Kind.NOTICE
    if found.verp is not None:
        if not found.verp:
            return None, "its VERP token does not verify"
        return _same(found.verp, recipient, single, "the VERP token names another address")
    if found.by_message_id:
        return _same(found.by_message_id, recipient, single, "the Message-ID names another address")
    if report.kind is Kind.NOTICE:
        return None, "a guess, and neither a VERP token nor a Message-ID of ours names the address"
    if config.verp:
        return None, "no VERP token and no Message-ID of ours"
    row = book.latest_to(recipient.address, ctx.now - ADDRESS_WINDOW)
    return (row, "") if row else (None, "no delivery to this address in the last 30 days")


def _ours(report: Report, config: Config) -> list[str]:
    """The quoted Message-IDs our own mail could have had (of ``mail_domain``)."""
    domain = "@" + config.mail_domain.lower()
    return [m for m in report.original_message_ids if m.lower().rstrip(">").endswith(domain)]


def _same(
    rows: list[Delivery], recipient: Recipient, single: bool, other: str
) -> tuple[Delivery | None, str]:
    for row in rows:
        if row.address.lower() == recipient.address:
            return row, ""
    # a one-recipient report about our mail whose final recipient is an alias of the member's address
    return (rows[0], "") if single else (None, other)


def _act(
    report: Report, recipient: Recipient, row: Delivery, ctx: Context
) -> tuple[str, list[tuple[int, str]], list[tuple[str, str, str]]]:
    """The event's action text, the rows to mark bounced and the suppressions."""
    day = f"{(report.date or ctx.now):%Y-%m-%d}"
    said = recipient.diagnostic
    words = "reported by mail: " + (
        said if recipient.status in said else f"{recipient.status} {said}".strip()
    )
    if report.kind is Kind.COMPLAINT:
        source = f"arf {day}"
        return _suppress(ctx, row.address, "complained", source), [], [(row.address, "complained", source)]
    source = f"{'dsn' if report.kind is Kind.DSN else 'notice'} {day} {recipient.status or 'no status'}"
    severity = recipient.severity
    _note(ctx, row, severity)
    if severity is Severity.HARD:
        marked = [(row.id, words)] if row.state == "sent" else []
        action = _suppress(ctx, row.address, "bounced", source)
        return action + (", ledger row bounced" if marked else ""), marked, [(row.address, "bounced", source)]
    if severity is Severity.SOFT:
        streak = soft_streak(ctx, row)
        limit = ctx.config.inbox.soft_bounces if ctx.config.inbox else 3
        count = f"soft bounce {len(streak)} of {limit}"
        if len(streak) < limit:
            return f"counted ({count})", [], []
        source = f"{source}, {len(streak)} soft bounce{'s' if len(streak) != 1 else ''}"
        return (
            _suppress(ctx, row.address, "bounced", source) + f" ({count})",
            [],
            [(row.address, "bounced", source)],
        )
    if severity is Severity.BLOCKED:
        return "counted, nobody suppressed (a block is about the sender, not the member)", [], []
    if severity is Severity.DELAYED:
        return "recorded (the relay still tries)", [], []
    return "recorded (delivered)", [], []


def soft_streak(ctx: Context, row: Delivery) -> list[str]:
    """The issues of the address's soft bounces since its last accepted delivery, this one included."""
    issues: list[str] = []
    for delivery, severities in ctx.book.history(row.address):
        seen = set(severities) | ctx.unrecorded.get(delivery.id, set())
        if delivery.id == row.id:
            seen.add(Severity.SOFT)
        if Severity.SOFT in seen and Severity.HARD not in seen:
            if delivery.issue not in issues:
                issues.append(delivery.issue)
        elif not seen & _FAILED and not seen & {Severity.BLOCKED, Severity.DELAYED}:
            issues = []  # accepted: no failure reported for it
    return issues


def _note(ctx: Context, row: Delivery, severity: str) -> None:
    ctx.unrecorded.setdefault(row.id, set()).add(severity)


def _suppress(ctx: Context, address: str, reason: str, source: str) -> str:
    if address in ctx.suppressing or ctx.book.suppressed(address):
        return f"already suppressed (kept as it was; this report: {reason})"
    ctx.suppressing[address] = reason
    return f"suppressed ({reason}: {source})"


def _unsubscribe(report: Report, ctx: Context) -> Plan:
    try:
        claims = read_token(report.token, ctx.config, dev_key=False)
    except InvalidToken:
        return Plan(report, None, "an unsubscribe without a valid token (for a person)")
    address = claims.address.lower()
    day = f"{(report.date or ctx.now):%Y-%m-%d}"
    action = _suppress(ctx, address, "unsubscribed", f"mailto {day}")
    event = Event(report.key, 0, str(report.kind), "unsubscribe", address, None, None, "", action,
                  f"from {report.sender}: {report.subject}"[:500], True, report.date)  # fmt: skip
    return Plan(report, Changes((event,), (), ((address, "unsubscribed", f"mailto {day}"),)))


def _event(
    report: Report, position: int, severity: str, recipient: Recipient, row: Delivery, action: str
) -> Event:
    return Event(
        message_key=report.key,
        position=position,
        kind=str(report.kind),
        severity=severity,
        address=row.address,
        delivery_id=row.id,
        issue=row.issue,
        status=recipient.status,
        action=action,
        diagnostic=recipient.diagnostic or report.diagnostic,
        moved=True,
        reported_at=report.date,
    )


def _what(report: Report) -> str:
    return {Kind.DSN: "delivery report", Kind.COMPLAINT: "complaint", Kind.NOTICE: "bounce notice"}.get(
        report.kind, str(report.kind)
    )


def label(severity: str) -> str:
    return LABELS.get(severity, severity)


__all__ = ["Book", "Candidates", "Context", "Plan", "candidates", "decide", "label", "match", "soft_streak"]
