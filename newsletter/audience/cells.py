"""Checks of single cells of the member list: pure functions of the cell text.

Each raises ``BadCell`` (or returns a reason) with a message that says what is wrong and what to
write instead; the row reader adds ``CSV:line: column …:`` in front.
"""

from __future__ import annotations

import re

from ..limits import NAME_MAX
from ..zones import did_you_mean, find_zone

_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")  # tab is allowed
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bq]\?[^?]*\?=", re.IGNORECASE)


# A '?' next to a letter: what Excel writes for ł ś ż ą ę ń ź … when it saves as Windows-1252.
_LOST_LETTER = re.compile(r"(?<=[^\W\d_])\?|\?(?=[^\W\d_])")


class BadCell(ValueError):
    """A cell value that is not allowed; the message says why and what to write instead."""


def might_inject(text: str) -> bool:
    """A quick test over a whole row: only a row that might needs ``injection`` per cell."""
    return "=?" in text or bool(_CONTROL.search(text))


def injection(value: str) -> str | None:
    """Why ``value`` could inject mail headers (CVE-2024-6923 on Python 3.11.7), or None."""
    if _CONTROL.search(value):
        return (
            "contains a line break (CR/LF), NUL or another control character, which could inject "
            "mail headers; remove it"
        )
    if _ENCODED_WORD.search(value):
        return (
            "contains an RFC 2047 encoded word (=?…?=), which could hide a line break and inject "
            "mail headers; write the text plainly"
        )
    return None


def timezone(value: str, *, suggest: bool = True) -> str | None:
    """The IANA spelling of the ``timezone`` cell (None when empty); a typo gets a "did you mean"."""
    if not value:
        return None
    zone = find_zone(value)
    if zone is None:
        guess = did_you_mean(value) if suggest else ""
        raise BadCell(
            f"unknown time zone {value!r}{guess}; use an IANA name such as Europe/Berlin or America/New_York"
        )
    return zone


def status(value: str) -> bool:
    """True for subscribed (also empty), False for unsubscribed."""
    status = value.lower()
    if status in ("", "subscribed"):
        return True
    if status == "unsubscribed":
        return False
    raise BadCell(f"unknown status {value!r}; use subscribed or unsubscribed (empty = subscribed)")


def lost_letter(value: str) -> str | None:
    """Why a name cell of a Windows-1252 file probably lost a letter (``?ukasz``), or None."""
    if "?" not in value or not _LOST_LETTER.search(value):
        return None
    return (
        "has '?' inside a word: Windows-1252 has no ł, ś, ż, ą, ę, ń, ź …, so the export probably replaced "
        'such a letter; export the file as "CSV UTF-8" instead'
    )


def too_long(value: str) -> str | None:
    """Why a name, salutation or company cell cannot go into a message, or None."""
    if len(value) <= NAME_MAX:
        return None
    return (
        f"is {len(value):,} characters long; a name, salutation or company may have at most {NAME_MAX} "
        "characters (it goes into a mail header); shorten it in the member database"
    )


def show(value: str, limit: int = 60) -> str:
    """A cell for a one-line message: quoted, control characters escaped, long ones cut."""
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


__all__ = ["BadCell", "injection", "lost_letter", "might_inject", "show", "status", "timezone", "too_long"]
