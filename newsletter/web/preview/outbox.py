"""Outbox (mails caught by the dev sink) and delivery (ledger counts) pages of the preview."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from ...config import Config
from ...model import DeliveryState
from ..safety import FRAME_CSP
from .mail import MailView, frame_document, parse_message
from .pages import DeliveryPage, FailedAddress, OutboxMessagePage, OutboxPage, ReportedAddress

if TYPE_CHECKING:
    from .app import Preview

_D = DeliveryState
STATES = tuple(
    (s.value, s.value) for s in (_D.SENT, _D.PENDING, _D.FAILED, _D.BOUNCED, _D.UNKNOWN, _D.SUPPRESSED)
)


OUTBOX_LIMIT = 200  # newest messages listed


@dataclass(frozen=True)
class OutboxEntry:
    id: str
    when: str
    sender: str
    to: str
    subject: str
    size_kb: int
    view: MailView


def read_entries(outbox: Path, limit: int = OUTBOX_LIMIT) -> list[OutboxEntry]:
    """Messages in the dev sink's Maildir, newest first."""
    from ...smtp.devsink import read_outbox

    return [
        _entry(m.key, m.received_at, m.raw, MailView(m.html, m.text, m.headers, m.raw), m.recipients)
        for m in read_outbox(outbox, limit=limit)
    ]


def find_entry(outbox: Path, key: str) -> OutboxEntry | None:
    """One message by its Maildir key; the key is matched against the folder, never joined into a path."""
    if not key or key.startswith(".") or "/" in key:
        return None
    for sub in ("new", "cur"):
        try:
            with os.scandir(outbox / sub) as entries:
                for item in entries:
                    if item.is_file(follow_symlinks=False) and item.name.split(":", 1)[0] == key:
                        raw = Path(item.path).read_bytes()
                        received = datetime.fromtimestamp(item.stat().st_mtime, UTC)
                        return _entry(key, received, raw, parse_message(raw), ())
        except (FileNotFoundError, NotADirectoryError):
            continue
    return None


def _entry(
    key: str, received: datetime, raw: bytes, view: MailView, recipients: tuple[str, ...]
) -> OutboxEntry:
    headers = dict(view.headers)
    if not recipients:
        recipients = tuple(value for name, value in view.headers if name == "X-Original-To")
    return OutboxEntry(
        id=key,
        when=received.astimezone().strftime("%d.%m.%Y %H:%M:%S"),
        sender=headers.get("From", ""),
        to=", ".join(recipients) or headers.get("To", ""),
        subject=headers.get("Subject", ""),
        size_kb=max(1, round(len(raw) / 1024)),
        view=view,
    )


def routes(preview: Preview) -> list[Route]:
    async def outbox(request: Request) -> Response:
        config = preview.state.snapshot.config
        messages, note = await anyio.to_thread.run_sync(_listing, config)
        return preview.page(request, "outbox.html", OutboxPage(tuple(messages), note, OUTBOX_LIMIT), "outbox")

    async def outbox_message(request: Request) -> Response:
        entry = await _find(preview, request.path_params["id"])
        if entry is None:
            return preview.message(
                request, "Not in the outbox", "This mail is not in the outbox (any more).", 404
            )
        view = request.query_params.get("view", "html")
        view = view if view in ("html", "text", "headers", "source") else "html"
        raw_text = entry.view.raw.decode("utf-8", "replace")
        page = OutboxMessagePage(m=entry, view=view, view_mail=entry.view, raw_text=raw_text)
        return preview.page(request, "outbox_message.html", page, "outbox")

    async def outbox_frame(request: Request) -> Response:
        entry = await _find(preview, request.path_params["id"])
        if entry is None:
            return PlainTextResponse("Not found.", status_code=404)
        # The message as the member's mail program shows it: pictures embedded in the mail come
        # from its own cid: parts, never from the issue folder as it is now.
        cid_url = f"{preview.base}/outbox/{quote(entry.id, safe='')}/cid/"
        html = frame_document(entry.view.html, base=None, dark=False, cid_url=cid_url)
        return HTMLResponse(html, headers={"Content-Security-Policy": FRAME_CSP})

    async def outbox_image(request: Request) -> Response:
        from .app import inline_image

        entry = await _find(preview, request.path_params["id"])
        image = entry.view.image(request.path_params["cid"]) if entry else None
        if image is None:
            return PlainTextResponse("Not found.", status_code=404)
        return inline_image(image.content_type, image.data)

    async def delivery(request: Request) -> Response:
        snap = preview.state.snapshot
        slug = snap.issue.slug if snap.issue else preview.state.issue_path.name
        page = await anyio.to_thread.run_sync(_delivery_values, preview, snap.config, slug)
        labels = {card.key: card.label for card in snap.cards}
        extra = tuple((s, s) for s in page.counts if s not in dict(STATES))
        page = replace(page, states=(*STATES, *extra), labels=labels)
        return preview.page(request, "delivery.html", page, "delivery")

    return [
        Route("/outbox", outbox),
        Route("/outbox/{id}", outbox_message),
        Route("/outbox/{id}/frame", outbox_frame),
        Route("/outbox/{id}/cid/{cid}", outbox_image),
        Route("/delivery", delivery),
    ]


def _listing(config: Config | None) -> tuple[list[OutboxEntry], str]:
    if config is None:
        return [], "The configuration cannot be read; see the message above."
    if not config.outbox.is_dir():
        return [], ""
    try:
        return read_entries(config.outbox), ""
    except OSError as exc:
        return [], f"The outbox {config.outbox} cannot be read: {exc.strerror or exc}"


async def _find(preview: Preview, message_id: str) -> OutboxEntry | None:
    config = preview.state.snapshot.config
    if config is None:
        return None
    return await anyio.to_thread.run_sync(find_entry, config.outbox, message_id)


def _delivery_values(preview: Preview, config: Config | None, issue: str) -> DeliveryPage:
    """Ledger counts and failed rows of this issue, or a note why there are none."""
    empty = DeliveryPage(slug=issue, states=STATES, labels={}, counts={}, per_edition=(), failed=(), note="")
    if config is None:
        return replace(empty, note="The configuration cannot be read; see the message above.")
    url = config.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return replace(empty, note="Nothing has been sent yet (there is no state database).")
    book = preview.parts(config).store
    counts = book.counts(issue)
    if not counts.rows:
        return replace(empty, note=f"This issue ({issue}) has not been sent yet.")
    failed = tuple(FailedAddress(f.address, f.state, f.reply_text) for f in book.failed(issue))
    per_edition = tuple(sorted(counts.by_edition.items()))
    reported, reported_counts = _reported(config, issue)
    return replace(
        empty,
        counts=dict(counts.total),
        per_edition=per_edition,
        failed=failed,
        reported=reported,
        reported_counts=reported_counts,
    )


def _reported(config: Config, issue: str) -> tuple[tuple[ReportedAddress, ...], dict[str, int]]:
    """Bounces, blocks and complaints that came back by mail (``newsletter inbox``), newest first."""
    from ...edges import inbox_book
    from ...inbox.decide import label

    book = inbox_book(config)
    rows = tuple(
        ReportedAddress(
            address=e.address or "",
            report=label(e.severity),
            status=e.status,
            diagnostic=e.diagnostic,
            action=e.action,
            when=f"{e.reported_at:%Y-%m-%d %H:%M}" if e.reported_at else "",
        )
        for e in book.events_of(issue)
    )
    overall = book.by_segment(issue).get("overall", {})
    return rows, {label(k): v for k, v in sorted(overall.items())}
