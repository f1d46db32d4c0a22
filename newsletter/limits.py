"""The size limits that the member list and the composer share, and those of files editors upload.

``subscribers check`` (and every send, which reads the list the same way) rejects a row that
breaks one of them, naming the row; the composer relies on them, so a row that passed the check
can always be built into a message. One place, so the two can never disagree again (a
50,000-character name used to pass the check and fail in the send).
"""

from __future__ import annotations

# A header value the composer accepts (before encoding); RFC 5322 allows 998 bytes per line and
# the composer folds encoded words, so this leaves room for "To: " and the address.
HEADER_VALUE_MAX = 900

# A name cell (first_name, last_name, salutation, company): first and last name go into the To
# header together ("first last"), so two of them and a space must fit one header value.
NAME_MAX = 256
NAME_COLUMNS = ("first_name", "last_name", "salutation", "company")

# An e-mail address (RFC 5321 path limit, as email-validator enforces it).
ADDRESS_MAX = 254

# Reading: one physical line of the CSV, and one record (a quoted value may span lines). Longer
# input is not a member list row; the reader never holds more than this of it.
LINE_MAX = 65_536
RECORD_MAX = 1 << 20

# A picture uploaded in the desk or taken from a Word file: mails carry their pictures inside (or
# link them), and `check` already warns above 1 MB per mail; a 5 MB photo is plenty for a newsletter.
IMAGE_MAX_BYTES = 5 * 1024 * 1024

# A Word file to import, and any one part of it once unpacked (document.xml, a picture): a press
# release with photos is a few MB; the caps keep a zip bomb from filling the memory.
WORD_FILE_MAX_BYTES = 100 * 1024 * 1024
WORD_PART_MAX_BYTES = 200 * 1024 * 1024
# All its parts unpacked together (a 100 MB file of thousands of small pictures must not mean GBs),
# and the pictures an import keeps: beyond either cap a picture is left out, with a word.
WORD_TOTAL_MAX_BYTES = 300 * 1024 * 1024
WORD_PICTURES_MAX_BYTES = 50 * 1024 * 1024
WORD_PICTURES_MAX = 200

assert 2 * NAME_MAX + 1 <= HEADER_VALUE_MAX, "first and last name must fit the To header"

__all__ = [
    "ADDRESS_MAX",
    "HEADER_VALUE_MAX",
    "IMAGE_MAX_BYTES",
    "LINE_MAX",
    "NAME_COLUMNS",
    "NAME_MAX",
    "RECORD_MAX",
    "WORD_FILE_MAX_BYTES",
    "WORD_PART_MAX_BYTES",
    "WORD_PICTURES_MAX",
    "WORD_PICTURES_MAX_BYTES",
    "WORD_TOTAL_MAX_BYTES",
]
