"""The editor's local preview: every edition as members will get it, live, with proofs.

``create_app(state, hosts)`` builds the Starlette app; ``serve(...)`` runs it with uvicorn on an
already bound socket (127.0.0.1 unless the editor names another host). Safety lives in
``web.safety``, the snapshot of the issue in ``state``, live reload in ``live``, the member's view
of a message in ``mail``, the dev sink's outbox and the ledger counts in ``outbox``. Files are
served only through ``paths.contained``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import re
import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlencode

import anyio.to_thread
import uvicorn
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from ... import paths
from ...config import Config
from ...model import Member, NewsletterError
from ..safety import FILE_CSP, FRAME_CSP, IMAGE_TYPES, Csrf, GuardMiddleware, same_origin
from . import outbox
from .live import Broadcaster, watch
from .mail import frame_document, member_label, personalised, placeholder_member, sample_members
from .pages import EditionPage, Flash, MessagePage, OverviewPage, template_values
from .state import Card, PreviewState, Snapshot

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from ...send.protocols import SendParts

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
WIDTHS = (("phone", "Phone 375 px"), ("tablet", "Tablet 768 px"), ("desktop", "Desktop"))
MAX_PROOF_ADDRESSES = 10
_ADDRESS_SPLIT = re.compile(r"[\s,;]+")


class Frame(Protocol):
    """What an app around the preview (the desk) gives its pages: the session a form token is
    bound to, the one token check, and the values its own ``base.html`` shows (user, language …)."""

    csrf: Csrf

    def session_id(self, request: Request) -> str | None: ...

    def values(self, request: Request) -> Mapping[str, object]: ...


class Preview:
    """Request handlers around one PreviewState.

    Alone (``create_app``) it answers at ``/`` and keeps its own session cookie; inside the desk
    it answers below ``base`` (``/issues/<slug>``), takes the desk's session and token from
    ``frame``, and its templates extend the desk's ``base.html`` (found first in ``templates``)."""

    def __init__(
        self,
        state: PreviewState,
        hosts: frozenset[str],
        port: int,
        *,
        base: str = "",
        frame: Frame | None = None,
        templates: Sequence[Path] = (),
    ):
        self.state = state
        self.hosts = hosts
        self.base = base
        self.around = frame
        self.broadcaster = Broadcaster()
        self.csrf = frame.csrf if frame is not None else Csrf()
        self.cookie = f"{Csrf.cookie}_{port}"
        self.flashes: dict[str, Flash] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._parts: tuple[Config, SendParts] | None = None
        self.env = Environment(
            loader=FileSystemLoader([*templates, TEMPLATES]),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
        )
        self.env.globals["member_label"] = member_label
        self.env.globals["base"] = base

    # ── helpers ──

    def parts(self, config: Config) -> SendParts:
        """The real ledger, suppression list and relay for ``config`` (proofs, the delivery page),
        built once, and again only after an edit changed the configuration."""
        if self._parts is None or self._parts[0] != config:
            from ...edges import send_parts

            self._parts = (config, send_parts(config))
        return self._parts[1]

    def end_streams(self) -> None:
        """End every open live-reload stream (from any thread), so shutdown does not wait for them."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.broadcaster.close)

    def page(
        self, request: Request, template: str, view: DataclassInstance, active: str = "", status: int = 200
    ) -> Response:
        """``template`` with the fields of its page value (``pages``) and what every page has."""
        snap = self.state.snapshot
        session = self.session_id(request) or Csrf.new_session()
        name = snap.config.name if snap.config else "Newsletter"
        around = self.around.values(request) if self.around is not None else {}
        shared = {"snap": snap, "app_name": name, "active": active, "csrf": self.csrf.token(session)}
        html = self.env.get_template(template).render({**shared, **around, **template_values(view)})
        response = HTMLResponse(html, status_code=status)
        if self.around is None and request.cookies.get(self.cookie) != session:
            response.set_cookie(self.cookie, session, httponly=True, samesite="strict", path="/")
        return response

    def session_id(self, request: Request) -> str | None:
        """The session a form token belongs to: the desk's, or the preview's own cookie."""
        if self.around is not None:
            return self.around.session_id(request)
        return request.cookies.get(self.cookie)

    def message(self, request: Request, heading: str, text: str, status: int) -> Response:
        return self.page(request, "message.html", MessagePage(heading, text), status=status)

    # ── pages ──

    async def overview(self, request: Request) -> Response:
        snap = self.state.snapshot
        issue = snap.issue
        title, date_text = "", ""
        if issue is not None and snap.config is not None:
            lang = snap.config.default_language
            title = issue.title.get(lang) or issue.title.get("*") or next(iter(issue.title.values()), "")
            date_text = issue.date.strftime("%d.%m.%Y")
        view = OverviewPage(issue, title, date_text, self.state.issue_path.name)
        return self.page(request, "overview.html", view, "overview")

    async def edition(self, request: Request) -> Response:
        snap = self.state.snapshot
        card = snap.card(request.path_params["key"])
        if card is None or snap.config is None:
            return self.message(request, "No such edition", "This edition does not exist (any more).", 404)
        width = request.query_params.get("w", "desktop")
        width = width if width in dict(WIDTHS) else "desktop"
        dark = request.query_params.get("dark") == "1"
        samples = self._samples(snap, card)
        member = _pick(samples, request.query_params.get("member"))
        mail = await anyio.to_thread.run_sync(personalised, card.edition, snap.config, member)
        session = self.session_id(request) or ""
        flash = self.flashes.pop(session, None) if session else None
        frame_src = f"{self.base}/edition/{card.key}/frame?" + urlencode(
            {"member": member.line, "dark": "1" if dark else ""}
        )
        view = EditionPage(
            card=card, width=width, widths=WIDTHS, dark=dark, samples=samples, member=member, mail=mail,
            flash=flash, frame_src=frame_src, languages=_languages(snap, card), base=self.base,
            frame_hash=_digest(card.edition.html), sender=f"{snap.config.sender_name} <{snap.config.sender_address}>",
        )  # fmt: skip
        return self.page(request, "edition.html", view, "overview")

    def _samples(self, snap: Snapshot, card: Card) -> tuple[Member, ...]:
        real = sample_members(card.edition, snap.members)
        return (placeholder_member(card.edition), *real)

    async def frame(self, request: Request) -> Response:
        snap = self.state.snapshot
        card = snap.card(request.path_params["key"])
        if card is None or snap.config is None:
            return PlainTextResponse("No such edition.", status_code=404)
        member = _pick(self._samples(snap, card), request.query_params.get("member"))
        mail = await anyio.to_thread.run_sync(personalised, card.edition, snap.config, member)
        html = frame_document(
            mail.html,
            base=f"{self.base}/issue/",
            dark=request.query_params.get("dark") == "1",
            cid_url=f"{self.base}/edition/{card.key}/cid/",
        )
        return HTMLResponse(html, headers={"Content-Security-Policy": FRAME_CSP})

    async def frame_image(self, request: Request) -> Response:
        """A picture the edition embeds in the mail (``cid:``): the very bytes members get."""
        card = self.state.snapshot.card(request.path_params["key"])
        cid = request.path_params["cid"]
        image = next((i for i in card.edition.images if i.cid == cid), None) if card else None
        return inline_image(image.content_type, image.data) if image else PlainTextResponse("Not found.", 404)

    # ── proofs ──

    async def proof(self, request: Request) -> Response:
        if not same_origin(request.headers, self.hosts):
            return PlainTextResponse("Refused: proofs can only be sent from the preview page itself.", 403)
        form = await request.form()
        session = self.session_id(request)
        token = form.get("csrf")
        if not self.csrf.valid(session, token if isinstance(token, str) else None):
            text = "The page was open from an earlier start of the preview. Reload it, then send the proof again."
            return self.message(request, "Proof not sent", text, 403)
        assert session is not None
        key = request.path_params["key"]
        snap = self.state.snapshot
        card = snap.card(key)
        if card is None or snap.config is None:
            return self.message(request, "No such edition", "This edition does not exist (any more).", 404)
        raw = form.get("addresses")
        member = self._proof_member(snap, card, form.get("member"), form.get("member_address"))
        if member is None:
            text = (
                "The member shown is not in the member list any more; pick the member under “Shown to” again."
            )
            self.flashes[session] = Flash("error", text)
        else:
            self.flashes[session] = await self._send_proof(
                snap, card, raw if isinstance(raw, str) else "", member
            )
        query = urlencode({k: v for k, v in (("member", form.get("member")),) if isinstance(v, str) and v})
        return RedirectResponse(f"{self.base}/edition/{key}?{query}#proof", status_code=303)

    def _proof_member(self, snap: Snapshot, card: Card, line: object, address: object) -> Member | None:
        """The member "Shown to" names, looked up in the member list by line and address: the proof
        is personalised from the list, never from what the form says about names. A form without
        a member (an older page) gets the sample member."""
        samples = self._samples(snap, card)
        if line is None and address is None:
            return samples[0]
        for member in samples:
            if str(member.line) == line and member.address == address:
                return member
        return None

    async def _send_proof(self, snap: Snapshot, card: Card, raw: str, member: Member) -> Flash:
        from ...send.run import send_test

        addresses = list(dict.fromkeys(a for a in _ADDRESS_SPLIT.split(raw.strip()) if a))
        if not addresses:
            return Flash("error", "Type at least one address.")
        if len(addresses) > MAX_PROOF_ADDRESSES:
            return Flash("error", f"At most {MAX_PROOF_ADDRESSES} addresses per proof.")
        edition, config = card.edition, snap.config
        assert config is not None
        try:
            proof = functools.partial(send_test, transport=self.parts(config).transport, member=member)
            results = await anyio.to_thread.run_sync(
                proof, config, self.state.issue_path, edition.segments, edition.language, addresses
            )
        except NewsletterError as exc:
            return Flash("error", " ".join(exc.lines()))
        except OSError as exc:
            return Flash(
                "error", f"The mail server did not answer ({exc}). Is `newsletter dev-smtp` running?"
            )
        refused = [f"{r.address} ({r.reply})" for r in results if not r.accepted]
        accepted = [r.address for r in results if r.accepted]
        if refused:
            done = f" Sent to {', '.join(accepted)}." if accepted else ""
            return Flash("error", f"Refused by the mail server: {'; '.join(refused)}.{done}")
        return Flash("ok", f"Proof sent to {', '.join(accepted)} as {_name(member)}.")

    # ── files and events ──

    async def issue_file(self, request: Request) -> Response:
        return _file(self.state.issue_path, request.path_params["path"], images_only=True)

    async def static(self, request: Request) -> Response:
        return _file(STATIC, request.path_params["path"], images_only=False)

    async def events(self, request: Request) -> Response:
        stream = self.broadcaster.stream(self.state.snapshot.version)
        return StreamingResponse(stream, media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def _name(member: Member) -> str:
    return " ".join(p for p in (member.first_name, member.last_name) if p) or member.address


def _pick(samples: tuple[Member, ...], wanted: str | None) -> Member:
    for member in samples:
        if str(member.line) == wanted:
            return member
    return samples[0]


def _languages(snap: Snapshot, card: Card) -> tuple[tuple[str, str], ...]:
    same = [c for c in snap.cards if c.edition.segments == card.edition.segments]
    return tuple((c.edition.language, c.key) for c in same)


def _file(root: Path, relative: str, *, images_only: bool) -> Response:
    target = paths.contained(root, relative)  # relative is the percent-decoded URL path, never decoded again
    kind = IMAGE_TYPES.get(target.suffix.lower()) if target else None
    if target is None or (images_only and kind is None):
        return PlainTextResponse("Not found.", status_code=404)
    headers = {"Content-Security-Policy": FILE_CSP, "Cache-Control": "no-cache"}
    return FileResponse(target, headers=headers, media_type=kind, content_disposition_type="inline")


def inline_image(content_type: str, data: bytes) -> Response:
    """An embedded picture of a mail, served like the issue's image files (only image types)."""
    if content_type not in IMAGE_TYPES.values():
        return PlainTextResponse("Not found.", status_code=404)
    headers = {"Content-Security-Policy": FILE_CSP, "Cache-Control": "no-cache"}
    return Response(data, media_type=content_type, headers=headers)


def create_app(state: PreviewState, hosts: frozenset[str], port: int) -> Starlette:
    """The preview app. ``state`` should be loaded (``state.reload()``) before the first request."""
    preview = Preview(state, hosts, port)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        preview.loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch(state, preview.broadcaster, stop))
        try:
            yield
        finally:
            preview.broadcaster.close()
            stop.set()
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(watcher, 2)

    routes = preview_routes(preview)
    app = Starlette(routes=routes, middleware=[Middleware(GuardMiddleware, hosts=hosts)], lifespan=lifespan)
    app.state.preview = preview
    return app


def preview_routes(preview: Preview) -> list[Route]:
    """The preview's pages, relative to where they are mounted (``/`` alone, ``/issues/<slug>`` in the desk)."""
    return [
        Route("/", preview.overview),
        Route("/edition/{key}", preview.edition),
        Route("/edition/{key}/frame", preview.frame),
        Route("/edition/{key}/cid/{cid}", preview.frame_image),
        Route("/edition/{key}/proof", preview.proof, methods=["POST"]),
        Route("/events", preview.events),
        Route("/issue/{path:path}", preview.issue_file),
        Route("/static/{path:path}", preview.static),
        *outbox.routes(preview),
    ]


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket first, so the real port is known and errors are ours to word."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise NewsletterError(
            f"cannot listen on {host}:{port} ({exc.strerror}); try another --port"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class Streams(Protocol):
    def end_streams(self) -> None: ...


class _Server(uvicorn.Server):
    """uvicorn, plus: Ctrl+C first ends the open pages' event streams (no wait, no traceback)."""

    def __init__(self, config: uvicorn.Config, preview: Streams):
        super().__init__(config)
        self.preview = preview

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.preview.end_streams()
        super().handle_exit(sig, frame)


def server(app: Starlette, *, log_level: str = "warning") -> uvicorn.Server:
    """uvicorn for the preview or the desk (``app.state.preview``: what ends the event streams)."""
    config = uvicorn.Config(
        app,
        log_level=log_level,
        timeout_graceful_shutdown=2,
        access_log=False,
        server_header=False,
        lifespan="on",
    )
    return _Server(config, app.state.preview)
