"""The double opt-in mail: one confirmation link, personalised, with the Impressum; no tracking.

``confirmation_message`` renders ``templates/confirmation.html.j2`` and ``confirmation.txt.j2``
(the words from ``[<lang>.subscription]``, the Impressum from ``[footer.<lang>]``) into one
``ComposedMessage`` with its own Message-ID; the web edge sends it through the configured relay
(the transport of every send), DKIM-signed when configured, bounces to the envelope sender. No ``[TEST]``, no List-Unsubscribe: the reader is not on the list yet.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from email import quoprimime
from email.utils import format_datetime

from ..audience.signups import SignupRequest
from ..config import Config
from ..model import Member
from ..render.labels import words
from ..render.sandbox import NewsletterSandbox, render_capped
from .compose import ComposedMessage, salutation
from .headers import check_header_value, encode_text, fold, mailbox

HTML_TEMPLATE = "confirmation.html.j2"
TEXT_TEMPLATE = "confirmation.txt.j2"


def confirmation_message(config: Config, request: SignupRequest, link: str, days: int) -> ComposedMessage:
    """The confirmation mail for ``request`` in its language, pointing at ``link``."""
    lang = request.choice.language
    said = words(config, lang)
    t = said.subscription
    values = {"name": config.name, "address": request.address, "days": str(days), "contact": ""}
    chain = config.language_chain(lang)
    footer = next((config.footers[x] for x in chain if x in config.footers), None)
    member = Member(
        address=request.address,
        line=0,
        language=lang,
        salutation=request.salutation,
        last_name=request.last_name,
        first_name=request.first_name,
    )
    subject = t.mail_subject.format(**values)
    context = {
        "lang": lang,
        "name": config.name,
        "subject": subject,
        "salutation": salutation(member, said.salutation),
        "ask": t.mail_ask.format(**values),
        "button": t.mail_button,
        "ignore": t.mail_ignore,
        "link": link,
        "impressum_label": said.mail.impressum,
        "impressum": footer.impressum if footer else "",
    }
    env = NewsletterSandbox(config.templates)
    html = render_capped(env.get_template(HTML_TEMPLATE), context)
    text = render_capped(env.overlay(autoescape=False).get_template(TEXT_TEMPLATE), context)
    return _message(config, request, subject, text, html)


def _message(config: Config, request: SignupRequest, subject: str, text: str, html: str) -> ComposedMessage:
    name = " ".join(p for p in (request.first_name, request.last_name) if p)
    domain = check_header_value(config.mail_domain, "mail_domain")
    mid = f"<{secrets.token_hex(12)}.confirm@{domain}>"
    boundary = "=_nl_" + secrets.token_hex(12)
    head = "".join(
        [
            fold("From", mailbox(config.sender_name, config.sender_address, "From")),
            fold("To", mailbox(name, request.address, "To")),
            fold("Subject", encode_text(check_header_value(subject, "Subject"))),
            f"Date: {format_datetime(datetime.now(UTC))}\r\nMessage-ID: {mid}\r\n",
            fold("Reply-To", mailbox("", config.reply_to, "Reply-To")) if config.reply_to else "",
            "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n",
            f"Content-Language: {check_header_value(request.choice.language, 'language')}\r\n",
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n',
        ]
    )
    parts = "".join(
        f"--{boundary}\r\n{_part(kind, body)}\r\n" for kind, body in (("plain", text), ("html", html))
    )
    data = (head + parts + f"--{boundary}--\r\n").encode("ascii")
    if config.dkim is not None:  # signed like every message (compose does the same)
        from .dkim import sign  # only when configured: dkimpy is slow to import

        data = sign(data, config.dkim)
    return ComposedMessage(
        config.envelope_sender, request.address, mid, (data,), not request.address.isascii()
    )


def _part(kind: str, body: str) -> str:
    raw = body.replace("\r\n", "\n").encode("utf-8").decode("latin-1")  # quoprimime encodes code points < 256
    encoded = quoprimime.body_encode(raw, maxlinelen=76, eol="\r\n")
    return (
        f'Content-Type: text/{kind}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
        + encoded
    )


__all__ = ["HTML_TEMPLATE", "TEXT_TEMPLATE", "confirmation_message"]
