"""Outbox (mails caught by the dev sink) and delivery (ledger counts) pages of the preview."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..config import Config
from .preview_mail import MailView, frame_document, parse_message
from .preview_safety import FRAME_CSP

if TYPE_CHECKING:
    from .preview import Preview

STATES = (
    ("sent", "sent"),
    ("pending", "pending"),
    ("failed", "failed"),
    ("bounced", "bounced"),
    ("unknown", "unknown"),
    ("suppressed", "suppressed"),
)


@dataclass(frozen=True)
class OutboxEntry:
    id: str
    when: str
    received: datetime | None
    sender: str
    to: str
    subject: str
    size_kb: int
    raw: bytes


def read_entries(outbox: Path) -> list[OutboxEntry]:
    """Messages in the dev sink's Maildir, newest first."""
    from .. import devsmtp

    entries = [_entry(m) for m in devsmtp.read_outbox(outbox)]
    epoch = datetime.min
    return sorted(
        entries, key=lambda e: e.received.replace(tzinfo=None) if e.received else epoch, reverse=True
    )


def _entry(message: Any) -> OutboxEntry:
    raw: bytes = message.raw
    view = parse_message(raw)
    headers = dict(view.headers)
    received = getattr(message, "received", None)
    if received is None and headers.get("Date"):
        try:
            received = parsedate_to_datetime(headers["Date"])
        except (TypeError, ValueError):
            received = None
    to = ", ".join(getattr(message, "recipients", ()) or ()) or headers.get("To", "")
    return OutboxEntry(
        id=str(message.id),
        when=received.astimezone().strftime("%d.%m.%Y %H:%M:%S") if received else "",
        received=received,
        sender=headers.get("From", ""),
        to=to,
        subject=headers.get("Subject", ""),
        size_kb=max(1, round(len(raw) / 1024)),
        raw=raw,
    )


def routes(preview: Preview) -> list[Route]:
    async def outbox(request: Request) -> Response:
        config = preview.state.snapshot.config
        messages, note = await anyio.to_thread.run_sync(_listing, config)
        return preview.page(request, "outbox.html", "outbox", messages=messages, note=note)

    async def outbox_message(request: Request) -> Response:
        entry = await _find(preview, request.path_params["id"])
        if entry is None:
            return preview.message(
                request, "Not in the outbox", "This mail is not in the outbox (any more).", 404
            )
        view = request.query_params.get("view", "html")
        view = view if view in ("html", "text", "headers", "source") else "html"
        mail: MailView = parse_message(entry.raw)
        raw_text = entry.raw.decode("utf-8", "replace")
        return preview.page(
            request, "outbox_message.html", "outbox", m=entry, view=view, view_mail=mail, raw_text=raw_text
        )

    async def outbox_frame(request: Request) -> Response:
        entry = await _find(preview, request.path_params["id"])
        if entry is None:
            return PlainTextResponse("Not found.", status_code=404)
        html = frame_document(parse_message(entry.raw).html, base=None, dark=False)
        return HTMLResponse(html, headers={"Content-Security-Policy": FRAME_CSP})

    async def delivery(request: Request) -> Response:
        snap = preview.state.snapshot
        values = await anyio.to_thread.run_sync(_delivery_values, snap.config, preview.state.issue_path.name)
        return preview.page(request, "delivery.html", "delivery", states=STATES, **values)

    return [
        Route("/outbox", outbox),
        Route("/outbox/{id}", outbox_message),
        Route("/outbox/{id}/frame", outbox_frame),
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
    entries, _note = await anyio.to_thread.run_sync(_listing, preview.state.snapshot.config)
    return next((e for e in entries if e.id == message_id), None)


@lru_cache(maxsize=4)
def _engine(url: str) -> Any:
    from .. import db

    return db.engine_for(url)


def _delivery_values(config: Config | None, issue: str) -> dict[str, Any]:
    """Ledger counts and failed rows of this issue, or a note why there are none."""
    from .. import ledger

    empty: dict[str, Any] = {"counts": {}, "per_edition": [], "failed": []}
    if config is None:
        return {**empty, "note": "The configuration cannot be read; see the message above."}
    url = config.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return {**empty, "note": "Nothing has been sent yet (there is no state database)."}
    book = ledger.Ledger(_engine(url))
    counts = book.counts(issue)
    if not counts.rows:
        return {**empty, "note": f"This issue ({issue}) has not been sent yet."}
    failed = [
        {
            "address": f.address,
            "state": f.state,
            "reply": " ".join(str(x) for x in (f.last_code, f.last_reply) if x),
        }
        for f in book.failed(issue)
    ]
    per_edition = sorted(counts.by_edition.items())
    return {"counts": dict(counts.total), "per_edition": per_edition, "failed": failed, "note": ""}
