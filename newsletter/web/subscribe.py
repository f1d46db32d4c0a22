"""Sign-up with double opt-in in ``newsletter serve``: ``/subscribe`` and ``/confirm/<token>``.

``GET  /subscribe``        the form (email, salutation, names, company, language, segments, consent).
``POST /subscribe``        checks the form, then ALWAYS answers the same page ("check your mail"),
                           whether or not the address is known, subscribed or limited: nothing
                           to enumerate. The mail itself is sent by a background thread (``Mailer``)
                           through the configured relay, so the answer's timing does not tell
                           either. Limits, counted in the state database (every serve process
                           agrees): ``[consent] per_ip_hour`` requests per client address
                           (429 beyond), one confirmation mail per address and 24 h; a honeypot
                           field; bodies over 16 KB are refused (413).
``GET  /confirm/<token>``  shows a button and changes nothing (mail scanners open every link).
``POST /confirm/<token>``  records the consent (``store.subscriptions.confirm``); a replay is harmless.

Nothing is stored before the click: the confirmation token (``mail.tokens.seal``, purpose
"confirm", 7 days) carries the form's values sealed, as Ghost keeps nothing until then.
"""

from __future__ import annotations

import hashlib
import html
import logging
import queue
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from .. import edges
from ..audience.address import address_hash
from ..audience.signups import (
    Choice,
    FormProblem,
    SignupRequest,
    check_choice,
    check_email,
    check_name,
    consent_hash,
    truncate_ip,
)
from ..config import Config
from ..mail import tokens
from ..render.labels import SubscriptionWords, words
from .forms import (
    TooLarge,
    fmt,
    hidden,
    language_field,
    read_form,
    salutation_field,
    segments_field,
    text_field,
)
from .public import choose_language, mask

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..mail.compose import ComposedMessage
    from ..send.outcomes import Attempt

    Page = Callable[..., HTMLResponse]

log = logging.getLogger("newsletter.subscribe")
CONFIRM_MAX_AGE = tokens.CONFIRM_DAYS * 86400
ADDRESS_WINDOW = timedelta(hours=24)  # one confirmation mail per address in this window
IP_WINDOW = timedelta(hours=1)
RETRY_WAITS = (5.0, 30.0)  # seconds before the 2nd and 3rd try of a confirmation mail the relay deferred
PURGE_EVERY = 3600.0  # seconds between two purges of expired counters (rate_limits) from submit
NO_CONFIRMATION = ("bounced", "complained")  # suppressed for these: no confirmation mail either
HONEYPOT = "website"  # hidden from people (CSS), filled by form-filling robots


class Mailer:
    """Sends confirmation mails one after another in a background thread (a bounded queue)."""

    def __init__(self, config: Config):
        self.config = config
        self.queue: queue.Queue[tuple[SignupRequest, str]] = queue.Queue(maxsize=200)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, request: SignupRequest, link: str) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="confirmation-mails", daemon=True)
                self._thread.start()
        try:
            self.queue.put_nowait((request, link))
        except queue.Full:
            log.warning("confirmation mail queue is full; a sign-up's mail was dropped")

    def _work(self) -> None:
        from ..mail.confirmation import confirmation_message
        from ..send.slots import send_one

        while True:
            request, link = self.queue.get()
            try:
                message = confirmation_message(self.config, request, link, tokens.CONFIRM_DAYS)
                attempt = self._deliver(message, send_one)
                if attempt.code != 250:
                    log.warning("confirmation mail not accepted by the relay: %s", attempt.describe())
            except Exception:  # noqa: BLE001 - one failed mail must not stop the worker
                log.exception("confirmation mail could not be sent")
            finally:
                self.queue.task_done()

    def _deliver(self, message: ComposedMessage, send_one: Callable[..., Attempt]) -> Attempt:
        """One confirmation mail; a transient refusal (4xx, a lost connection, the relay unreachable)
        is tried again after each of RETRY_WAITS, so a short relay hiccup loses no sign-up."""
        from ..send.outcomes import Outcome
        from ..send.protocols import TransportError

        transient = (Outcome.DEFER, Outcome.RETRY, Outcome.LOST, Outcome.PAUSE)
        for wait in (*RETRY_WAITS, None):
            try:
                conn = edges.transport(self.config).connect()
            except TransportError as exc:
                attempt = exc.attempt
            else:
                try:
                    attempt = send_one(conn, message.envelope_from, message.recipient, message.pieces)
                finally:
                    conn.close()
            if attempt.outcome not in transient or wait is None:
                return attempt
            log.info("confirmation mail deferred (%s); trying again in %.0f s", attempt.describe(), wait)
            time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover


class SignupPages:
    """The routes of /subscribe and /confirm/<token>; ``page`` is the service's page shell."""

    def __init__(self, config: Config, page: Page):
        self.config, self.page = config, page
        self.subscriptions = edges.subscriptions(config)
        self.suppressions = edges.suppressions(config)
        self.mailer = Mailer(config)
        self.contact = config.reply_to or config.sender_address
        self.purged_at = 0.0  # time.monotonic() of the last purge of expired counters
        self.purge_limits()  # when the pages start, then at most once an hour from submit

    def purge_limits(self) -> None:
        """Delete the expired sign-up counters (nothing about an address outlives its limit)."""
        self.purged_at = time.monotonic()
        try:
            self.subscriptions.purge_limits()
        except SQLAlchemyError:  # the next submit after an hour tries again; the limits still hold
            log.exception("expired sign-up counters could not be deleted")

    def _words(self, lang: str) -> SubscriptionWords:
        return words(self.config, lang).subscription

    def _values(self, address: str = "") -> dict[str, str]:
        return {"name": self.config.name, "contact": self.contact, "days": str(tokens.CONFIRM_DAYS),
                "address": address}  # fmt: skip

    # ── /subscribe ──

    async def form(self, request: Request) -> Response:
        lang = choose_language(request, self.config)
        return self._form(lang, {}, {})

    def _form(
        self, lang: str, given: dict[str, object], errors: dict[str, str], status: int = 200
    ) -> Response:
        t, config = self._words(lang), self.config
        consent = config.consent.text(config.language_chain(lang))
        if consent is None or not config.public_url:  # no consent text, or no link to confirm with
            return self.page(lang, t.subscribe_title, f"<p>{fmt(t.closed, self._values())}</p>", 503)
        value = {k: str(v) for k, v in given.items() if isinstance(v, str)}
        chosen = given.get("segments_list", ())
        alert = f'<p class="alert" role="alert">{html.escape(t.fix)}</p>' if errors else ""
        consent_error = errors.get("consent", "")
        invalid = ' aria-invalid="true"' if consent_error else ""
        body = (
            f"<p>{fmt(t.subscribe_intro, self._values())}</p>{alert}"
            f'<form method="post" action="subscribe?lang={lang}" accept-charset="utf-8">'
            + text_field("email", t.email, value.get("email", ""), kind="email", required=True,
                         error=errors.get("email", ""), autocomplete="email", maxlength=254)
            + salutation_field(t, value.get("salutation", ""))
            + text_field("first_name", t.first_name, value.get("first_name", ""), autocomplete="given-name",
                         maxlength=100, error=errors.get("first_name", ""))
            + text_field("last_name", t.last_name, value.get("last_name", ""), autocomplete="family-name",
                         maxlength=100, error=errors.get("last_name", ""))
            + text_field("company", t.company, value.get("company", ""), autocomplete="organization",
                         error=errors.get("company", ""))
            + language_field(config, t, value.get("language", lang))
            + segments_field(config, t, lang, chosen if isinstance(chosen, tuple) else ())
            + f'<fieldset><legend>{html.escape(t.consent)} <span class="req" aria-hidden="true">*</span></legend>'
            f'<label class="choice consent"><input type="checkbox" name="consent" value="yes" required'
            f'{" checked" if value.get("consent") == "yes" else ""}'
            f'{invalid}> <span lang="{consent[0]}">'
            f"{html.escape(consent[1])}</span></label>"
            + (f'<span class="error">{html.escape(consent_error)}</span>' if consent_error else "")
            + "</fieldset>"
            + hidden("consent_language", consent[0])
            + hidden("consent_hash", consent_hash(consent[1]))
            + f'<p class="trap" aria-hidden="true"><label for="{HONEYPOT}">{html.escape(t.honeypot)}</label>'
            f'<input type="text" id="{HONEYPOT}" name="{HONEYPOT}" value="" tabindex="-1" autocomplete="off"></p>'
            f'<p><button type="submit">{html.escape(t.submit)}</button></p>'
            f'<p class="small"><span class="req">*</span> {html.escape(t.required)}</p></form>'
        )  # fmt: skip
        return self.page(lang, t.subscribe_title, body, status)

    async def submit(self, request: Request) -> Response:
        lang = choose_language(request, self.config)
        t = self._words(lang)
        try:
            form = await read_form(request)
        except TooLarge:
            return self.page(lang, t.subscribe_title, f"<p>{html.escape(t.fix)}</p>", 413)
        ip = request.client.host if request.client else ""
        if time.monotonic() - self.purged_at >= PURGE_EVERY:
            await run_in_threadpool(self.purge_limits)
        allowed = await run_in_threadpool(
            self.subscriptions.allow, f"ip:{tokens.keyed_hash(ip, self.config)}",
            self.config.consent.per_ip_hour, IP_WINDOW,
        )  # fmt: skip
        if not allowed:
            return self.page(lang, t.limited_title, f"<p>{fmt(t.limited, self._values())}</p>", 429)
        if self.config.consent.text(self.config.language_chain(lang)) is None or not self.config.public_url:
            return self._form(lang, {}, {})  # the closed page
        if _text(form, HONEYPOT):  # a robot: the same answer as everyone, and nothing is sent
            return self._sent(lang)
        given, errors, signup = self._check(form, lang, ip)
        if signup is None:
            return self._form(lang, given, errors, 400)
        if await run_in_threadpool(self._may_mail, signup.address):
            self.mailer.submit(signup, self._link(signup))
        return self._sent(lang)

    def _may_mail(self, address: str) -> bool:
        """One confirmation mail per address and 24 h, none to a dead or complaining mailbox; the
        same database work for every address (no timing difference to enumerate by)."""
        allowed = self.subscriptions.allow(f"address:{address_hash(address)}", 1, ADDRESS_WINDOW)
        entry = self.suppressions.get(address)
        return allowed and (entry is None or entry.reason not in NO_CONFIRMATION)

    def _sent(self, lang: str) -> Response:
        t = self._words(lang)
        return self.page(lang, t.sent_title, f"<p>{fmt(t.sent, self._values())}</p>")

    def _check(
        self, form: FormData, lang: str, ip: str
    ) -> tuple[dict[str, object], dict[str, str], SignupRequest | None]:
        """The form's values (to show again), the problems per field, and the request if none."""
        t, config = self._words(lang), self.config
        fields = ("email", "salutation", "first_name", "last_name", "company", "language", "consent")
        given: dict[str, object] = {name: _text(form, name) for name in fields}
        segments = tuple(v for v in form.getlist("segments") if isinstance(v, str))[:20]
        given["segments_list"] = segments
        errors: dict[str, str] = {}
        values: dict[str, str] = {}
        address, choice = "", Choice(lang, frozenset())
        try:
            address = check_email(_text(form, "email"))
        except FormProblem as exc:
            errors["email"] = f"{t.field_invalid} ({exc.reason})"
        for name in ("salutation", "first_name", "last_name", "company"):
            try:
                values[name] = check_name(name, _text(form, name))
            except FormProblem:
                errors[name] = t.field_invalid
        try:
            choice = check_choice(config, _text(form, "language") or lang, segments)
        except FormProblem as exc:
            errors[exc.field] = t.field_invalid
        if _text(form, "consent") != "yes":
            errors["consent"] = t.no_consent
        shown = config.consent.text(config.language_chain(_text(form, "consent_language") or lang))
        if shown is not None and _text(form, "consent_hash") != consent_hash(shown[1]):
            # not the text this form showed (another language sent, or reworded since): ask again
            errors["consent"], given["consent"] = t.no_consent, ""
        if errors or shown is None:
            return given, errors, None
        return given, errors, SignupRequest(
            address=address, choice=choice, text_hash=consent_hash(shown[1]), text_language=shown[0],
            ip=truncate_ip(ip) if config.consent.record_ip else None,
            requested_at=datetime.now(UTC).replace(microsecond=0), **values,
        )  # fmt: skip

    def _link(self, r: SignupRequest) -> str:
        values = [r.address, r.salutation, r.first_name, r.last_name, r.company, r.choice.language,
                  r.choice.cell, r.text_hash, r.text_language, r.ip or "", r.requested_at.isoformat()]  # fmt: skip
        token = tokens.seal("confirm", values, self.config)
        base = self.config.public_url or ""
        return f"{base}/confirm/{token}?lang={r.choice.language}"

    # ── /confirm/<token> ──

    def _request(self, token: str) -> SignupRequest | None:
        try:
            v = tokens.unseal("confirm", token, self.config, max_age=CONFIRM_MAX_AGE)
            requested = datetime.fromisoformat(v[10])
        except (tokens.InvalidToken, IndexError, ValueError):
            return None
        if len(v) != 11 or requested.tzinfo is None:
            return None
        choice = Choice(v[5], frozenset(s for s in v[6].split("|") if s))
        return SignupRequest(address=v[0], salutation=v[1], first_name=v[2], last_name=v[3], company=v[4],
                             choice=choice, text_hash=v[7], text_language=v[8], ip=v[9] or None,
                             requested_at=requested)  # fmt: skip

    def _invalid(self, lang: str) -> Response:
        t = self._words(lang)
        return self.page(
            lang, t.confirm_invalid_title, f"<p>{fmt(t.confirm_invalid, self._values())}</p>", 400
        )

    async def confirm_page(self, request: Request) -> Response:
        lang = choose_language(request, self.config)
        token = request.path_params["token"]
        signup = self._request(token)
        if signup is None:
            return self._invalid(lang)
        t = self._words(lang)
        action = quote(token, safe="") + f"?lang={lang}"
        body = (
            f"<p>{fmt(t.confirm_ask, self._values(mask(signup.address)))}</p>"
            f'<form method="post" action="{html.escape(action)}">{hidden("confirm", "yes")}'
            f'<button type="submit">{html.escape(t.confirm_button)}</button></form>'
            f'<p class="small">{html.escape(t.confirm_nochange)}</p>'
        )
        return self.page(lang, t.confirm_title, body)

    async def confirm(self, request: Request) -> Response:
        lang = choose_language(request, self.config)
        token = request.path_params["token"]
        signup = self._request(token)
        if signup is None:
            return self._invalid(lang)
        try:
            await read_form(request)
        except TooLarge:
            return self._invalid(lang)
        request_id = hashlib.sha256(token.encode("ascii")).hexdigest()
        await run_in_threadpool(self.subscriptions.confirm, signup, request_id)
        t = self._words(lang)
        return self.page(
            lang, t.confirmed_title, f"<p>{fmt(t.confirmed, self._values(mask(signup.address)))}</p>"
        )


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


__all__ = ["Mailer", "SignupPages"]
