"""VERP: every member's mail gets its own envelope sender, ``local+TOKEN@domain``, so a bounce names
the ledger row it is about even when it quotes nothing of the original (issue 13).

``TOKEN`` is ``<row id>-<12 hex>``: the delivery row's id and the first 48 bits of an HMAC-SHA256
of it, keyed with a key of its own derived from ``NEWSLETTER_SECRET`` (HKDF, info "newsletter verp
v1"; never the unsubscribe tokens' key). Short enough for any relay's 64-character local part, and
a forged token is accepted once in 2^48 tries. ``read_verp`` checks it in constant time against
every listed secret (rotation), never against the public DEV_SECRET: a token made with that key
verifies nowhere, so a dev-sink send can never suppress anyone by a forged bounce.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..config import Config
from .tokens import _real_secrets, _secrets

_INFO = b"newsletter verp v1"
_MAC_HEX = 12
_TOKEN = re.compile(r"([1-9][0-9]{0,17})-([0-9a-f]{12})\Z")


def verp_address(row_id: int, config: Config) -> str:
    """The envelope sender of the mail of ledger row ``row_id``: ``local+ID-MAC@domain``."""
    local, _, domain = config.envelope_sender.rpartition("@")
    return f"{local}+{row_id}-{_mac(_key(_secrets(config)[0]), row_id)}@{domain}"


def verp_token(address: str, config: Config) -> str | None:
    """The token of ``address`` when it is the bounce address with a ``+TOKEN`` (any case), else None."""
    local, _, domain = address.strip().strip("<>").rpartition("@")
    base_local, _, base_domain = config.envelope_sender.rpartition("@")
    head, plus, token = local.rpartition("+")
    if not plus or head.lower() != base_local.lower() or domain.lower() != base_domain.lower():
        return None
    return token


def read_verp(token: str, config: Config) -> int | None:
    """The ledger row id a token names, or None when it was not made with one of our real keys."""
    match = _TOKEN.match(token.lower())
    if match is None:
        return None
    row_id = int(match.group(1))
    for secret in _real_secrets(config):
        if hmac.compare_digest(_mac(_key(secret), row_id), match.group(2)):
            return row_id
    return None


def _mac(key: bytes, row_id: int) -> str:
    return hmac.digest(key, str(row_id).encode("ascii"), hashlib.sha256).hex()[:_MAC_HEX]


@lru_cache(maxsize=8)
def _key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode("utf-8"))


__all__ = ["read_verp", "verp_address", "verp_token"]
