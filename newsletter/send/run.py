"""THE send path (CLI ``send``, scheduler jobs, preview proofs): ``run_send`` and ``send_test``.

    issue ─► pre-flight ─► editions rendered once ─► audience frozen in the ledger ─► SendLoop ─► SendReport

Refusals (exit 2) happen before anything changes: pre-flight errors, a real relay without
NEWSLETTER_SECRET, no valid member addressed (``prepare``), a missing approval, another send of
the issue running. The relay is contacted (TLS, AUTH) before the audience is frozen, so a wrong password
or an untrusted certificate leaves the ledger untouched. The ledger, the suppression list and the
relay come in as ``SendParts`` (``protocols``); an edge builds the real ones (``edges.send_parts``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..audience.address import InvalidAddress, normalise_address
from ..audience.targets import left_out, segment_id
from ..clock import Clock, SystemClock
from ..config import Config
from ..model import (
    ALL,
    DONE_STATES,
    GENERAL,
    OPEN_STATES,
    DeliveryError,
    DeliveryState,
    Edition,
    EditionKey,
    Member,
    RefusedError,
    SendState,
)
from .job import CrashHook, Job, LoopResult, Progress, Row
from .loop import SendLoop
from .outcomes import Outcome
from .prepare import Prepared, prepare_send, wanted_segments
from .protocols import Connection, SendParts, Store, Transport, TransportError
from .report import NOT_DELIVERED, PlannedMessage, SendReport, TestResult
from .retarget import Retarget, reachable
from .slots import send_one

if TYPE_CHECKING:
    from ..approval import Approval

log = logging.getLogger("newsletter.delivery")

__all__ = ["approved_ahead", "placeholder_member", "run_send", "send_test"]


def run_send(
    config: Config,
    issue_path: Path | str,
    segments: Sequence[str],
    *,
    parts: SendParts,
    dry_run: bool = False,
    retry_failed: bool = False,
    clock: Clock | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool | str | None] | None = None,
    only_addresses: Collection[str] | None = None,
    no_wait: bool = False,
) -> SendReport:
    """Send the issue to the members of ``segments`` ("all" = every member); see the module doc.

    ``only_addresses`` narrows the audience further (a scheduled job for one member time zone, a
    resumption of due retries). ``no_wait`` ends the run (state ``waiting``) instead of waiting
    for retries due later; they stay pending with their due time in the ledger.
    """
    clock = clock or SystemClock()
    prep = prepare_send(
        config,
        issue_path,
        segments,
        dry_run=dry_run,
        only_addresses=only_addresses,
        subscriptions=parts.subscriptions,
    )
    store, slug = parts.store, prep.issue.slug
    keys = {m.address: EditionKey.of(m) for m in prep.members}
    if dry_run:
        return _dry_run(config, parts, prep, tuple(segments), keys, retry_failed)
    holder = store.acquire(slug)
    try:
        try:
            first = parts.transport.connect()  # TLS and AUTH before anything is written
        except TransportError as exc:
            raise DeliveryError(str(exc)) from None
        return _send(
            config,
            parts,
            prep,
            tuple(segments),
            keys,
            holder,
            first,
            clock=clock,
            retry_failed=retry_failed,
            progress=progress,
            should_stop=should_stop,
            no_wait=no_wait,
        )
    finally:
        store.release(slug, holder)


def _render(prep: Prepared, keys: Iterable[EditionKey]) -> dict[EditionKey, Edition]:
    """The editions of ``keys`` through the pre-flight's ``Editions``: the ones it checked are not
    rendered again, a member's own one (``poland+usa.de``) is rendered once, here."""
    return prep.editions.of(keys)


def approved_ahead(
    config: Config, approval: Approval, ahead: Mapping[EditionKey, Edition]
) -> dict[EditionKey, Edition]:
    """The editions rendered ahead for a mid-send change of preferences, minus each one that changed
    since (or was not part of) the approval: a reader who switches to one keeps the frozen edition."""
    from ..approval import changed_editions

    return {key: e for key, e in ahead.items() if not changed_editions(approval, [e], config)}


def _dry_run(
    config: Config,
    parts: SendParts,
    prep: Prepared,
    segments: tuple[str, ...],
    keys: Mapping[str, EditionKey],
    retry_failed: bool,
) -> SendReport:
    existing = {r.address: r for r in parts.store.rows(prep.issue.slug)}
    suppressed = parts.suppressions.filter(keys)
    plan = []
    for m in prep.members:
        row = existing.get(m.address)
        if row is None or row.state in OPEN_STATES:
            status = DeliveryState.SUPPRESSED if m.address in suppressed else "send"
        elif row.state in NOT_DELIVERED and retry_failed:
            status = "retry"
        else:
            status = row.state
        plan.append(PlannedMessage(m.address, row.edition if row else str(keys[m.address]), status))
    # template errors show up now, not mid-send
    _render(prep, {EditionKey.parse(p.edition) for p in plan})
    return SendReport(
        issue=prep.issue.slug,
        left_out=left_out(prep.others, existing),
        segments=segments,
        state=SendState.DRY_RUN,
        reason=None,
        audience=len(prep.members),
        editions=dict(Counter(p.edition for p in plan)),
        outcomes={},
        pending=0,
        rejected=prep.rejected,
        warnings=prep.warnings,
        plan=tuple(plan),
    )


def _send(
    config: Config,
    parts: SendParts,
    prep: Prepared,
    segments: tuple[str, ...],
    keys: Mapping[str, EditionKey],
    holder: str,
    first: Connection,
    *,
    clock: Clock,
    retry_failed: bool,
    progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool | str | None] | None,
    no_wait: bool = False,
) -> SendReport:
    from ..mail.compose import MessageTemplate

    slug, now, ledger = prep.issue.slug, clock.now(), parts.store
    addressed = {m.address: m for m in prep.members}
    existing = {r.address: r for r in ledger.rows(slug)}
    wanted = {EditionKey.parse(existing[a].edition) if a in existing else k for a, k in keys.items()}
    editions = _render(prep, wanted)
    # every edition a reader's choice could switch to during the run, rendered now, never in the loop
    ahead = (
        _render(prep, reachable(config.segments, config.languages) - set(editions))
        if parts.subscriptions
        else {}
    )
    if config.require_approval:
        from ..approval import verify

        approval = verify(config, prep.issue, editions.values(), ledger.latest_approval(slug))
        ahead = approved_ahead(config, approval, ahead)  # a mid-send choice never reaches unapproved text
    send_id = ledger.start_send(slug, segments, now)
    frozen_suppressed = _freeze(config, parts, prep, keys, existing, send_id, now, retry_failed)
    templates = {key: MessageTemplate.for_edition(ed, config) for key, ed in {**editions, **ahead}.items()}
    rows = [r for r in ledger.rows(slug) if r.address in addressed]
    jobs = {
        r.id: Job(r, addressed[r.address], templates[EditionKey.parse(r.edition)])
        for r in rows
        if r.state == DeliveryState.PENDING
    }
    loop = SendLoop(
        ledger=ledger,
        issue=slug,
        holder=holder,
        transport=parts.transport,
        first_connection=first,
        settings=config.smtp,
        clock=clock,
        jobs=jobs,
        crash=CrashHook.from_env(config.env),
        progress=progress,
        should_stop=should_stop,
        no_wait=no_wait,
        retarget=Retarget(wanted_segments(config, segments), templates) if parts.subscriptions else None,
    )
    started = time.monotonic()
    result = _run(loop, ledger, send_id, clock)
    outcomes = Counter(result.outcomes)
    outcomes[DeliveryState.SUPPRESSED] += frozen_suppressed
    report = _report(ledger, prep, segments, existing, result, +outcomes)
    return replace(report, elapsed=time.monotonic() - started, send_id=send_id)


def _report(
    ledger: Store,
    prep: Prepared,
    segments: tuple[str, ...],
    existing: Mapping[str, Row],
    result: LoopResult,
    outcomes: Mapping[DeliveryState, int],
) -> SendReport:
    """The run's report, from the ledger as the loop left it (this run's audience only)."""
    slug, addressed = prep.issue.slug, {m.address for m in prep.members}
    final = {r.address: r for r in ledger.rows(slug) if r.address in addressed}
    due = [
        r.next_attempt_at for r in final.values() if r.state == DeliveryState.PENDING and r.next_attempt_at
    ]
    return SendReport(
        issue=slug,
        left_out=left_out(prep.others, existing),
        segments=segments,
        state=result.state,
        reason=result.reason,
        audience=len(addressed),
        editions=dict(Counter(r.edition for r in final.values())),
        outcomes=outcomes,
        pending=sum(1 for r in final.values() if r.state not in (*DONE_STATES, *NOT_DELIVERED)),
        rejected=prep.rejected,
        warnings=prep.warnings,
        failures=tuple(f for f in ledger.failed(slug) if f.address in addressed),
        counts=ledger.counts(slug),
        attempts=result.attempts,
        retry_until=max(due, default=None),
    )


def _freeze(
    config: Config,
    parts: SendParts,
    prep: Prepared,
    keys: Mapping[str, EditionKey],
    existing: Mapping[str, Row],
    send_id: int,
    now: datetime,
    retry_failed: bool,
) -> int:
    """Freeze the audience: a ledger row for every addressed member not in it yet (``suppressed``
    when the suppression list has them), rows of a dead run back to pending, failed ones reopened
    with ``--retry-failed``. Returns how many new rows were frozen as suppressed."""
    slug, addressed, ledger = prep.issue.slug, {m.address for m in prep.members}, parts.store
    suppressed = parts.suppressions.filter(a for a in addressed if a not in existing)
    fresh = [
        (
            m.address,
            str(keys[m.address]),
            m.line,
            DeliveryState.SUPPRESSED if m.address in suppressed else DeliveryState.PENDING,
        )
        for m in prep.members
        if m.address not in existing
    ]
    ledger.freeze(slug, send_id, fresh, now)
    ledger.recover(slug, now)
    if retry_failed:
        ledger.reopen_failed(slug, addressed, now)
    elif config.smtp.resend_unknown:
        ledger.reopen_failed(slug, addressed, now, states=(DeliveryState.UNKNOWN,))
    return sum(1 for row in fresh if row[3] == DeliveryState.SUPPRESSED)


def _run(loop: SendLoop, ledger: Store, send_id: int, clock: Clock) -> LoopResult:
    """Run the loop and record how the run ended; an interrupted run never stays ``running``."""
    try:
        result = loop.run()
    except BaseException as exc:  # Ctrl-C, a database error …: the history must not say "running"
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"interrupted: {type(exc).__name__}"
        with contextlib.suppress(Exception):  # never mask the original error
            ledger.finish_send(
                send_id, SendState.STOPPED, f"{reason}; run the same command again to continue", clock.now()
            )
        raise
    ledger.finish_send(send_id, result.state, result.reason, clock.now())
    return result


def send_test(
    config: Config,
    issue_path: Path | str,
    segments: Iterable[str],
    language: str,
    addresses: Iterable[str],
    *,
    transport: Transport,
    member: Member | None = None,
) -> list[TestResult]:
    """Proofs: the edition for (segments, language) to ``addresses`` with a ``[TEST]`` subject
    prefix; the ledger is not touched.

    Personalised as ``member`` (salutation, names, company, other columns) when given, else as the
    placeholder member. Each proof is addressed to its recipient, and so are its unsubscribe and
    browser links: a colleague's click never unsubscribes the member the proof was made for."""
    from ..content import load_issue, resolve_issue_path
    from ..mail.compose import MessageTemplate
    from ..render.renderer import Renderer

    targets = []
    for text in addresses:
        try:
            targets.append(normalise_address(text))
        except InvalidAddress as exc:
            raise RefusedError(f"test address '{text.strip()}' {exc.reason}") from None
    if not targets:
        raise RefusedError("name at least one address for --test")
    segs = frozenset(s.strip().lower() for s in segments if s.strip())
    if ALL not in segs:  # general: no segment, the edition of members in none
        segs = frozenset(segment_id(config, s) for s in segs if s != GENERAL)
    issue = load_issue(resolve_issue_path(issue_path, config), config)
    edition = Renderer(config).render(issue, segs, language)
    template = MessageTemplate.for_edition(edition, config, subject_prefix="[TEST] ")
    try:
        conn = transport.connect()
    except TransportError as exc:
        raise DeliveryError(str(exc)) from None
    results = []
    try:
        for address in targets:
            shown = (
                replace(member, address=address) if member else placeholder_member(address, language, segs)
            )
            message = template.personalise(shown)
            attempt = send_one(conn, message.envelope_from, message.recipient, message.pieces, dot_safe=True)
            results.append(TestResult(address, attempt.outcome is Outcome.SENT, attempt.describe()))
    finally:
        conn.close()
    return results


def placeholder_member(
    address: str, language: str, segments: frozenset[str], *, salutation: str = ""
) -> Member:
    """The invented member of proofs and of the preview ("Erika Mustermann"); ``line`` 0 marks it."""
    return Member(
        address=address,
        line=0,
        language=language,
        segments=segments,
        first_name="Erika",
        last_name="Mustermann",
        salutation=salutation,
        company="Musterfirma GmbH",
    )
