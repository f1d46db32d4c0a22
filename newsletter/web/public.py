"""The public service behind ``NEWSLETTER_PUBLIC_URL``: one-click unsubscribe and the web archive.

``GET  /u/<token>``  a confirmation page in the member's language; changes nothing (mail
                     security scanners and link previewers fetch every link in a message).
``POST /u/<token>``  body ``List-Unsubscribe=One-Click`` (RFC 8058, sent by the mailbox provider's
                     "unsubscribe" button and by the page's own button): suppresses the address and
                     answers 200 with a page, never a redirect. Replays answer the same 200.
``/subscribe``, ``/confirm/<token>``  sign-up with double opt-in (``web.subscribe``).
``/p/<token>``       the reader's preference page (``web.preferences``).
``GET  /…``          the static archive built by ``newsletter archive`` (if the folder exists).

The page's words are ``[<lang>.unsubscribe_page]`` of the catalogue (``render.labels``), offered in
every configured language that has its own table there. Tokens are made and checked by ``mail.tokens`` (authenticated encryption with the key list from
``NEWSLETTER_SECRET``; constant-time checks inside ``cryptography``); an invalid token gets a 400
page and changes nothing. No cookies, no scripts, no remote resources, no access log.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from .. import edges, paths
from ..config import Config
from ..render.labels import UnsubscribePageWords, catalogue, words
from .forms import FORM_CSS, TooLarge, fmt, read_form

MAX_BODY = 16 * 1024  # an RFC 8058 body is 26 bytes; anything large is not one
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}
# Archive pages are mails shown on the web: their images (under NEWSLETTER_PUBLIC_URL or elsewhere,
# as a mail client would load them) must load; still no scripts, forms, frames or plugins.
ARCHIVE_CSP = (
    "default-src 'none'; img-src 'self' https: data:; style-src 'unsafe-inline'; form-action 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def create_app(config: Config, *, site: Path | None = None, hosts: tuple[str, ...] = ()) -> Starlette:
    """The ASGI app for ``newsletter serve`` (and for tests, run by uvicorn in a thread).

    Refuses (ConfigError) without a real NEWSLETTER_SECRET: see ``tokens.require_real_secret``."""
    from ..mail.tokens import require_real_secret

    require_real_secret(config)
    catalogue(config)  # a missing or broken word stops the start, not a member's click
    service = _Service(config, site if site is not None else config.root / "site")
    from .preferences import PreferencePages
    from .subscribe import SignupPages

    signup, preferences = SignupPages(config, service._page), PreferencePages(config, service._page)
    routes = [
        Route("/u/{token}", service.confirm, methods=["GET", "HEAD"]),
        Route("/u/{token}", service.unsubscribe, methods=["POST"]),
        Route("/subscribe", signup.form, methods=["GET", "HEAD"]),
        Route("/subscribe", signup.submit, methods=["POST"]),
        Route("/confirm/{token}", signup.confirm_page, methods=["GET", "HEAD"]),
        Route("/confirm/{token}", signup.confirm, methods=["POST"]),
        Route("/p/{token}", preferences.show, methods=["GET", "HEAD"]),
        Route("/p/{token}", preferences.save, methods=["POST"]),
        Route("/healthz", service.health, methods=["GET", "HEAD"]),
        Route("/{path:path}", service.archive, methods=["GET", "HEAD"]),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(config, hosts))]
    return Starlette(routes=routes, middleware=middleware)


def allowed_hosts(config: Config, extra: tuple[str, ...] = ()) -> list[str]:
    """Host headers we answer (DNS-rebinding guard): loopback and the host of NEWSLETTER_PUBLIC_URL."""
    hosts = ["127.0.0.1", "localhost", "[::1]", *extra]
    if config.public_url:
        host = urlsplit(config.public_url).hostname
        if host:
            hosts.append(host)
    return list(dict.fromkeys(hosts))


class _Service:
    def __init__(self, config: Config, site: Path):
        self.config = config
        self.site = site
        self.suppressions = edges.suppressions(config)
        self.contact = config.reply_to or config.sender_address

    # ───────────────────────────── unsubscribe ─────────────────────────────

    async def confirm(self, request: Request) -> Response:
        lang = choose_language(request, self.config)
        claims = read_claims(request.path_params["token"], self.config)
        if claims is None:
            return self._invalid(lang)
        already = await run_in_threadpool(self.suppressions.contains, claims.address)
        t = self._words(lang)
        values = {"name": self.config.name, "address": mask(claims.address)}
        if already:
            return self._page(lang, t.done_title, f"<p>{fmt(t.already, values)}</p>")
        action = quote(request.path_params["token"], safe="") + f"?lang={lang}"
        body = (
            f"<p>{fmt(t.ask, values)}</p>\n"
            f'<form method="post" action="{html.escape(action)}">\n'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">\n'
            f'<button type="submit">{html.escape(t.button)}</button>\n</form>\n'
            f'<p class="small">{html.escape(t.nochange)} {fmt(t.mail, {"contact": self.contact})}</p>'
        )
        return self._page(lang, t.title, body)

    async def unsubscribe(self, request: Request) -> Response:
        lang = choose_language(request, self.config)
        claims = read_claims(request.path_params["token"], self.config)
        if claims is None:
            return self._invalid(lang)
        t = self._words(lang)
        if not await _is_one_click(request):
            return self._page(lang, t.invalid_title, f"<p>{html.escape(t.bad_request)}</p>", 400)
        await run_in_threadpool(self.suppressions.add, claims.address, "unsubscribed", "one-click")
        values = {"name": self.config.name, "address": mask(claims.address)}
        return self._page(lang, t.done_title, f"<p>{fmt(t.done, values)}</p>")

    async def health(self, request: Request) -> Response:
        return PlainTextResponse("ok", headers=SECURITY_HEADERS)

    def _words(self, lang: str) -> UnsubscribePageWords:
        return words(self.config, lang).unsubscribe_page

    def _invalid(self, lang: str) -> Response:
        t = self._words(lang)
        return self._page(lang, t.invalid_title, f"<p>{fmt(t.invalid, {'contact': self.contact})}</p>", 400)

    def _page(self, lang: str, title: str, body: str, status: int = 200) -> HTMLResponse:
        page = (
            f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="robots" content="noindex, nofollow">\n'
            f"<title>{html.escape(title)} – {html.escape(self.config.name)}</title>\n<style>{_CSS}{FORM_CSS}</style>\n"
            f"</head>\n<body>\n<main>\n<h1>{html.escape(title)}</h1>\n{body}\n{self._languages(lang)}\n"
            "</main>\n</body>\n</html>\n"
        )
        return HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)

    def _languages(self, current: str) -> str:
        links = [
            f'<a href="?lang={lang}" hreflang="{lang}" lang="{lang}">{lang.upper()}</a>'
            for lang in offered(self.config)
            if lang != current
        ]
        return f'<p class="small">{" · ".join(links)}</p>' if links else ""

    # ───────────────────────────── archive ─────────────────────────────

    async def archive(self, request: Request) -> Response:
        target = safe_path(self.site, request.path_params["path"])
        if target is None:
            return PlainTextResponse("not found", status_code=404, headers=SECURITY_HEADERS)
        headers = {
            **SECURITY_HEADERS,
            "Content-Security-Policy": ARCHIVE_CSP,
            "Cache-Control": "public, max-age=300",
        }
        media = _MEDIA_TYPES.get(target.suffix)
        return FileResponse(target, headers=headers, media_type=media)


_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".ics": "text/calendar; charset=utf-8",
    ".xml": "application/rss+xml; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
_CSS = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:0;"
    "background:#f4f5f7;color:#1d2329}main{max-width:34rem;margin:3rem auto;background:#fff;"
    "padding:2rem;border-radius:8px}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}button{font-size:1rem;padding:.7rem 1.4rem;"
    "border:0;border-radius:6px;background:#0b5cad;color:#fff;cursor:pointer}.small{font-size:.85rem;color:#555}"
)


def safe_path(root: Path, relative: str) -> Path | None:
    """The file under ``root`` that the URL path ``relative`` names (a folder: its index.html), or
    None: traversal, hidden parts and symbolic links are refused by the one rule of paths.contained."""
    clean = "/".join(p for p in relative.split("/") if p)  # "a//b/" as a web server reads it
    if ":" in clean:
        return None
    if not clean:
        return paths.contained(root, "index.html") if root.is_dir() else None
    if paths.contained(root, clean, directory=True) is None:
        return None
    return paths.contained(root, clean) or paths.contained(root, f"{clean}/index.html")


def offered(config: Config) -> list[str]:
    """The configured languages the page is written in (their own table in labels.toml)."""
    own = catalogue(config).languages
    return [lang for lang in config.languages if lang in own] or [config.default_language]


def choose_language(request: Request, config: Config) -> str:
    """``?lang=`` if offered, else the best Accept-Language match, else the default language."""
    languages = offered(config)
    wanted = request.query_params.get("lang", "").lower()
    if wanted in languages:
        return wanted
    for lang in accept_language(request.headers.get("accept-language", "")):
        if lang in languages:
            return lang
    return config.default_language if config.default_language in languages else languages[0]


def accept_language(header: str) -> list[str]:
    """Primary language tags of an Accept-Language header, best first (q=0 dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary and primary != "*" and q > 0:
            ranked.append((-q, index, primary))
    return [lang for _, _, lang in sorted(ranked)]


def mask(address: str) -> str:
    """``a…@example.org``: enough for the member to recognise the address, little for a passer-by."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}…@{domain}" if local else address


def read_claims(token: str, config: Config) -> Any | None:
    """The token's claims, or None for anything ``tokens.read_token`` does not accept.

    Never with the public development key, whatever the relay settings say."""
    from ..mail import tokens

    if not token or len(token) > 1024:
        return None
    try:
        return tokens.read_token(token, config, dev_key=False)
    except tokens.InvalidToken:
        return None


async def _is_one_click(request: Request) -> bool:
    try:  # a body over MAX_BODY (also a chunked one, while it is read) or a malformed one is not one
        form = await read_form(request, max_bytes=MAX_BODY, max_fields=10)
    except TooLarge:
        return False
    value = form.get("List-Unsubscribe")
    return isinstance(value, str) and value.strip().lower() == "one-click"
