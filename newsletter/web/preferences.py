"""The preference page ``/p/<token>``, linked from every mail's footer beside "unsubscribe".

``GET  /p/<token>``  the reader's current language and segments as a form; changes nothing.
``POST /p/<token>``  fields ``language`` and ``segments`` (repeated), or ``unsubscribe=all``, and the
                     page's ``form_token``: sealed for this link's address and URL token and 2 hours
                     old at most, so a POST from anywhere but this page changes nothing. A change
                     is committed at once: a running send reads it right before the member's next
                     message (``send.retarget``). Unchecking every segment leaves the general
                     articles (the edition of members in no segment); "unsubscribe from all" is
                     a suppression, as the one-click unsubscribe.

The current choice: the reader's own (``preferences``), else the confirmed sign-up's, else the
member list's row, else the default language and no segment.
"""

from __future__ import annotations

import hashlib
import html
import threading
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .. import edges
from ..audience import read_members
from ..audience.signups import Choice, FormProblem, check_choice
from ..config import Config
from ..mail import tokens
from ..model import MemberFileError, NewsletterError
from ..render.labels import SubscriptionWords, words
from .forms import TooLarge, fmt, hidden, language_field, read_form, segments_field
from .public import choose_language, mask

if TYPE_CHECKING:
    from .subscribe import Page

FORM_MAX_AGE = 2 * 3600  # seconds a preference page may stay open before saving


class MemberLookup:
    """The member list's language and segments per address, read again when the file changes."""

    def __init__(self, path: Path, config: Config):
        self.path, self.config = path, config
        self._stamp: tuple[int, int] | None = None
        self._choices: dict[str, Choice] = {}
        self._lock = threading.Lock()

    def get(self, address: str) -> Choice | None:
        with self._lock:
            try:
                stat = self.path.stat()
            except OSError:
                return None
            if (stat.st_mtime_ns, stat.st_size) != self._stamp:
                try:
                    members = read_members(self.path, self.config).members
                except (MemberFileError, NewsletterError):
                    members = ()
                self._choices = {m.address: Choice(m.language, frozenset(m.segments)) for m in members}
                self._stamp = (stat.st_mtime_ns, stat.st_size)
            return self._choices.get(address)


class PreferencePages:
    def __init__(self, config: Config, page: Page):
        self.config, self.page = config, page
        self.subscriptions = edges.subscriptions(config)
        self.suppressions = edges.suppressions(config)
        self.members = MemberLookup(config.subscribers, config)
        self.contact = config.reply_to or config.sender_address

    def _words(self, lang: str) -> SubscriptionWords:
        return words(self.config, lang).subscription

    def _values(self, address: str) -> dict[str, str]:
        return {"name": self.config.name, "contact": self.contact, "address": mask(address), "days": ""}

    def _address(self, token: str) -> str | None:
        try:
            (address,) = tokens.unseal("preferences", token, self.config)
        except (tokens.InvalidToken, ValueError):
            return None
        return address

    def _invalid(self, lang: str, status: int = 400) -> Response:
        t = self._words(lang)
        return self.page(
            lang, t.prefs_invalid_title, f"<p>{fmt(t.prefs_invalid, self._values(''))}</p>", status
        )

    def current(self, address: str) -> Choice:
        chosen = self.subscriptions.choice(address)
        if chosen is not None:
            return chosen
        signup = self.subscriptions.signup(address)
        if signup is not None:
            return signup.choice
        return self.members.get(address) or Choice(self.config.default_language, frozenset())

    async def show(self, request: Request) -> Response:
        lang = choose_language(request, self.config)
        token = request.path_params["token"]
        address = self._address(token)
        if address is None:
            return self._invalid(lang)
        t = self._words(lang)
        if await run_in_threadpool(self.suppressions.contains, address):
            body = f'<p>{fmt(t.prefs_suppressed, self._values(address))}</p><p><a href="../subscribe?lang={lang}">{html.escape(t.subscribe_title)}</a></p>'
            return self.page(lang, t.prefs_title, body)
        choice = await run_in_threadpool(self.current, address)
        form_token = tokens.seal("form", [address, _digest(token)], self.config)
        action = html.escape(quote(token, safe="") + f"?lang={lang}")
        body = (
            f"<p>{fmt(t.prefs_intro, self._values(address))}</p>"
            f'<form method="post" action="{action}">{hidden("form_token", form_token)}'
            + language_field(self.config, t, choice.language)
            + segments_field(self.config, t, lang, choice.segments)
            + f'<p><button type="submit">{html.escape(t.prefs_save)}</button></p></form>'
            f"<h2>{html.escape(t.prefs_leave)}</h2>"
            f'<form method="post" action="{action}">{hidden("form_token", form_token)}'
            f"{hidden('unsubscribe', 'all')}"
            f'<button type="submit" class="secondary">{html.escape(t.prefs_unsubscribe_button)}</button></form>'
        )
        return self.page(lang, t.prefs_title, body)

    async def save(self, request: Request) -> Response:
        lang = choose_language(request, self.config)
        token = request.path_params["token"]
        address = self._address(token)
        if address is None:
            return self._invalid(lang)
        t = self._words(lang)
        stale = self.page(lang, t.prefs_invalid_title, f"<p>{html.escape(t.prefs_stale)}</p>", 400)
        try:
            form = await read_form(request)
        except TooLarge:
            return stale
        if not self._form_token_ok(form.get("form_token"), address, token):
            return stale
        if form.get("unsubscribe") == "all":
            await run_in_threadpool(self.suppressions.add, address, "unsubscribed", "preference page")
            body = f"<p>{fmt(t.prefs_unsubscribed, self._values(address))}</p>"
            return self.page(lang, t.prefs_unsubscribed_title, body)
        segments = [v for v in form.getlist("segments") if isinstance(v, str)][:20]
        language = form.get("language")
        try:
            choice = check_choice(self.config, language if isinstance(language, str) else "", segments)
        except FormProblem:
            return stale
        await run_in_threadpool(self.subscriptions.set_choice, address, choice)
        shown = words(self.config, lang)
        chosen = ", ".join(self.config.segments[s].name(lang) for s in sorted(choice.segments)) or "—"
        body = (
            f"<p>{fmt(t.prefs_saved, self._values(address))}</p>"
            f"<ul><li>{html.escape(t.language)}: {html.escape(_language_name(self.config, choice.language))}</li>"
            f"<li>{html.escape(t.segments)}: {html.escape(chosen)}</li></ul>"
            f'<p><a href="{html.escape(quote(token, safe=""))}?lang={lang}">{html.escape(shown.subscription.prefs_title)}</a></p>'
        )
        return self.page(lang, t.prefs_saved_title, body)

    def _form_token_ok(self, value: object, address: str, token: str) -> bool:
        if not isinstance(value, str):
            return False
        try:
            sealed = tokens.unseal("form", value, self.config, max_age=FORM_MAX_AGE)
        except tokens.InvalidToken:
            return False
        return sealed == [address, _digest(token)]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()[:32]


def _language_name(config: Config, lang: str) -> str:
    from ..render.labels import catalogue

    return catalogue(config).language_name(lang)


__all__ = ["MemberLookup", "PreferencePages"]
