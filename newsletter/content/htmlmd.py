"""The small HTML that mammoth makes of a Word file, as the Markdown an editor writes.

``markdown_of(html)`` knows headings, paragraphs, bold and italic, hard line breaks, lists (nested),
links, pictures and tables (written as text: one line per row, cells separated by `` · ``). Text
is escaped so that it stays text: ``<script>`` typed in Word is shown as ``<script>``, never run,
and a ``*`` stays a star. The caller sanitises the HTML with nh3 first; anything this module does
not know is written as its text. Links other than http, https, mailto and tel lose their target
(the import names them, read with ``links`` from the HTML before nh3); footnote references and
the footnote list mammoth appends are taken out and returned (``footnotes``) so the import can
list them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

SAFE_SCHEMES = ("http", "https", "mailto", "tel")
_BLOCKS = {
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "table",
    "tr",
    "td",
    "th",
    "thead",
    "tbody",
}
_VOID = {"br", "img"}
_ESCAPE_ANYWHERE = re.compile(r"([\\`*_\[\]<&~])")
_ESCAPE_LINE_START = re.compile(r"^(\s*)([#>+=|-]|\d+[.)])(?=\s|$)")


@dataclass
class Node:
    tag: str  # "" for text
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    text: str = ""


@dataclass
class Conversion:
    title: str | None  # the text of the first heading (taken out of the body)
    body: str
    images: int  # pictures written into the body
    tables: int
    footnotes: list[str] = field(default_factory=list)  # the text of each footnote taken out


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(Node("", text=data))


def parse_html(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def links(root: Node) -> list[tuple[str, str]]:
    """(text, href) of every link, in document order."""
    found = []
    for node in _walk(root):
        if node.tag == "a" and "href" in node.attrs:
            found.append((_plain(node), node.attrs["href"]))
    return found


def is_safe_link(href: str) -> bool:
    scheme = href.split(":", 1)[0].lower() if ":" in href else ""
    return scheme in SAFE_SCHEMES


def markdown_of(html: str) -> Conversion:
    root = parse_html(html)
    conversion = Conversion(title=None, body="", images=0, tables=0)
    _take_footnotes(root, conversion)
    blocks: list[str] = []
    for child in root.children:
        _block(child, blocks, conversion)
    conversion.body = "\n\n".join(b for b in blocks if b.strip()) + ("\n" if blocks else "")
    return conversion


def _take_footnotes(root: Node, conversion: Conversion) -> None:
    """mammoth writes footnotes as ``<sup><a href="#footnote-1">`` and an ``<ol>`` of ``<li
    id="footnote-1">`` at the end; both come out, the texts are kept for the list of findings."""
    for node in list(_walk(root)):
        node.children = [c for c in node.children if not _is_footnote_ref(c)]
        kept = []
        for child in node.children:
            items = [c for c in child.children if c.tag == "li"] if child.tag == "ol" else []
            notes = [c for c in items if re.match(r"(foot|end)note-\d+$", c.attrs.get("id", ""))]
            if notes and len(notes) == len(items):
                conversion.footnotes += [_plain(n).rstrip(" ↑").strip() for n in notes]
            else:
                kept.append(child)
        node.children = kept


def _is_footnote_ref(node: Node) -> bool:
    inner = [c for c in node.children if c.tag or c.text.strip()]
    target = inner[0].attrs.get("href", "") if len(inner) == 1 and inner[0].tag == "a" else ""
    return node.tag == "sup" and re.match(r"#(foot|end)note-\d+$", target) is not None


def _block(node: Node, out: list[str], conversion: Conversion) -> None:
    tag = node.tag
    if re.fullmatch(r"h[1-6]", tag):
        text = _plain(node).strip()
        if conversion.title is None and text:
            conversion.title = " ".join(text.split())
        elif text:
            level = max(2, min(int(tag[1]), 4))  # the article's own headline is above: ## at most
            heading = " ".join(_inline(node.children, conversion).replace("\\\n", " ").split())
            out.append("#" * level + " " + heading)
    elif tag in ("ul", "ol"):
        out.append("\n".join(_list(node, conversion, "")))
    elif tag == "table":
        conversion.tables += 1
        rows = [" · ".join(filter(None, (_cell(c, conversion) for c in _cells(row)))) for row in _rows(node)]
        out.append("\\\n".join(_escape_line(r) for r in rows if r.strip(" ·")))
    elif tag == "" or tag not in _BLOCKS:
        text = _inline([node], conversion).strip()
        if text:
            out.append(_lines(text))
    else:  # p, and anything block-like mammoth may add: its inline content
        if any(c.tag in _BLOCKS for c in node.children):
            for child in node.children:
                _block(child, out, conversion)
            return
        text = _inline(node.children, conversion).strip()
        if text:
            out.append(_lines(text))


def _list(node: Node, conversion: Conversion, indent: str) -> list[str]:
    """``- item`` / ``1. item`` lines; a nested list is indented under its item's text."""
    lines = []
    for number, item in enumerate((c for c in node.children if c.tag == "li"), 1):
        marker = f"{number}." if node.tag == "ol" else "-"
        inline = [c for c in item.children if c.tag not in ("ul", "ol")]
        text = " ".join(_inline(inline, conversion).replace("\\\n", " ").split())
        lines.append(f"{indent}{marker} {text}".rstrip())
        for sub in (c for c in item.children if c.tag in ("ul", "ol")):
            lines += _list(sub, conversion, indent + " " * (len(marker) + 1))
    return lines


def _rows(table: Node) -> list[Node]:
    return [n for n in _walk(table) if n.tag == "tr"]


def _cells(row: Node) -> list[Node]:
    return [c for c in row.children if c.tag in ("td", "th")]


def _cell(cell: Node, conversion: Conversion) -> str:
    """A table cell on one line: its paragraphs and line breaks become spaces."""
    return " ".join(_inline(cell.children, conversion).replace("\\\n", " ").split())


def _inline(nodes: list[Node], conversion: Conversion) -> str:
    parts = []
    for node in nodes:
        if node.tag == "":
            parts.append(_escape(" ".join(node.text.split("\n"))))
        elif node.tag == "br":
            parts.append("\\\n")
        elif node.tag in ("strong", "b", "em", "i"):
            parts.append(
                _emphasis("**" if node.tag in ("strong", "b") else "*", _inline(node.children, conversion))
            )
        elif node.tag == "a":
            parts.append(_link(node, conversion))
        elif node.tag == "img":
            src = node.attrs.get("src", "")
            if src:
                conversion.images += 1
                parts.append(f"![{_escape(node.attrs.get('alt', '').strip())}]({src})")
        elif node.tag == "p":
            parts.append(_inline(node.children, conversion) + "\\\n")
        else:
            parts.append(_inline(node.children, conversion))
    return "".join(parts)


def _emphasis(marker: str, inner: str) -> str:
    """``**text**`` with the spaces and line breaks at its ends moved outside the markers."""
    match = re.fullmatch(r"(?s)((?:\s|\\\n)*)(.*?)((?:\s|\\\n)*)", inner)
    assert match is not None
    lead, text, trail = match.groups()
    return f"{lead}{marker}{text}{marker}{trail}" if text else lead + trail


def _link(node: Node, conversion: Conversion) -> str:
    text = _inline(node.children, conversion).strip()
    href = node.attrs.get("href", "").strip()
    if not href or not is_safe_link(href):
        return text
    target = f"<{href}>" if re.search(r"[\s()<>]", href) else href
    return f"[{text or _escape(href)}]({target})"


def _lines(text: str) -> str:
    """A paragraph: each line escaped where Markdown would read it as a heading or list item."""
    text = re.sub(r"(\\\n)+$", "", text)
    return "\n".join(_escape_line(line.strip()) for line in text.split("\n"))


def _escape(text: str) -> str:
    return _ESCAPE_ANYWHERE.sub(r"\\\1", text)


def _escape_line(line: str) -> str:
    return _ESCAPE_LINE_START.sub(lambda m: m[1] + "\\" + m[2] if not m[2][0].isdigit() else
                                  m[1] + m[2][:-1] + "\\" + m[2][-1], line)  # fmt: skip


def _plain(node: Node) -> str:
    if node.tag == "":
        return node.text
    if node.tag == "br":
        return "\n"
    return "".join(_plain(c) for c in node.children)


def _walk(node: Node) -> list[Node]:
    found = [node]
    for child in node.children:
        found += _walk(child)
    return found
