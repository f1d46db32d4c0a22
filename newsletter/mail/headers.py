"""Header values, checked and encoded: the only way a value gets into a header of a mail.

Header safety does not rely on the interpreter (Python 3.11.7 is vulnerable, CVE-2024-6923):
every header value is checked for CR, LF, NUL, other control and line-separator characters, and
for RFC 2047 encoded-words that decode to them, and refused with ``HeaderInjection``
(``check_header_value``). Values are then written as ASCII, a quoted string or UTF-8 B
encoded-words (``encode_text``, ``encode_phrase``, ``mailbox``) and folded to ≈ 78 columns (``fold``).
"""

from __future__ import annotations

import base64
import binascii
import re

from ..limits import HEADER_VALUE_MAX
from ..model import NewsletterError

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_ENCODED_WORD = re.compile(r"=\?([^?\s]*)\?([^?\s]*)\?([^?\s]*)\?=")
_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"@\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")
_WORD_BYTES = 39  # raw bytes per B encoded-word: 12 + 52 base64 characters, so "Subject: " + word ≤ 78


class HeaderInjection(NewsletterError):
    """A header value would break the header block (line break, NUL, encoded newline …)."""

    def __init__(self, field: str, problem: str, line: int | None = None):
        self.field, self.problem, self.line = field, problem, line
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{field} {problem}; remove it from the source and try again")


def check_header_value(value: str, field: str, line: int | None = None) -> str:
    """``value`` unchanged, or ``HeaderInjection`` if it could end or split a header."""
    if len(value) > HEADER_VALUE_MAX:  # the member list keeps names within it (newsletter/limits.py)
        raise HeaderInjection(field, f"is too long ({len(value)} characters)", line)
    bad = _CONTROL.search(value)
    if bad:
        raise HeaderInjection(field, f"contains the control character U+{ord(bad.group()):04X}", line)
    for word in _ENCODED_WORD.finditer(value):
        if _decodes_to_control(*word.groups()):
            raise HeaderInjection(
                field, f"contains an encoded line break or control character ({word.group()})", line
            )
    return value


def _decodes_to_control(charset: str, encoding: str, text: str) -> bool:
    try:
        if encoding.upper() == "Q":
            raw = binascii.a2b_qp(text.encode("ascii"), header=True)
        elif encoding.upper() == "B":
            raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        else:
            return True  # not a valid encoded-word: a decoder may still try, refuse it
    except (ValueError, binascii.Error):
        return True
    if _CONTROL_BYTES.search(raw):
        return True
    try:
        return bool(_CONTROL.search(raw.decode(charset.partition("*")[0] or "ascii", "replace")))
    except LookupError:
        return False  # unknown charset: the bytes were checked above


def encode_text(value: str) -> str:
    """An unstructured header value: ASCII as is, anything else as UTF-8 B encoded-words.

    ASCII that contains ``=?`` is encoded too, so a literal "=?UTF-8?Q?…?=" reaches the reader as typed.
    """
    if value.isascii() and "=?" not in value:
        return value
    raw = value.encode("utf-8")
    if len(raw) <= _WORD_BYTES:
        return f"=?utf-8?b?{base64.b64encode(raw).decode('ascii')}?="
    words, chunk = [], b""
    for char in value:
        raw = char.encode("utf-8")
        if len(chunk) + len(raw) > _WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += raw
    words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words if w)


def encode_phrase(value: str) -> str:
    """A display name: bare atoms, a quoted string, or encoded-words."""
    if not value.isascii() or "=?" in value:
        return encode_text(value)
    if _ATOM_PHRASE.fullmatch(value) and value.strip() == value:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mailbox(name: str, address: str, field: str, line: int | None = None) -> str:
    check_header_value(name, f"{field} name", line)
    check_header_value(address, f"{field} address", line)
    if not _ADDRESS.fullmatch(address):
        raise HeaderInjection(field, f"address '{address}' is not one plain address", line)
    return f"{encode_phrase(name.strip())} <{address}>" if name.strip() else address


def fold(name: str, value: str) -> str:
    """``Name: value`` with ASCII values folded at spaces to ≈ 78 columns, ending in CRLF."""
    line, out = f"{name}:", []
    for word in value.split(" ") if "\r\n" not in value else [value]:
        if len(line) + 1 + len(word) > 78 and line.strip() and not line.endswith(":"):
            out.append(line)
            line = ""
        line += " " + word
    out.append(line)
    return "\r\n".join(out) + "\r\n"
