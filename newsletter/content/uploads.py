"""Pictures for an issue, from the desk's upload button or out of a Word file.

``store_image(issue_dir, "Foto Schlesien.JPG", data)`` checks the picture by its content, never
by its name: PNG, JPEG, GIF or WebP (their first bytes), at most ``limits.IMAGE_MAX_BYTES``. It
is stored as ``images/<slug of the name>-<8 hex of its sha256>.<the right extension>``, so the
name can never point anywhere else (``../../.env`` becomes ``images/env-….png``), and the same
picture uploaded twice is stored once. Anything else is refused with ``ImageRefused`` and the
reason; nothing is written then.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .. import paths
from ..limits import IMAGE_MAX_BYTES
from ..model import NewsletterError
from .slugs import slug

# (first bytes, the extension it is stored with); WebP is RIFF….WEBP, checked below
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)
_KNOWN = {  # what a refused file most likely is, for the message
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a zip archive (a Word or Office file?)",
    b"<svg": "an SVG drawing (it may hold scripts)",
    b"<?xml": "an XML file (an SVG drawing?)",
    b"II*\x00": "a TIFF image",
    b"MM\x00*": "a TIFF image",
    b"BM": "a BMP image",
    b"\x00\x00\x00\x0cjP": "a JPEG 2000 image",
    b"\x01\x00\x00\x00": "an EMF drawing (Windows)",
    b"\xd7\xcd\xc6\x9a": "a WMF drawing (Windows)",
}


class ImageRefused(NewsletterError):
    """The upload is not a picture the newsletter can use; ``reason`` says why (one line)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class StoredImage:
    relative: str  # "images/foto-schlesien-1a2b3c4d.jpg", as an article's image: names it
    kind: str  # png, jpg, gif or webp
    size: int
    reused: bool  # the same picture was there already


def image_kind(data: bytes) -> str | None:
    """png, jpg, gif or webp by the first bytes; None for anything else."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def read_limited(source: bytes | BinaryIO, limit: int) -> bytes | None:
    """The bytes of ``source``, or None when there are more than ``limit`` (at most limit+1 read)."""
    data = source if isinstance(source, bytes) else source.read(limit + 1)
    return None if len(data) > limit else data


def check_image(name: str, source: bytes | BinaryIO, *, limit: int = IMAGE_MAX_BYTES) -> tuple[bytes, str]:
    """The picture's bytes and kind (png, jpg, gif, webp), or ``ImageRefused`` with the reason."""
    shown = _shown(name)
    data = read_limited(source, limit)
    if data is None:
        raise ImageRefused(shown, f"larger than {limit // (1024 * 1024)} MB: make the picture smaller "
                                  "(e.g. 1600 pixels wide) and try again")  # fmt: skip
    kind = image_kind(data)
    if kind is None:
        what = next((label for sig, label in _KNOWN.items() if data.lstrip()[: len(sig)] == sig), None)
        found = f"this is {what}" if what else "this is no picture" if data else "the file is empty"
        raise ImageRefused(shown, f"{found}; only PNG, JPEG, GIF and WebP pictures can be used")
    return data, kind


def store_image(
    issue_dir: Path, name: str, source: bytes | BinaryIO, *, limit: int = IMAGE_MAX_BYTES
) -> StoredImage:
    """Check and store one picture under ``issue_dir/images/`` (created when missing)."""
    shown = _shown(name)
    data, kind = check_image(name, source, limit=limit)
    digest = hashlib.sha256(data).hexdigest()[:8]
    listed = paths.refusal(issue_dir, "images", directory=True) is None  # never look through a link
    for existing in paths.files(issue_dir / "images") if listed else ():
        if (
            existing.endswith(f"-{digest}.{kind}")
            and paths.read_contained(issue_dir / "images", existing) == data
        ):
            return StoredImage(f"images/{existing}", kind, len(data), reused=True)
    stem = slug(
        _last_part(name).rsplit(".", 1)[0] if "." in _last_part(name)[1:] else _last_part(name), limit=40
    )
    relative = f"images/{stem or 'bild'}-{digest}.{kind}"
    try:
        paths.write_contained(issue_dir, relative, data, exclusive=True)
    except paths.Refused as exc:
        if exc.reason != paths.EXISTS or paths.read_contained(issue_dir, relative) != data:
            raise ImageRefused(shown, f"cannot be stored as {relative} ({exc.reason})") from None
        return StoredImage(relative, kind, len(data), reused=True)
    return StoredImage(relative, kind, len(data), reused=False)


def _last_part(name: str) -> str:
    """The file name without any folder, however the browser or the name wrote them."""
    return name.replace("\x00", "").replace("\\", "/").rsplit("/", 1)[-1].strip()


def _shown(name: str) -> str:
    cleaned = "".join(c if c.isprintable() else "?" for c in name)[:80]
    return cleaned or "the upload"
