"""Word files made at test time with python-docx: the press release of ../shared/seeds/ and hostile ones.

``press_release_docx`` turns the seed's Markdown (headings, bold, hard line breaks, links) into a
.docx as an office would receive it; the helpers add what Word files carry beyond that (pictures,
linked pictures, embedded HTML, comments, links of any scheme).
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path

import docx
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph

SEED = "002_bc2e11fcab4c541a.txt"  # the ministry's "Medieninformation"
_INLINE = re.compile(r"(?s)\*\*(?P<bold>.+?)\*\*|\[(?P<text>[^\]]+)\]\((?P<url>[^)]+)\)|\\(?P<escaped>.)")


def png(
    width: int = 4, height: int = 3, *, rgb: tuple[int, int, int] = (200, 30, 30), padding: int = 0
) -> bytes:
    """A real PNG; ``padding`` adds a private ancillary chunk of that many bytes (a huge picture)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    extra = chunk(b"prVt", bytes(padding)) if padding else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + extra + chunk(b"IEND", b""))  # fmt: skip


def add_runs(paragraph: Paragraph, text: str) -> None:
    """Markdown-ish inline text: **bold** (also across hard line breaks), [links](url), \\* escapes,
    "  \\n" hard line breaks."""
    position = 0
    for match in _INLINE.finditer(text):
        _text_runs(paragraph, text[position : match.start()])
        if match["bold"]:
            _text_runs(paragraph, match["bold"], bold=True)
        elif match["url"]:
            add_link(paragraph, match["text"], match["url"])
        else:
            paragraph.add_run(match["escaped"])
        position = match.end()
    _text_runs(paragraph, text[position:])


def _text_runs(paragraph: Paragraph, text: str, *, bold: bool = False) -> None:
    for number, line in enumerate(text.split("\n")):
        if number:
            (paragraph.runs[-1] if paragraph.runs else paragraph.add_run()).add_break()
        if line.rstrip():
            paragraph.add_run(line.rstrip() if "\n" in text else line).bold = bold or None


def add_link(paragraph: Paragraph, text: str, url: str) -> None:
    rid = paragraph.part.relate_to(url, RT.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rid)
    run = OxmlElement("w:r")
    props = OxmlElement("w:rPr")
    style = OxmlElement("w:rStyle")
    style.set(qn("w:val"), "Hyperlink")
    props.append(style)
    run.append(props)
    node = OxmlElement("w:t")
    node.text = text
    run.append(node)
    link.append(run)
    paragraph._p.append(link)


def press_release_docx(seeds: Path) -> bytes:
    document = docx.Document()
    for block in re.split(r"\n\s*\n", (seeds / SEED).read_text(encoding="utf-8").strip()):
        heading = re.match(r"^(#{1,4}) (.*)$", block.strip())
        if heading:
            level = len(heading[1])
            add_runs(document.add_heading("", level), heading[2].replace("**", ""))
        else:
            add_runs(document.add_paragraph(), block)
    return save(document)


def add_picture(document: docx.document.Document, data: bytes, *, description: str | None) -> None:
    document.add_picture(io.BytesIO(data))
    properties = document.inline_shapes[-1]._inline.docPr
    if description is None:
        properties.attrib.pop("descr", None)
    else:
        properties.set("descr", description)


def add_linked_picture(document: docx.document.Document, url: str) -> None:
    """A picture Word shows from another site (r:link, TargetMode=External), fetched when opened."""
    add_picture(document, png(), description="Tracker")
    blip = document.inline_shapes[-1]._inline.xpath(".//a:blip")[0]
    blip.attrib.pop(qn("r:embed"))
    blip.set(qn("r:link"), document.part.relate_to(url, RT.IMAGE, is_external=True))


def add_html_chunk(document: docx.document.Document, html: str) -> None:
    """An altChunk: HTML that Word renders in place (scripts included, in some viewers)."""
    part = Part(PackURI("/word/afchunk.htm"), "text/html", html.encode(), document.part.package)
    rid = document.part.relate_to(part, RT.A_F_CHUNK)
    chunk = OxmlElement("w:altChunk")
    chunk.set(qn("r:id"), rid)
    document.element.body.append(chunk)


def save(document: docx.document.Document) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


_FOOTNOTES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:footnotes xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
    '<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p></w:footnote>'
    '<w:footnote w:id="1"><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:footnote>'
    "</w:footnotes>"
)


def add_footnote(paragraph: Paragraph, text: str) -> None:
    """A footnote (Word's References → Insert Footnote) at the end of ``paragraph``; one per document."""
    part = Part(PackURI("/word/footnotes.xml"),
                "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml",
                _FOOTNOTES.format(text=text).encode(), paragraph.part.package)  # fmt: skip
    paragraph.part.relate_to(part, RT.FOOTNOTES)
    run = OxmlElement("w:r")
    reference = OxmlElement("w:footnoteReference")
    reference.set(qn("w:id"), "1")
    run.append(reference)
    paragraph._p.append(run)
