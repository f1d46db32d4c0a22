"""The preview's safety layer: Host check, security headers, a guard on request paths, CSRF.

The preview runs on an editor's machine. A web page the editor visits must not be able to read
from it (DNS rebinding: checked Host), post to it (checked Origin plus a per-session token), or
use it to read files outside the issue folder: requests whose path has a dot-segment, a hidden
part, a backslash or a control character are refused before routing (``path_is_clean``), and
every file is looked up through the one containment rule of ``paths.contained``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The app's own pages run only our static script; the mail itself is shown in a sandboxed frame.
APP_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# Rendered mail (and outbox HTML): no script at all, images from anywhere as a mail client would.
FRAME_CSP = (
    "default-src 'none'; script-src 'none'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https: http:; font-src 'self' data: https:; form-action 'none'; "
    "base-uri 'self'; frame-ancestors 'self'; sandbox allow-same-origin allow-popups "
    "allow-popups-to-escape-sandbox"
)
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
}
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}  # noqa: S104 - names, not a bind
LOOPBACK = ("127.0.0.1", "localhost", "::1")  # addresses to listen on that only this computer reaches
LOOPBACK_NAMES = tuple(f"[{h}]" if ":" in h else h for h in LOOPBACK)  # … as Host headers name them


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """Host header values this server answers to: the bound name and port (plus loopback aliases)."""
    names = {f"[{host}]" if ":" in host else host}
    if host in LOOPBACK or host in WILDCARD_HOSTS:
        names.update(LOOPBACK_NAMES)
    if host in WILDCARD_HOSTS:
        names.update({socket.gethostname(), socket.getfqdn()})
    names.discard("[]")
    values = {f"{name}:{port}".lower() for name in names}
    if port == 80:
        values.update(name.lower() for name in names)
    return frozenset(values)


class GuardMiddleware:
    """Rejects foreign Host headers and suspicious paths; adds security headers to every answer."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]):
        self.app = app
        self.hosts = frozenset(h.lower() for h in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "").lower()
        if host not in self.hosts:
            await _plain(send, 403, "Forbidden: unknown Host header.")
            return
        if not path_is_clean(scope.get("path", "")):
            await _plain(send, 404, "Not found.")
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                for key, value in _SECURITY_HEADERS:
                    if key not in names:
                        headers.append((key, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_SECURITY_HEADERS = (
    (b"content-security-policy", APP_CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                    *_SECURITY_HEADERS],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def path_is_clean(path: str) -> bool:
    """False for decoded paths with ``..``, dot-segments, dotfiles, backslashes or control characters."""
    if "\\" in path or any(ord(c) < 32 for c in path):
        return False
    parts = path.split("/")
    return not any(part.startswith(".") for part in parts)


class Csrf:
    """Per-session tokens: HMAC(app key, session id), compared in constant time."""

    cookie = "nl_preview_session"

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    @staticmethod
    def new_session() -> str:
        return secrets.token_urlsafe(24)

    def token(self, session: str) -> str:
        return hmac.new(self._key, session.encode(), hashlib.sha256).hexdigest()

    def valid(self, session: str | None, token: str | None) -> bool:
        if not session or not token:
            return False
        return hmac.compare_digest(self.token(session), token)


def same_origin(headers: Headers, hosts: frozenset[str]) -> bool:
    """The request came from one of our own pages: Origin (or, lacking it, Referer) names our host."""
    source = headers.get("origin") or headers.get("referer")
    if not source or source == "null":
        return False
    parts = urlsplit(source)
    return (
        parts.scheme in ("http", "https")  # https: the desk behind the association's web server
        and parts.netloc.lower() in hosts
        and parts.netloc.lower() == headers.get("host", "").lower()
    )
