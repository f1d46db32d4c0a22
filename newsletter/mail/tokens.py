"""Unsubscribe tokens: who (address) and which list (segment key), sealed with the installation's secret;
and the sealed tokens of the subscription pages (``seal``/``unseal``: one key and label per purpose).

A token is a Fernet token (AES-128-CBC + HMAC-SHA256, verified in constant time) without its
base64 padding, so it is URL-safe and reveals nothing readable. Keys come from ``NEWSLETTER_SECRET``:
the first secret makes tokens, every listed secret (the first, then the rotated-out ones in
``config.old_secrets``) is accepted when reading, so links in mails sent before a key rotation keep
working until the old secret is removed from the list.

Without a secret, tokens are only made for the embedded dev sink, with ``DEV_SECRET``: a fixed,
public key that must never protect real mail. The public service (``newsletter serve``) never
accepts it: anyone can make a DEV_SECRET token for any address (``require_real_secret``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from cryptography.fernet import InvalidToken as _FernetInvalid
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..config import Config
from ..model import ConfigError, NewsletterError

DEV_SECRET = "newsletter-dev-sink-only-NOT-A-SECRET"  # noqa: S105 - public on purpose, dev sink only
_INFO = b"newsletter unsubscribe token v1"
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{40,1024}\Z")


class InvalidToken(NewsletterError):
    """The token was not made with any of this installation's keys, or was altered."""

    exit_code = 1


@dataclass(frozen=True)
class TokenClaims:
    address: str
    list_id: str  # segment key of the edition the link was in ("poland", "poland+usa", "all", "general")


def make_token(address: str, list_id: str, config: Config) -> str:
    """A URL-safe token for ``address`` on ``list_id`` (≈ 110–180 characters)."""
    if "\n" in list_id or "\n" in address:
        raise ValueError("address and list id must be single lines")
    payload = f"{list_id}\n{address}".encode()
    return _fernet(_secrets(config)).encrypt(payload).decode("ascii").rstrip("=")


def read_token(token: str, config: Config, *, dev_key: bool = True) -> TokenClaims:
    """The claims of a token made by ``make_token`` with any listed key; ``InvalidToken`` otherwise.

    ``dev_key=False`` (the public service) accepts only keys of NEWSLETTER_SECRET, never DEV_SECRET."""
    if not isinstance(token, str) or not _TOKEN_RE.match(token):
        raise InvalidToken("this link is not valid (malformed token)")
    keys = _secrets(config) if dev_key else _real_secrets(config)
    if not keys:
        raise InvalidToken("this link cannot be checked (no NEWSLETTER_SECRET)")
    padded = token + "=" * (-len(token) % 4)
    try:
        # Canonical base64 only: otherwise the unused low bits of the last character would give
        # several spellings of one token.
        if base64.urlsafe_b64encode(base64.urlsafe_b64decode(padded)).decode("ascii") != padded:
            raise ValueError("non-canonical base64")
        payload = _fernet(keys).decrypt(padded.encode("ascii"))
        list_id, sep, address = payload.decode("utf-8").partition("\n")
    except (_FernetInvalid, binascii.Error, ValueError):
        raise InvalidToken("this link is not valid or was altered") from None
    if not sep or not address or "\n" in address:
        raise InvalidToken("this link is not valid (unexpected content)")
    return TokenClaims(address=address, list_id=list_id)


# ── tokens of the subscription pages (confirm a sign-up, open the preference page, post its form) ──
# Each purpose has its own key (derived with the purpose in the HKDF info) and names itself inside
# the sealed payload: an unsubscribe token is never a confirmation token, nor the other way round.
PURPOSES = ("confirm", "preferences", "form")
CONFIRM_DAYS = 7
_SEALED_RE = re.compile(r"[A-Za-z0-9_-]{40,4096}\Z")


def seal(
    purpose: str, values: list[str], config: Config, *, at: int | None = None, dev_key: bool = False
) -> str:
    """A URL-safe token carrying ``values`` for ``purpose``.

    ``dev_key``: a mail to the dev sink may use the public dev key (as unsubscribe links do); the
    public service never accepts it. ``at`` (Unix time) back-dates the token, for tests of expiry."""
    keys = _secrets(config) if dev_key else _real_secrets(config)
    if purpose not in PURPOSES or not keys:
        raise ConfigError(SERVE_WITHOUT_KEY)
    payload = json.dumps([purpose, *values], ensure_ascii=False, separators=(",", ":")).encode()
    fernet = _fernet(keys, purpose)
    token = fernet.encrypt(payload) if at is None else fernet.encrypt_at_time(payload, at)
    return token.decode("ascii").rstrip("=")


def unseal(purpose: str, token: str, config: Config, *, max_age: float | None = None) -> list[str]:
    """The values of a token ``seal(purpose, …)`` made with a listed key, not older than ``max_age``
    seconds; ``InvalidToken`` for anything else (forged, altered, expired, another purpose)."""
    if not isinstance(token, str) or not _SEALED_RE.match(token):
        raise InvalidToken("this link is not valid (malformed token)")
    keys = _real_secrets(config)
    if purpose not in PURPOSES or not keys:
        raise InvalidToken("this link cannot be checked (no NEWSLETTER_SECRET)")
    padded = token + "=" * (-len(token) % 4)
    try:
        if base64.urlsafe_b64encode(base64.urlsafe_b64decode(padded)).decode("ascii") != padded:
            raise ValueError("non-canonical base64")
        ttl = None if max_age is None else int(max_age)
        payload = _fernet(keys, purpose).decrypt(padded.encode("ascii"), ttl=ttl)
        values = json.loads(payload.decode("utf-8"))
    except (_FernetInvalid, binascii.Error, ValueError):
        raise InvalidToken("this link is not valid, has expired or was altered") from None
    if not isinstance(values, list) or not values or values[0] != purpose:
        raise InvalidToken("this link is not valid (another kind of link)")
    if not all(isinstance(v, str) for v in values):
        raise InvalidToken("this link is not valid (unexpected content)")
    return values[1:]


def _secrets(config: Config) -> tuple[str, ...]:
    if config.secret:
        return (config.secret.reveal(), *(s.reveal() for s in config.old_secrets if s))
    if config.smtp.is_dev_sink:
        return (DEV_SECRET,)
    raise ConfigError(
        "NEWSLETTER_SECRET is not set: unsubscribe links need it when mailing through a real relay; "
        "put a long random value in .env (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    )


def _real_secrets(config: Config) -> tuple[str, ...]:
    listed = (config.secret, *config.old_secrets) if config.secret else ()
    return tuple(s.reveal() for s in listed if s and s.reveal() != DEV_SECRET)


SERVE_WITHOUT_KEY = (
    "NEWSLETTER_SECRET is not set: newsletter serve checks unsubscribe links with it; put the key the mails "
    "were sent with in .env (a new one: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
)


def require_real_secret(config: Config) -> None:
    """Refuse to run the public service without a real key: with the public DEV_SECRET anyone could
    make a valid unsubscribe link for any address."""
    if not config.secret:
        raise ConfigError(SERVE_WITHOUT_KEY)
    if any(s.reveal() == DEV_SECRET for s in (config.secret, *config.old_secrets)):
        raise ConfigError(
            "NEWSLETTER_SECRET lists the public development key (tokens.DEV_SECRET); "
            "remove it and use a long random key of your own"
        )


@lru_cache(maxsize=16)
def _fernet(secrets: tuple[str, ...], purpose: str = "") -> MultiFernet:
    info = f"newsletter {purpose} token v1".encode() if purpose else _INFO
    return MultiFernet([Fernet(_derive(s, info)) for s in secrets])


def _derive(secret: str, info: bytes = _INFO) -> bytes:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret.encode("utf-8"))
    return base64.urlsafe_b64encode(key)


def keyed_hash(text: str, config: Config) -> str:
    """HMAC-like digest of ``text`` under the installation's key (rate-limit keys for client IPs:
    the database never holds the address itself)."""
    keys = _real_secrets(config) or ("",)
    return (
        HKDF(algorithm=hashes.SHA256(), length=16, salt=None, info=b"newsletter rate key")
        .derive((keys[0] + "\n" + text).encode("utf-8"))
        .hex()
    )
