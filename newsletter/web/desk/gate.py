"""The desk's door: every request gets its session; without a signed-in person only the
sign-in page and the style files are answered, everything else is a redirect (303) to sign-in.

On 127.0.0.1 with nobody in the users table the single editor works without signing in (the
pages say so). As soon as there is one user, or the desk listens on another address, every page
needs a session. The session cookie is written again on every answer (HttpOnly, SameSite=Strict,
Secure over https), so an active session stays open until ``[desk] session_hours``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...store.users import User, Users
from .auth import SIGN_IN, Session, Sessions, cookie_header

OPEN_PATHS = (SIGN_IN, "/static/", "/language")  # without a session: sign-in, its styles and words


@dataclass(frozen=True)
class Visit:
    """Who is asking: their session (always one), the signed-in user, whether sign-in is needed."""

    session: Session
    user: User | None
    sign_in_required: bool

    @property
    def single_editor(self) -> bool:
        return not self.sign_in_required


def visit_of(request: Request) -> Visit:
    return request.scope["state"]["visit"]  # type: ignore[no-any-return]


def set_session(request: Request, session: Session, user: User | None) -> None:
    """A handler changed the session (signed in or out, picked a language): the answer carries it."""
    visit = visit_of(request)
    request.scope["state"]["visit"] = replace(visit, session=session, user=user)


class DeskGate:
    def __init__(self, app: ASGIApp, sessions: Sessions, users: Users, loopback: bool,
                 default_lang: Callable[[], str]):  # fmt: skip
        self.app = app
        self.sessions = sessions
        self.users = users
        self.loopback = loopback
        self.default_lang = default_lang

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies = Request(scope).cookies
        session = self.sessions.read(cookies.get(self.sessions.cookie))
        session = session or Session.fresh(self.sessions.now(), self.default_lang())
        user = self.users.get(session.user) if session.user else None
        if session.user and user is None:  # removed meanwhile: signed out
            session = Session.fresh(self.sessions.now(), session.lang)
        required = not self.loopback or self.users.count() > 0  # else: the single editor on 127.0.0.1
        scope.setdefault("state", {})["visit"] = Visit(session, user, required)
        path = scope.get("path", "")
        if required and user is None and not path.startswith(OPEN_PATHS):
            await self._to_sign_in(scope, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                visit: Visit = scope["state"]["visit"]
                value = self.sessions.write(visit.session)
                header = cookie_header(self.sessions.cookie, value, secure=scope.get("scheme") == "https")
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"set-cookie", header.encode())],
                }
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    async def _to_sign_in(self, scope: Scope, send: Send) -> None:
        """303 to the sign-in page with the page asked for (GET only; a form posted without a
        session changes nothing and comes back to the home page after signing in)."""
        wanted = scope.get("path", "/")
        query = scope.get("query_string", b"").decode("latin-1")
        target = wanted + (f"?{query}" if query else "") if scope.get("method") == "GET" else "/"
        location = f"{SIGN_IN}?{urlencode({'next': target})}" if target != "/" else SIGN_IN
        visit: Visit = scope["state"]["visit"]
        cookie = cookie_header(self.sessions.cookie, self.sessions.write(visit.session),
                               secure=scope.get("scheme") == "https")  # fmt: skip
        await send({"type": "http.response.start", "status": 303, "headers": [
            (b"location", location.encode()), (b"content-length", b"0"), (b"set-cookie", cookie.encode()),
            (b"cache-control", b"no-store"),
        ]})  # fmt: skip
        await send({"type": "http.response.body", "body": b""})


__all__ = ["DeskGate", "Visit", "set_session", "visit_of"]
