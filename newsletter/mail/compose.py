"""Edition + member → the bytes of one mail.

The MIME structure (multipart/alternative: text/plain then text/html, UTF-8, quoted-printable,
CRLF; the html inside a multipart/related with the issue's pictures when they are embedded,
``inline``) is built ONCE per edition by ``MessageTemplate.for_edition``: every header that is the
same for all members is checked and encoded then (``headers``), and each body is cut into
pre-encoded blocks and the few lines that hold ``[[nl:…]]`` placeholders. ``personalise(member)``
only encodes those lines and the per-member headers (To, Date, Message-ID, List-Unsubscribe),
joins bytes and signs them (``dkim``, when configured): ≈ 15× cheaper than building an
``email.message.EmailMessage`` per member (see benchmarks/compose.py). The result is one frozen
``ComposedMessage``, what the send engine hands to the transport.
"""

from __future__ import annotations

import binascii
import html
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from ..config import Config
from ..model import ALL, Edition, Member, segment_key
from ..render.labels import SalutationWords, words
from .headers import HeaderInjection, check_header_value, encode_phrase, encode_text, fold, mailbox
from .inline import image_part
from .tokens import make_token, seal
from .verp import verp_address

PLACEHOLDER = re.compile(r"\[\[nl:([a-z_]+)\]\]")
_MSGID = re.compile(r"<?([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+)>?")

# What the member list's salutation column may say, in any of its languages (the words the mail
# then uses are the member's language's, from [<lang>.salutation] of templates/labels.toml).
FEMALE = frozenset({"frau", "ms", "mrs", "miss", "pani", "f", "w", "female", "weiblich"})
MALE = frozenset({"herr", "mr", "pan", "m", "male", "männlich"})


@dataclass(frozen=True)
class ComposedMessage:
    """One member's mail. Its bytes are ``pieces`` in order: the edition's pre-encoded blocks (shared
    by every member of the edition) and the few made for this member, so the transport can write
    them as they are (one ``sendmsg``) instead of a fresh ≈ 50 KB copy per member; ``data`` joins them.
    CRLF line ends, every line ≤ 998 bytes, none starts with "." (it needs no dot-stuffing)."""

    envelope_from: str
    recipient: str  # the one RCPT of this message
    message_id: str  # as in the header, with angle brackets
    pieces: tuple[bytes, ...]
    smtputf8: bool = False  # the recipient's local part is not ASCII: the relay must offer SMTPUTF8

    @property
    def data(self) -> bytes:
        return b"".join(self.pieces)


# ───────────────────────────── bodies ─────────────────────────────


def _qp(text: str) -> bytes:
    """Quoted-printable (C speed), CRLF, lines ≤ 76, and no line starting with '.'.

    A leading dot is written ``=2E`` followed by a soft line break, so the line cannot grow past 76
    and naive SMTP clients that forget dot-stuffing cannot truncate the message.
    """
    encoded = b"\n" + binascii.b2a_qp(text.encode("utf-8"), istext=True)
    lines = encoded.split(b"\n")
    # b2a_qp lets an encoded trailing tab reach 78; an unterminated last line gets a soft break
    # appended by personalise(), so it may only use 75.
    if max(map(len, lines)) > 76 or len(lines[-1]) > 75:
        width = [76] * (len(lines) - 1) + [75]
        encoded = b"\n".join(_rewrap(line, w) for line, w in zip(lines, width, strict=True))
    while b"\n." in encoded:
        encoded = encoded.replace(b"\n.", b"\n=2E=\n")
    return encoded[1:].replace(b"\n", b"\r\n")


def _rewrap(line: bytes, width: int) -> bytes:
    """A quoted-printable line cut to ≤ width with soft breaks, never inside an ``=XX`` escape."""
    out = []
    while len(line) > width:
        cut = width - 1
        cut -= 1 if line[cut - 1 : cut] == b"=" else 2 if line[cut - 2 : cut - 1] == b"=" else 0
        out.append(line[:cut] + b"=")
        line = line[cut:]
    out.append(line)
    return b"\n".join(out)


def _cut(text: str) -> tuple[bytes | str, ...]:
    """Pre-encoded text (bytes) alternating with placeholder names (str).

    Every piece is encoded on its own starting at column 0: personalise() puts a soft line break
    (``=`` CRLF, invisible after decoding) before and after each value, so neither the static
    pieces nor the values have to be re-encoded together and every line stays ≤ 76 characters.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    parts = PLACEHOLDER.split(text if text.endswith("\n") else text + "\n")
    return tuple(_qp(part) if i % 2 == 0 else part for i, part in enumerate(parts))


def salutation(member: Member, forms: SalutationWords) -> str:
    """The mail's first line; without a last name a form that needs one gives way to ``anyone``."""
    kind = member.salutation.strip().lower().rstrip(".")
    last = member.last_name.strip()
    if kind in FEMALE and (last or "{last}" not in forms.female):
        return forms.female.format(last=last)
    if kind in MALE and (last or "{last}" not in forms.male):
        return forms.male.format(last=last)
    return forms.anyone


# ───────────────────────────── the template ─────────────────────────────


@dataclass(frozen=True)
class MessageTemplate:
    edition: Edition
    config: Config
    list_key: str  # segment key: List-Id label and the token's list id
    head: bytes  # From
    middle: bytes  # Subject
    before_unsubscribe: bytes  # Reply-To, List-Id
    tail: bytes  # List-Unsubscribe-Post, MIME-Version, Content-Type … up to the first part's body
    text: tuple[bytes | str, ...]
    between: bytes  # boundary and headers of the html part
    html: tuple[bytes | str, ...]
    end: bytes  # closing boundary
    browser_url: str
    salutations: SalutationWords  # the edition's language's, along its fallback chain

    @classmethod
    def for_edition(cls, edition: Edition, config: Config, *, subject_prefix: str = "") -> MessageTemplate:
        """Check and encode everything that is the same for every member of this edition."""
        sender = mailbox(config.sender_name, config.sender_address, "From")
        subject = check_header_value(subject_prefix + edition.subject, "Subject")
        list_key = segment_key(edition.segments)
        boundary = "=_nl_" + secrets.token_hex(12)  # "=_" never occurs in quoted-printable text
        head = fold("From", sender)
        middle = fold("Subject", encode_text(subject.strip()))
        before = fold("Reply-To", mailbox("", config.reply_to, "Reply-To")) if config.reply_to else ""
        before += fold("List-Id", _list_id(edition, config, list_key))
        tail = "".join(
            [
                "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" if config.public_url else "",
                "MIME-Version: 1.0\r\n",
                f"Content-Language: {check_header_value(edition.language, 'language')}\r\n",
                f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n',
                f"--{boundary}\r\n",
                _part_headers("plain"),
            ]
        )
        slug = edition.issue_slug
        between, html_source, end = _html_part(edition, boundary)
        return cls(
            edition=edition,
            config=config,
            list_key=list_key,
            head=head.encode(),
            middle=middle.encode(),
            before_unsubscribe=before.encode(),
            tail=tail.encode(),
            text=_cut(edition.text),
            between=between,
            html=_cut(html_source),
            end=end,
            browser_url=f"{config.public_url}/{slug}/{edition.language}.html" if config.public_url else "",
            salutations=words(config, edition.language).salutation,
        )

    def personalise(
        self,
        member: Member,
        *,
        message_id: str | None = None,
        now: datetime | None = None,
        delivery_id: int | None = None,
    ) -> ComposedMessage:
        """The message for one member; ``HeaderInjection`` if the member's name or address is unsafe.

        ``delivery_id`` is the member's ledger row: with ``verp = true`` the envelope sender names it
        (``verp``); proofs have none and use the bounce address as it is."""
        config = self.config
        to = mailbox(_full_name(member), member.address, "To", member.line)
        token = make_token(member.address, self.list_key, config)
        # to the mailbox `newsletter inbox` reads: the bounce address (default: the From address)
        mailto = f"mailto:{config.envelope_sender}?subject=unsubscribe%20{token}"
        web = f"{config.public_url}/u/{token}" if config.public_url else ""
        preferences = (
            f"{config.public_url}/p/{seal('preferences', [member.address], config, dev_key=True)}"
            if config.public_url
            else ""
        )
        mid = _message_id(message_id, self.edition.issue_slug, config.mail_domain, delivery_id)
        unsubscribe = f"<{web}>,\r\n <{mailto}>" if web else f"<{mailto}>"
        values = {
            "salutation": salutation(member, self.salutations),
            "first_name": member.first_name,
            "last_name": member.last_name,
            "company": member.company,
            "unsubscribe_url": web or mailto,
            "browser_url": self.browser_url,
            "preferences_url": preferences,
        }
        parts = [
            self.head,
            fold("To", to).encode(),
            self.middle,
            f"Date: {_date(now)}\r\nMessage-ID: {mid}\r\n".encode(),
            self.before_unsubscribe,
            f"List-Unsubscribe: {unsubscribe}\r\n".encode(),
            self.tail,
            *_fill(self.text, values, escape=False),
            self.between,
            *_fill(self.html, values, escape=True),
            self.end,
        ]
        if config.dkim is not None:
            from .dkim import sign  # only when configured: dkimpy is slow to import

            parts = [sign(b"".join(parts), config.dkim)]
        sender = config.envelope_sender
        if config.verp and delivery_id is not None:
            sender = verp_address(delivery_id, config)
        return ComposedMessage(sender, member.address, mid, tuple(parts), not member.address.isascii())


def _fill(pieces: tuple[bytes | str, ...], values: dict[str, str], *, escape: bool) -> list[bytes]:
    """One pass over the pre-cut body: values are encoded once and never scanned for placeholders."""
    encoded: dict[str, bytes] = {}
    out: list[bytes] = []
    for piece in pieces:
        if isinstance(piece, bytes):
            out.append(piece)
            continue
        value = encoded.get(piece)
        if value is None:
            raw = values.get(piece)
            raw = f"[[nl:{piece}]]" if raw is None else " ".join(raw.splitlines())
            value = encoded[piece] = _SOFT + _qp(html.escape(raw, quote=True) if escape else raw) + _SOFT
        out.append(value)
    return out


_SOFT = b"=\r\n"


def _html_part(edition: Edition, boundary: str) -> tuple[bytes, str, bytes]:
    """The bytes before the HTML body, the HTML source, and the bytes after it (up to the end).

    With embedded images (``edition.images``, only without a public URL) the HTML and its pictures
    form a ``multipart/related`` inside the alternative: the HTML's ``src`` values become
    ``cid:…`` and each picture is base64-encoded here, once per edition, never per member.
    """
    if not edition.images:
        return (
            f"\r\n--{boundary}\r\n{_part_headers('html')}".encode(),
            edition.html,
            f"\r\n--{boundary}--\r\n".encode(),
        )
    related = "=_nl_r_" + secrets.token_hex(12)
    html_source = edition.html
    for image in edition.images:
        html_source = re.sub(
            rf"""(<img\b[^>]*?\bsrc=)(["']){re.escape(image.src)}\2""", rf"\1\2cid:{image.cid}\2", html_source
        )
    before = (
        f"\r\n--{boundary}\r\n"
        f'Content-Type: multipart/related; type="text/html"; boundary="{related}"\r\n\r\n'
        f"--{related}\r\n{_part_headers('html')}"
    )
    unique = {image.cid: image for image in edition.images}.values()
    parts = b"".join(f"\r\n--{related}\r\n".encode() + image_part(image) for image in unique)
    return before.encode(), html_source, parts + f"\r\n--{related}--\r\n--{boundary}--\r\n".encode()


def _part_headers(kind: str) -> str:
    return (
        f'Content-Type: text/{kind}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
    )


def _full_name(member: Member) -> str:
    for part in (member.first_name, member.last_name):  # checked before strip(): "Alice\n" is refused
        check_header_value(part, "To name", member.line)
    return " ".join(p.strip() for p in (member.first_name, member.last_name) if p.strip())


def _list_id(edition: Edition, config: Config, key: str) -> str:
    names = [
        config.segments[s].name(edition.language) for s in sorted(edition.segments) if s in config.segments
    ]
    display = config.name if not names or ALL in edition.segments else f"{config.name} – {' + '.join(names)}"
    label = re.sub(r"[^A-Za-z0-9-]+", "-", key).strip("-") or "general"
    domain = check_header_value(config.mail_domain, "mail_domain")
    return f"{encode_phrase(check_header_value(display, 'List-Id'))} <{label}.newsletter.{domain}>"


def _message_id(given: str | None, slug: str, domain: str, delivery_id: int | None = None) -> str:
    """``<RANDOM.ROW.SLUG@domain>`` for a member's mail (``ROW``: its ledger row, so a report quoting
    the id finds the row by its key, ``delivery_row_of``), ``<RANDOM.SLUG@domain>`` for a proof."""
    if given is not None:
        m = _MSGID.fullmatch(check_header_value(given, "Message-ID"))
        if not m:
            raise HeaderInjection("Message-ID", f"'{given}' is not of the form local@domain")
        return f"<{m.group(1)}>"
    local = re.sub(r"[^A-Za-z0-9-]+", "-", slug).strip("-")[:40]
    row = f"{delivery_id}." if delivery_id is not None else ""
    return f"<{secrets.token_hex(10)}.{row}{local}@{domain}>"


def delivery_row_of(message_id: str, domain: str) -> int | None:
    """The ledger row a Message-ID made by ``personalise`` names, or None (a proof's, another's).
    Only a hint: the row's stored Message-ID must equal the whole id (``store.inbox``)."""
    local, at, host = message_id.strip().strip("<>").rpartition("@")
    parts = local.split(".")
    if not at or host.lower() != domain.lower() or len(parts) != 3 or not parts[1].isdigit():
        return None
    return int(parts[1])


_last_date: tuple[int, str] = (0, "")


def _date(now: datetime | None) -> str:
    """RFC 5322 date in UTC; formatted once per second (format_datetime costs ≈ 5 µs)."""
    global _last_date
    second = int((now or datetime.now(UTC)).timestamp())
    if _last_date[0] != second:
        _last_date = (second, format_datetime(datetime.fromtimestamp(second, UTC)))
    return _last_date[1]
