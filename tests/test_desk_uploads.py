"""Uploads: pictures checked by their content, size-capped, safely named, kept inside images/."""

from __future__ import annotations

from pathlib import Path

import pytest
from docx_rig import png

from newsletter.content.uploads import ImageRefused, store_image
from newsletter.limits import IMAGE_MAX_BYTES

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32)
GIF = b"GIF89a" + bytes(32)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(32)


@pytest.fixture
def issue(tmp_path: Path) -> Path:
    folder = tmp_path / "issues" / "2022-05"
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize(("name", "data", "stored"), [
    ("Foto Schlesien.JPG", JPEG, "images/foto-schlesien-"), ("karte.png", png(), "images/karte-"),
    ("anim.gif", GIF, "images/anim-"), ("bild.webp", WEBP, "images/bild-"),
    ("Grüße aus Łódź.jpeg", JPEG, "images/gruesse-aus-lodz-"),
])  # fmt: skip
def test_a_picture_is_stored_by_its_kind_under_a_safe_name(
    issue: Path, name: str, data: bytes, stored: str
) -> None:
    image = store_image(issue, name, data)
    kind = {JPEG: "jpg", GIF: "gif", WEBP: "webp"}.get(data, "png")
    assert image.relative.startswith(stored) and image.relative.endswith(f".{kind}")
    assert (issue / image.relative).read_bytes() == data


def test_the_name_never_decides_the_kind(issue: Path) -> None:
    assert store_image(issue, "foto.gif", png()).relative.endswith(".png")


@pytest.mark.parametrize(("data", "reason"), [
    (b"%PDF-1.7\n...", "this is a PDF document; only PNG, JPEG, GIF and WebP pictures can be used"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
     "this is an SVG drawing (it may hold scripts); only PNG, JPEG, GIF and WebP pictures can be used"),
    (b"", "the file is empty; only PNG, JPEG, GIF and WebP pictures can be used"),
    (b"MZ\x90\x00", "this is no picture; only PNG, JPEG, GIF and WebP pictures can be used"),
])  # fmt: skip
def test_anything_but_a_picture_is_refused_with_its_reason(issue: Path, data: bytes, reason: str) -> None:
    with pytest.raises(ImageRefused) as refused:
        store_image(issue, "foto.png", data)
    assert str(refused.value) == f"foto.png: {reason}"
    assert not (issue / "images").exists() or list((issue / "images").iterdir()) == []


def test_a_picture_above_the_cap_is_refused(issue: Path) -> None:
    with pytest.raises(ImageRefused, match="larger than 5 MB"):
        store_image(issue, "riesig.png", png(padding=IMAGE_MAX_BYTES))
    assert not (issue / "images").exists()


@pytest.mark.parametrize(
    "name",
    ["../../.env", "/etc/passwd", "..\\..\\evil.png", "a\x00b.png", "images/../../x.png", ".htaccess", ""],
)
def test_an_upload_name_never_writes_outside_images(issue: Path, name: str) -> None:
    before = sorted(issue.parent.parent.rglob("*"))
    image = store_image(issue, name, png())
    assert image.relative.startswith("images/") and image.relative.count("/") == 1
    assert not image.relative.split("/")[1].startswith(".")
    after = sorted(issue.parent.parent.rglob("*"))
    assert sorted(set(after) - set(before)) == sorted({issue / "images", issue / image.relative})


def test_an_identical_upload_reuses_the_file(issue: Path) -> None:
    first = store_image(issue, "karte.png", png())
    again = store_image(issue, "Karte.png", png())
    assert (again.relative, again.reused, first.reused) == (first.relative, True, False)
    assert len(list((issue / "images").iterdir())) == 1


def test_a_linked_images_folder_is_refused(issue: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (issue / "images").symlink_to(outside)
    with pytest.raises(ImageRefused, match="symbolic link"):
        store_image(issue, "karte.png", png())
    assert list(outside.iterdir()) == []
