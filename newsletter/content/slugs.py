"""File-name slugs from the texts editors write: ``Schöne Grüße aus Łódź`` → ``schoene-gruesse-aus-lodz``."""

from __future__ import annotations

import re
import unicodedata

# Letters that do not fall apart into a base letter and an accent: German as Germans spell it
# without umlauts, Polish ł as l.
_SPELLED = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss",
                          "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "Ae", "đ": "d", "Đ": "D"})  # fmt: skip


def slug(text: str, *, limit: int = 60) -> str:
    """Lower-case ASCII letters, digits and single '-'; '' when nothing of ``text`` is left."""
    plain = unicodedata.normalize("NFKD", text.translate(_SPELLED))
    ascii_only = plain.encode("ascii", "ignore").decode("ascii").lower()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-")
    return words[:limit].rstrip("-")
