"""The MIME side of the pictures that travel inside the mail (no ``NEWSLETTER_PUBLIC_URL``).

``render.images`` collects an edition's pictures once as ``EditionImage`` values; ``image_part``
turns one into the headers and base64 body of an inline part of the ``multipart/related`` that
``compose`` builds once per edition, never per member.
"""

from __future__ import annotations

import base64

from ..model import EditionImage
from ..render.images import safe_name


def image_part(image: EditionImage) -> bytes:
    """Headers and base64 body of one inline part (CRLF, 76-character lines, no final line break)."""
    name = safe_name(image.filename) or "image"
    head = (
        f'Content-Type: {image.content_type}; name="{name}"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        f"Content-ID: <{image.cid}>\r\n"
        f'Content-Disposition: inline; filename="{name}"\r\n\r\n'
    )
    encoded = base64.b64encode(image.data)
    return head.encode() + b"\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
