"""The editor's desk: the home page, sign-in, new issues, approval, and each issue's preview.

``create_desk_app(...)`` builds the Starlette app; ``newsletter desk`` and ``newsletter preview``
run it with the preview's ``server`` on a bound socket. Every request passes the preview's
``GuardMiddleware`` (Host check against DNS rebinding, clean paths, security headers and CSP)
and then ``gate.DeskGate`` (session, sign-in). Every form carries a token bound to the session
and is accepted only from the desk's own pages (Origin); anything else is a 403 that changes
nothing. The words of the pages are ``[<lang>.desk]`` of ``templates/labels.toml``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import anyio.to_thread
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from ... import edges
from ...approval import approve
from ...clock import Clock, SystemClock
from ...config import Config
from ...model import ContentError, NewsletterError
from ...render.labels import DeskWords, words
from ...store.edits import record_edit
from ...store.users import User, Users
from ...zones import fmt_local
from ..preview.app import STATIC as PREVIEW_STATIC
from ..preview.app import TEMPLATES as PREVIEW_TEMPLATES
from ..preview.app import _file
from ..safety import Csrf, GuardMiddleware, same_origin
from .auth import SIGN_IN, Session, Sessions, Throttle, safe_return
from .gate import DeskGate, set_session, visit_of
from .home import Board, issue_folders
from .issues import IssuePreviews
from .routes import editing_routes

VERIFY_AT_ONCE = 2  # password checks at the same time (argon2: 64 MiB and tens of ms each)

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"


@dataclass(frozen=True)
class Flash:
    kind: str  # ok | error
    text: str


class Desk:
    """Request handlers of the desk; also the ``Frame`` the issue previews are shown in."""

    def __init__(self, load_config: Callable[[], Config], hosts: frozenset[str], port: int, *,
                 loopback: bool, users: Users, clock: Clock | None = None, extra_issue: Path | None = None):  # fmt: skip
        self._read_config = load_config
        self.config_errors: tuple[str, ...] = ()  # newsletter.toml / .env cannot be read now
        self.hosts = hosts
        self.loopback = loopback
        self.users = users
        self.clock = clock or SystemClock()
        self.extra_issue = extra_issue
        first = self._good_config = load_config()
        self.sessions = Sessions(first.desk, self.clock, port)
        self.throttle = Throttle(self.clock)
        self.verifying = anyio.CapacityLimiter(VERIFY_AT_ONCE)  # each argon2 verify takes 64 MiB
        self.csrf = Csrf()
        self.board = Board()
        self.flashes: dict[str, Flash] = {}
        self.previews = IssuePreviews(load_config, self.folders, hosts, port, self)
        self.env = Environment(loader=FileSystemLoader([HERE / "templates", PREVIEW_TEMPLATES]),
                               autoescape=select_autoescape(default=True), trim_blocks=True)  # fmt: skip

    def load_config(self) -> Config:
        """The settings as saved now; while newsletter.toml or .env has a mistake, the last good
        ones, with the mistake's lines in ``config_errors`` (every page shows them in a red box)."""
        try:
            config = self._read_config()
        except NewsletterError as exc:
            self.config_errors = tuple(exc.lines())
            return self._good_config
        self._good_config, self.config_errors = config, ()
        return config

    # ── the frame every page is shown in (preview.app.Frame) ──

    def session_id(self, request: Request) -> str | None:
        return visit_of(request).session.sid

    def values(self, request: Request) -> Mapping[str, object]:
        visit = visit_of(request)
        config = self.load_config()
        lang = self.language(config, visit.session)
        slug = request.path_params.get("slug")
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return {
            "app_name": config.name,
            "w": words(config, lang).desk,
            "lang": lang,
            "languages": [(code, words(config, code).desk.language_name) for code in config.languages],
            "visit": visit,
            "here": here,
            "csrf": self.csrf.token(visit.session.sid),
            "config_errors": self.config_errors,
            "slug": slug,
            "take_flash": lambda: self.flashes.pop(visit.session.sid, None),
            "issue_row": (lambda: self.issue_row(config, slug, lang)) if slug else None,
        }

    def issue_row(self, config: Config, slug: str, lang: str) -> object:
        """The issue's state, its pre-flight and approval hash (slow when its files changed: call
        it in a worker thread, as the issue page does, not while rendering on the event loop)."""
        path = self.folders().get(slug)
        return self.board.row(config, slug, path, words(config, lang).desk, lang) if path else None

    def flash(self, request: Request, kind: str, text: str) -> None:
        """A message (``ok`` or ``error``) for the next page this session sees."""
        self.flashes[visit_of(request).session.sid] = Flash(kind, text)

    def language(self, config: Config, session: Session) -> str:
        return session.lang if session.lang in config.languages else config.default_language

    def folders(self) -> dict[str, Path]:
        return issue_folders(self.load_config(), self.extra_issue)

    def page(self, request: Request, template: str, status: int = 200, **values: object) -> HTMLResponse:
        html = self.env.get_template(template).render({**self.values(request), **values})
        return HTMLResponse(html, status_code=status)

    def not_found(self, request: Request) -> Response:
        w = self.words(request)
        return self.page(request, "desk_message.html", 404, heading="404", text=w.not_found)

    def refused(self, request: Request) -> Response:
        w = self.words(request)
        return self.page(request, "desk_message.html", 403, heading=w.refused_title, text=w.refused_token)

    def words(self, request: Request) -> DeskWords:
        config = self.load_config()
        return words(config, self.language(config, visit_of(request).session)).desk

    async def checked_form(self, request: Request) -> FormData | None:
        """The posted form when it comes from our own page with this session's token, else None."""
        if not same_origin(request.headers, self.hosts):
            return None
        form = await request.form()
        token = form.get("csrf")
        if not self.csrf.valid(visit_of(request).session.sid, token if isinstance(token, str) else None):
            return None
        return form

    def record_edit(self, request: Request, slug: str) -> None:
        """For the desk's save handlers: the signed-in person saved ``slug`` (four eyes)."""
        user = visit_of(request).user
        if user is not None:
            record_edit(edges.state_database(self.load_config()), slug, user.name, self.clock.now())

    # ── pages ──

    async def home(self, request: Request) -> Response:
        config = self.load_config()
        lang = self.language(config, visit_of(request).session)
        folders = await anyio.to_thread.run_sync(self.folders)
        rows = await anyio.to_thread.run_sync(
            self.board.rows, config, folders, words(config, lang).desk, lang
        )
        return self.page(request, "home.html", rows=rows, slugs=list(folders), active="home")

    async def sign_in_page(self, request: Request) -> Response:
        if visit_of(request).user is not None or not visit_of(request).sign_in_required:
            return RedirectResponse(safe_return(request.query_params.get("next")), status_code=303)
        return self.page(request, "signin.html", next=safe_return(request.query_params.get("next")))

    async def sign_in(self, request: Request) -> Response:
        form = await self.checked_form(request)
        if form is None:
            return self.refused(request)
        w, name = self.words(request), str(form.get("name", ""))
        target = safe_return(str(form.get("next", "")))
        client = request.client.host if request.client else "?"
        keys = (f"name:{' '.join(name.split()).casefold()}", f"address:{client}")
        wait = self.throttle.retry_after(keys)
        if wait is not None:
            response = self.page(request, "signin.html", 429, next=target, name=name,
                                 error=w.throttled.format(seconds=wait))  # fmt: skip
            response.headers["Retry-After"] = str(wait)
            return response
        tried = self.throttle.fail(keys)  # counted before verifying: tries sent at once count too
        user = await anyio.to_thread.run_sync(
            self.users.verify, name, str(form.get("password", "")), limiter=self.verifying
        )
        if user is None:
            return self.page(request, "signin.html", 401, next=target, name=name, error=w.sign_in_failed)
        self.throttle.forgive(keys, tried)  # the right password: this try was no failure
        lang = visit_of(request).session.lang
        self.sessions.end(visit_of(request).session.sid)  # the session before signing in
        set_session(
            request, Session.fresh(self.sessions.now(), lang, user.name), user
        )  # a new id: no fixation
        return RedirectResponse(target, status_code=303)

    async def sign_out(self, request: Request) -> Response:
        if await self.checked_form(request) is None:
            return self.refused(request)
        self.sessions.end(visit_of(request).session.sid)  # a copy of the cookie opens nothing now
        set_session(request, Session.fresh(self.sessions.now(), visit_of(request).session.lang), None)
        return RedirectResponse(SIGN_IN if visit_of(request).sign_in_required else "/", status_code=303)

    async def language_switch(self, request: Request) -> Response:
        form = await self.checked_form(request)
        if form is None:
            return self.refused(request)
        visit, lang = visit_of(request), str(form.get("lang", ""))
        if lang in self.load_config().languages:
            set_session(request, replace(visit.session, lang=lang), visit.user)
        target = str(form.get("next", ""))
        back = SIGN_IN if target.startswith(SIGN_IN) else safe_return(target)
        return RedirectResponse(back, status_code=303)

    async def new_issue(self, request: Request) -> Response:
        form = await self.checked_form(request)
        if form is None:
            return self.refused(request)
        slug, source = str(form.get("slug", "")).strip(), str(form.get("from", ""))
        folders = await anyio.to_thread.run_sync(self.folders)
        visit = visit_of(request)
        if source and source not in folders:  # only an issue the list offered, never a path
            source = ""
        done, message = await anyio.to_thread.run_sync(_new_issue, self.load_config(), slug, source)
        if not done:
            self.flashes[visit.session.sid] = Flash("error", message)
            return RedirectResponse("/#new-issue", status_code=303)
        self.record_edit(request, slug)
        self.flashes[visit.session.sid] = Flash("ok", self.words(request).created.format(slug=slug))
        return RedirectResponse(f"/issues/{slug}/edit", status_code=303)

    async def approve(self, request: Request) -> Response:
        form = await self.checked_form(request)
        if form is None:
            return self.refused(request)
        slug = request.path_params["slug"]
        path = (await anyio.to_thread.run_sync(self.folders)).get(slug)
        if path is None:
            return self.page(
                request, "desk_message.html", 404, heading="404", text=self.words(request).not_found
            )
        visit = visit_of(request)
        flash = await anyio.to_thread.run_sync(self._approve, self.words(request), visit.user, slug, path)
        self.flashes[visit.session.sid] = flash
        return RedirectResponse(f"/issues/{slug}/edit#approval", status_code=303)

    def _approve(self, w: DeskWords, user: User | None, slug: str, path: Path) -> Flash:
        """Four eyes: a signed-in approver who did not save the issue last; recorded with the
        content hash, as ``newsletter approve --by NAME`` records it."""
        from ...store.edits import last_edit

        config = self.load_config()
        if user is None:
            return Flash("error", w.approve_signed_in)
        if not user.may_approve:
            return Flash("error", w.approve_role)
        last = last_edit(edges.state_database(config), slug)
        if last is not None and last.user.casefold() == user.name.casefold():
            return Flash("error", w.approve_own_edit)
        try:
            result = approve(config, path, user.name, clock=self.clock)
        except ContentError as exc:
            return Flash("error", w.approve_errors.format(count=len(exc.problems)))
        except NewsletterError as exc:
            return Flash("error", " ".join(exc.lines()))
        edges.ledger(config).record_approval(result)
        return Flash(
            "ok",
            w.approved.format(name=result.approved_by, when=fmt_local(result.created_at, config.timezone)),
        )

    async def static(self, request: Request) -> Response:
        relative = request.path_params["path"]
        own = _file(STATIC, relative, images_only=False)
        return own if own.status_code == 200 else _file(PREVIEW_STATIC, relative, images_only=False)

    def end_streams(self) -> None:
        self.previews.end_streams()


def _new_issue(config: Config, slug: str, source: str) -> tuple[bool, str]:
    """``newsletter new SLUG [--from SOURCE]`` through the content library, as the command does."""
    from ...content.scaffold import create_issue

    try:
        create_issue(config, slug, source=source or None)
    except NewsletterError as exc:
        return False, str(exc)
    return True, ""


def _old_preview_paths(issue: Path | None) -> list[Route]:
    """``newsletter preview ISSUE`` served its pages at ``/outbox``, ``/delivery`` and
    ``/edition/…``: those addresses (bookmarks, the CONTRACT's) lead to the issue's page now."""
    if issue is None:
        return []

    async def moved(request: Request) -> Response:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/issues/{issue.name}{request.url.path}{query}", status_code=307)

    return [
        Route(path, moved) for path in ("/outbox", "/outbox/{rest:path}", "/delivery", "/edition/{rest:path}")
    ]


def create_desk_app(load_config: Callable[[], Config], hosts: frozenset[str], port: int, *, loopback: bool,
                    users: Users, clock: Clock | None = None, extra_issue: Path | None = None) -> Starlette:  # fmt: skip
    desk = Desk(
        load_config, hosts, port, loopback=loopback, users=users, clock=clock, extra_issue=extra_issue
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await desk.previews.close()

    routes = [
        Route("/", desk.home),
        Route(SIGN_IN, desk.sign_in_page),
        Route(SIGN_IN, desk.sign_in, methods=["POST"]),
        Route("/signout", desk.sign_out, methods=["POST"]),
        Route("/language", desk.language_switch, methods=["POST"]),
        Route("/issues/new", desk.new_issue, methods=["POST"]),
        Route("/issues/{slug}/approve", desk.approve, methods=["POST"]),
        Route("/static/{path:path}", desk.static),
        *editing_routes(desk),
        Mount("/issues/{slug}", app=desk.previews),
        *_old_preview_paths(extra_issue),
    ]
    default_lang = lambda: desk.load_config().default_language  # noqa: E731
    middleware = [
        Middleware(GuardMiddleware, hosts=hosts),
        Middleware(
            DeskGate, sessions=desk.sessions, users=users, loopback=loopback, default_lang=default_lang
        ),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.preview = desk  # what ends the event streams on Ctrl+C (preview.app.server)
    app.state.desk = desk
    return app


__all__ = ["Desk", "create_desk_app"]
