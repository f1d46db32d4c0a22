"""The member's view of an edition: sample members, the personalised message, outbox messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from urllib.parse import quote

from ...config import Config
from ...model import ALL, Edition, EditionKey, Member, NewsletterError

PLACEHOLDER_LINE = 0  # Member.line of the invented sample member


@dataclass(frozen=True)
class MailView:
    """One message as the member's mail program will see it."""

    html: str
    text: str
    headers: tuple[tuple[str, str], ...]
    raw: bytes = b""
    note: str = ""  # shown when the view is an approximation
    images: tuple[InlineImage, ...] = ()  # the message's cid: parts (pictures embedded in the mail)

    def image(self, cid: str) -> InlineImage | None:
        return next((i for i in self.images if i.cid == cid), None)


@dataclass(frozen=True)
class InlineImage:
    """One ``Content-ID`` part of a message, as the preview serves it to the mail's ``cid:`` images."""

    cid: str  # without <>
    content_type: str
    data: bytes


def placeholder_member(edition: Edition) -> Member:
    from ...send.run import placeholder_member as invented

    segments = frozenset() if ALL in edition.segments else edition.segments
    return invented("erika.mustermann@example.org", edition.language, segments, salutation="Frau")


def sample_members(edition: Edition, members: tuple[Member, ...] | None, limit: int = 25) -> list[Member]:
    """Real members who receive this edition (first ``limit``), for the sample switcher."""
    if not members:
        return []
    key = EditionKey(edition.segments, edition.language)
    return [m for m in members if EditionKey.of(m) == key][:limit]


def member_label(member: Member) -> str:
    name = " ".join(p for p in (member.first_name, member.last_name) if p)
    if member.line == PLACEHOLDER_LINE:
        return f"Sample member ({name})"
    who = f"{name} <{member.address}>" if name else member.address
    return f"{who} · line {member.line}"


def personalised(edition: Edition, config: Config, member: Member) -> MailView:
    """The message this member gets, built by compose exactly as a send would build it."""
    try:
        from ...mail.compose import MessageTemplate

        raw = MessageTemplate.for_edition(edition, config).personalise(member).data
    except (ImportError, NewsletterError) as exc:
        note = (
            "; ".join(exc.lines())
            if isinstance(exc, NewsletterError)
            else "the message builder is not available"
        )
        return _approximation(edition, config, member, f"Headers not available: {note}")
    return parse_message(raw)


def parse_message(raw: bytes) -> MailView:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    html = _part(message, "html")
    text = _part(message, "plain")
    headers = tuple((name, str(value)) for name, value in message.items())
    return MailView(html=html, text=text, headers=headers, raw=raw, images=_inline_images(message))


def _inline_images(message: EmailMessage) -> tuple[InlineImage, ...]:
    found = []
    for part in message.walk():
        cid = str(part.get("Content-ID", "")).strip().strip("<>")
        payload = part.get_payload(decode=True) if cid and part.get_content_maintype() == "image" else None
        if isinstance(payload, bytes):
            found.append(InlineImage(cid, part.get_content_type(), payload))
    return tuple(found)


def _part(message: EmailMessage, kind: str) -> str:
    part = message.get_body(preferencelist=(kind,))
    if part is None:
        return ""
    try:
        return str(part.get_content())
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _approximation(edition: Edition, config: Config, member: Member, note: str) -> MailView:
    try:  # the member's real salutation, unless the word catalogue is what failed
        from ...mail.compose import salutation
        from ...render.labels import words

        greeting = salutation(member, words(config, edition.language).salutation)
    except (ImportError, NewsletterError):
        greeting = ""
    values = {
        "[[nl:salutation]]": greeting,
        "[[nl:first_name]]": member.first_name,
        "[[nl:last_name]]": member.last_name,
        "[[nl:company]]": member.company,
        "[[nl:unsubscribe_url]]": "#unsubscribe",
        "[[nl:preferences_url]]": "#preferences",
        "[[nl:browser_url]]": "#browser",
    }
    html, text = edition.html, edition.text
    for placeholder, value in values.items():
        html, text = html.replace(placeholder, value), text.replace(placeholder, value)
    headers = (("Subject", edition.subject), ("To", member.address))
    return MailView(html=html, text=text, headers=headers, note=note)


_HEAD = re.compile(r"<head[^>]*>", re.IGNORECASE)
DARK_CSS = (
    "<style>html{filter:invert(1) hue-rotate(180deg);background:#fff}"
    "img,picture,video{filter:invert(1) hue-rotate(180deg)}</style>"
)


_CID_SRC = re.compile(r"""(<img\b[^>]*?\bsrc=["'])cid:([^"']+)(["'])""", re.IGNORECASE)


def frame_document(html: str, *, base: str | None, dark: bool, cid_url: str | None = None) -> str:
    """The mail HTML prepared for the preview frame: links open outside; relative images from
    ``base``; ``cid:`` images (pictures embedded in the mail) from ``cid_url`` + the Content-ID."""
    if cid_url is not None:
        html = _CID_SRC.sub(lambda m: f"{m[1]}{cid_url}{quote(m[2], safe='')}{m[3]}", html)
    extra = ""
    if "<base" not in html.lower():
        extra += f'<base href="{base}" target="_blank">' if base else '<base target="_blank">'
    if dark:
        extra += '<meta name="color-scheme" content="dark">' + DARK_CSS
    if not extra:
        return html
    match = _HEAD.search(html)
    if match:
        return html[: match.end()] + extra + html[match.end() :]
    return f"<head>{extra}</head>{html}"
