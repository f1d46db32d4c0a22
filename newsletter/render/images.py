"""The issue's images inside the mail, when there is no ``NEWSLETTER_PUBLIC_URL`` to link them.

A relative ``<img src="images/karte.png">`` works in the preview (it serves the issue folder) and
nowhere in a mailbox (PITFALLS). Without a public URL every such image of an edition is read once,
through the containment rule of ``paths`` (no links, nothing outside the issue), and becomes an
``EditionImage`` (its Content-ID derived from the bytes); ``mail.inline`` sends it as an inline
part (``multipart/related``, ``Content-ID``) that the HTML references as ``cid:…``. The bytes are
the file the preview showed.
"""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path
from urllib.parse import unquote

from .. import paths
from ..model import EditionImage

TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".avif": "image/avif",
}
MESSAGE_WARNING = 1024 * 1024  # embedded images per mail; many relays refuse or clip far larger ones
_IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc=(["'])([^"']+)\1""", re.IGNORECASE)
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*:|/)", re.IGNORECASE)


def edition_images(edition_html: str, issue_dir: Path, domain: str) -> tuple[EditionImage, ...]:
    """Every relative image of the edition that is a readable file of the issue, once each."""
    found: dict[str, EditionImage] = {}
    for match in _IMG_SRC.finditer(edition_html):
        src = match[2]
        if src in found or _SCHEME.match(src):
            continue
        relative = paths.editor_path(unquote(html.unescape(src)).split("?")[0].split("#")[0])
        kind = TYPES.get(Path(relative).suffix.lower())
        data = paths.read_contained(issue_dir, relative) if kind else None
        if kind is None or data is None:
            continue  # check reports a missing or refused file; the src stays as it is
        name = Path(relative).name
        cid = f"{hashlib.sha256(data).hexdigest()[:20]}.{safe_name(name)}@{safe_name(domain)}"
        found[src] = EditionImage(src=src, cid=cid, content_type=kind, filename=name, data=data)
    return tuple(found.values())


def total_size(images: tuple[EditionImage, ...]) -> int:
    """Bytes the images add to each mail (base64: 4/3 of the files), each distinct picture once."""
    unique = {image.cid: len(image.data) for image in images}
    return sum(unique.values()) * 4 // 3


def safe_name(text: str) -> str:
    """Only characters that need no quoting or encoding in a header (file names are the editor's)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")
