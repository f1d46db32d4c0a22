"""One e-mail address: validation, the normalised form, and the key that matches it everywhere.

The normalised form is the *whole* envelope address in lower case, with an internationalised
domain in its ASCII (IDNA) form: ``" EVE@Bücher.de "`` → ``eve@xn--bcher-kva.de``.

Why lower-case the local part too? RFC 5321 allows a server to treat ``Eve@`` and ``eve@`` as two
mailboxes, but no mail service our members use does, and the member list has to compare addresses
case-insensitively anyway (office staff retype addresses). Since two spellings are merged into one
member, the tool can only ever mail one of them, and the one form that every part agrees on — the
member list, the suppression list, unsubscribe tokens and the send ledger — is the lower-case one.

Addresses are checked with email-validator, never with ``email.utils.parseaddr``/``getaddresses``
(CVE-2023-27043: one crafted cell became several recipients). A cell holding more than one
address, a display name or angle brackets is refused outright rather than "repaired".
Non-ASCII local parts (``ünï@example.de``) need SMTPUTF8 at the relay, which we cannot promise,
so they are refused with that reason; an internationalised *domain* is fine (it has an ASCII form).
"""

from __future__ import annotations

import hashlib
from typing import Any

from email_validator import EmailNotValidError, validate_email

from ..limits import ADDRESS_MAX


class InvalidAddress(ValueError):
    """The text is not one usable address; ``reason`` says why in words for the office."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def check_address(text: str, *, check_dns: bool = False, resolver: Any = None) -> str:
    """Trim, validate and normalise one address cell; raise InvalidAddress with the reason.

    ``check_dns`` also asks DNS whether the domain accepts mail (slow; opt-in).
    """
    value = _precheck(text)
    return _full(value, check_dns, resolver)


class AddressChecker:
    """``check_address`` for a whole member list: the same results, each domain validated once.

    email-validator spends most of its time on the domain (IDNA rules per character), and a
    member list has far fewer domains than addresses. The first address of a domain gets the
    full validation; when it passes, the domain's ASCII form is remembered (with ``check_dns``
    that includes the domain's deliverability). A later plain ASCII address of ordinary length
    with a remembered domain only has its local part validated, against a fixed valid domain:
    email-validator checks the local part first, then the domain, then the length (which can
    only matter near 254 characters), so the outcome and the message are the same.
    Anything else — a new domain, a failure, non-ASCII, long addresses — takes the full path,
    so the checker is never slower than validating every address in full.
    ``tests/test_audience_addresses.py`` compares both paths on a corpus of awkward addresses.
    Make one checker per run: remembered DNS verdicts are not kept beyond it.
    """

    def __init__(self, *, check_dns: bool = False, resolver: Any = None, cache_size: int = 50_000):
        self.check_dns, self.resolver, self.cache_size = check_dns, resolver, cache_size
        self._domains: dict[str, str] = {}  # domain as written → its ASCII form (valid domains only)

    def check(self, text: str) -> str:
        value = _precheck(text)
        local, at, domain = value.partition("@")
        ascii_domain = self._domains.get(domain)
        if ascii_domain is None or len(value) > _FAST_MAX_LENGTH or not value.isascii() or "\\" in value:
            result = _validate(value, self.check_dns, self.resolver)
            if at and len(self._domains) < self.cache_size:
                self._domains[domain] = str(result.ascii_domain)
            return str(result.ascii_email).lower()
        try:
            ascii_local = validate_email(local + _PROBE_DOMAIN, **_OPTIONS).ascii_local_part
        except EmailNotValidError as exc:
            raise InvalidAddress(f"is not a valid address: {exc}") from None
        return f"{ascii_local}@{ascii_domain}".lower()


_OPTIONS: dict[str, Any] = {
    "allow_smtputf8": False,
    "allow_quoted_local": False,
    "allow_domain_literal": False,
    "allow_display_name": False,
    "check_deliverability": False,
}
_PROBE_DOMAIN = "@a.de"  # valid, so a probe's error can only be the local part's
_FAST_MAX_LENGTH = 200  # well below the 254-character limit email-validator checks last


def _precheck(text: str) -> str:
    """The trimmed cell, or InvalidAddress for what we refuse before email-validator sees it."""
    value = text.strip()
    if not value:
        raise InvalidAddress("is empty; every row needs an address")
    # Refused before email-validator spends time on a giant cell. Non-ASCII gets room for NFC
    # normalisation, which can shorten it; the exact limit is email-validator's.
    if len(value) > (ADDRESS_MAX if value.isascii() else 4 * ADDRESS_MAX):
        raise InvalidAddress(f"is {len(value):,} characters long; an address has at most {ADDRESS_MAX}")
    if value.count("@") > 1:
        raise InvalidAddress("holds more than one address; put one address per row")
    if any(c in value for c in '<>"'):
        raise InvalidAddress("has a display name, quotes or angle brackets; give the bare address only")
    local, _, _domain = value.rpartition("@")
    if not local.isascii():
        raise InvalidAddress(
            "has non-ASCII characters before the @; that needs SMTPUTF8, which the relay may not "
            "support, so ask the member for an ASCII address"
        )
    return value


def _full(value: str, check_dns: bool, resolver: Any) -> str:
    return str(_validate(value, check_dns, resolver).ascii_email).lower()


def _validate(value: str, check_dns: bool, resolver: Any) -> Any:
    try:
        return validate_email(
            value, **{**_OPTIONS, "check_deliverability": check_dns, "dns_resolver": resolver}
        )
    except EmailNotValidError as exc:
        raise InvalidAddress(f"is not a valid address: {exc}") from None


def normalise_address(address: str) -> str:
    """The validated, normalised form (see the module docstring); raises InvalidAddress."""
    return check_address(address)


def canonical(address: str) -> str:
    """The normalised form, cheaply, never raising: for lookups of addresses seen before.

    An ASCII address only needs trimming and lower-casing (that is all validation changes in a
    valid ASCII address); anything else goes through full validation, and if even that fails
    the trimmed lower-case text is used, so the same input always gives the same key.
    """
    value = address.strip()
    if value.isascii():
        return value.lower()
    try:
        return check_address(value)
    except InvalidAddress:
        return value.lower()


def address_hash(address: str) -> str:
    """SHA-256 (hex) of the normalised address: the key of the suppression list."""
    return hashlib.sha256(canonical(address).encode("utf-8")).hexdigest()


__all__ = [
    "AddressChecker",
    "InvalidAddress",
    "address_hash",
    "canonical",
    "check_address",
    "normalise_address",
]
