"""Who is at the desk: signed session cookies, form tokens, and the throttle on wrong passwords.

A session is a cookie signed with a key made when the desk starts (itsdangerous): the session
id (form tokens are bound to it), the signed-in name (none for the single editor on 127.0.0.1,
or before signing in), the page language, when it was signed in and when it was last used. The
desk checks both times against ``[desk] idle_minutes`` and ``session_hours`` on every request,
with its own clock, and signs the cookie again so an active session stays open. Restarting the
desk makes a new key: everybody signs in again. Removing a user ends their sessions at their
next request (the user is looked up every time). Signing out (and signing in) ends the old
session id at once: the desk keeps the ended ids in memory for ``session_hours``.
"""

from __future__ import annotations

import math
import secrets
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer

from ...clock import Clock
from ...config import DeskSettings
from ..safety import Csrf, path_is_clean

SIGN_IN = "/signin"
FAILURE_LIMIT = 20  # wrong passwords per name and per client address …
FAILURE_WINDOW = 60.0  # … within this many seconds


@dataclass(frozen=True)
class Session:
    sid: str  # form tokens are bound to it; a new one on every sign-in and sign-out
    user: str | None  # the signed-in name; None before signing in and for the single editor
    lang: str | None  # the page language picked with the switch
    signed_in: float  # Clock.now() as a timestamp
    seen: float

    @classmethod
    def fresh(cls, now: float, lang: str | None = None, user: str | None = None) -> Session:
        return cls(Csrf.new_session(), user, lang, now, now)


class Sessions:
    """Reads and writes the session cookie of one desk (one port: two desks on one computer
    keep apart)."""

    def __init__(self, settings: DeskSettings, clock: Clock, port: int):
        self.settings = settings
        self.clock = clock
        self.cookie = f"nl_desk_{port}"
        self._serializer = URLSafeSerializer(secrets.token_bytes(32), salt="newsletter-desk-session")
        self._ended: dict[str, float] = {}  # sid → when it was signed out (kept for session_hours)

    def end(self, sid: str) -> None:
        """Signing out (or in): a copy of the old cookie opens nothing any more."""
        now = self.now()
        limit = self.settings.session_hours * 3600
        for old in [s for s, t in self._ended.items() if now - t > limit]:
            del self._ended[old]  # older than any session can be: read() refuses it anyway
        self._ended[sid] = now

    def now(self) -> float:
        return self.clock.now().timestamp()

    def read(self, value: str | None) -> Session | None:
        """The session in the cookie, or None when it is missing, forged, idle too long or too old."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value)
            session = Session(
                str(data["sid"]), data["user"], data["lang"], float(data["in"]), float(data["seen"])
            )
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        if session.sid in self._ended:
            return None
        now = self.now()
        if now - session.seen > self.settings.idle_minutes * 60:
            return None
        if now - session.signed_in > self.settings.session_hours * 3600:
            return None
        return replace(session, seen=now)

    def write(self, session: Session) -> str:
        return self._serializer.dumps(
            {"sid": session.sid, "user": session.user, "lang": session.lang, "in": session.signed_in,
             "seen": session.seen}
        )  # fmt: skip


def cookie_header(name: str, value: str, *, secure: bool, clear: bool = False) -> str:
    """A Set-Cookie value: HttpOnly, SameSite=Strict, Secure when the desk is reached over https."""
    parts = [f"{name}={'' if clear else value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if clear:
        parts.append("Max-Age=0")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def safe_return(target: str | None) -> str:
    """A path on this desk to go to after signing in: never another site (``//evil``,
    ``https://…``, ``/\\evil``), never the sign-in page itself; else the home page."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not path_is_clean(parts.path) or parts.path.startswith(SIGN_IN):
        return "/"
    return target


class Throttle:
    """Wrong passwords per key (a name, a client address) in a sliding window. Once a key has
    ``limit`` failures in the window, every sign-in with it is refused, right password or not,
    until the oldest of them leaves the window."""

    def __init__(self, clock: Clock, limit: int = FAILURE_LIMIT, window: float = FAILURE_WINDOW):
        self.clock = clock
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """Seconds until a sign-in with these keys is heard again, or None when it is now."""
        now = self.clock.monotonic()
        waits = []
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self.limit:
                waits.append(times[-self.limit] + self.window - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def fail(self, keys: Iterable[str]) -> float:
        """Count a try as a failure (before the password is checked, so tries sent at once are
        counted too); the time it was counted at, for :meth:`forgive`."""
        now = self.clock.monotonic()
        for key in keys:
            self._recent(key, now).append(now)
        return now

    def forgive(self, keys: Iterable[str], at: float) -> None:
        """The try counted at ``at`` had the right password: it is no failure."""
        for key in keys:
            times = self._failures.get(key)
            if times is not None and at in times:
                times.remove(at)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(self._failures) > 10_000:  # many names tried: forget the quiet ones
            for quiet in [k for k, t in self._failures.items() if not t and k != key]:
                del self._failures[quiet]
        return times


__all__ = ["SIGN_IN", "Session", "Sessions", "Throttle", "cookie_header", "safe_return"]
