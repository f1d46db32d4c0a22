"""Markdown → sanitised HTML (for the mail's HTML part) and → plain text (for the text part).

Both come from one markdown-it token stream. Raw HTML in articles is allowed by the parser but
everything dangerous is removed by nh3 afterwards: scripts, styles, event handlers, iframes,
forms and links with schemes other than http(s), mailto and tel. The text part is built from the
tokens, never by stripping tags from the rendered layout.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

ALLOWED_TAGS = {
    "a", "b", "blockquote", "br", "code", "em", "h2", "h3", "h4", "hr", "i", "img", "li", "ol",
    "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
URL_SCHEMES = {"http", "https", "mailto", "tel"}
_SAFE_URL = re.compile(r"^(https?:|mailto:|tel:|[^:/?#]*([/?#]|$))", re.IGNORECASE)
# Article headings sit below the article title (h2): "# x" becomes h3, deeper levels h4.
_HEADING_SHIFT = {"h1": "h3", "h2": "h3", "h3": "h4", "h4": "h4", "h5": "h4", "h6": "h4"}


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "typographer": False}).enable("table")
    # Accept every link at parse time so a bad one never survives as literal "[x](javascript:…)"
    # text; nh3 removes the href of disallowed schemes and to_text() prints only safe URLs.
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md


_MD = _parser()


def sanitize(fragment: str) -> str:
    """Clean an HTML fragment: only the allowed tags, attributes and URL schemes remain."""
    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=None,
        strip_comments=True,
    )


@lru_cache(maxsize=1024)
def to_html(source: str) -> str:
    """Markdown → sanitised HTML fragment."""
    tokens = _MD.parse(source)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = _HEADING_SHIFT.get(token.tag, token.tag)
    rendered = _MD.renderer.render(tokens, _MD.options, {})
    return sanitize(rendered).strip()


def to_markup(source: str) -> Markup:
    """Markdown → sanitised HTML marked safe for the autoescaping templates."""
    return Markup(to_html(source))  # noqa: S704 - the fragment was cleaned by nh3 in to_html


def inline_html(source: str) -> str:
    """One line of Markdown (a teaser, a caption) → sanitised inline HTML without <p>."""
    return sanitize(_MD.renderInline(source)).strip()


def strip_tags(fragment: str) -> str:
    """Text content of an HTML fragment (scripts and styles dropped entirely)."""
    return html.unescape(nh3.clean(fragment, tags=set(), strip_comments=True))


def safe_url(url: str) -> bool:
    return bool(_SAFE_URL.match(url.strip()))


# ─────────────────────────────────── plain text ───────────────────────────────────


@lru_cache(maxsize=1024)
def to_text(source: str) -> str:
    """Markdown → readable plain text: headings, paragraphs, lists, quotes, links as ``text (url)``."""
    blocks = _Blocks(_MD.parse(source)).render()
    return "\n\n".join(b for b in blocks if b.strip()).strip()


def inline_text(source: str) -> str:
    """One line of Markdown → plain text."""
    tokens = _MD.parseInline(source)
    return _inline(tokens[0].children or []) if tokens else ""


class _Blocks:
    """Walks markdown-it's flat block token list, keeping list and quote nesting."""

    def __init__(self, tokens: Sequence[Token]):
        self.tokens = tokens
        self.out: list[str] = []
        self.prefix: list[str] = []  # "> " for quotes, "   " for list continuation
        self.lists: list[list[int | None]] = []  # per open list: [next number or None]
        self.pending_bullet: str | None = None
        self.last_in_list = False

    def render(self) -> list[str]:
        i = 0
        while i < len(self.tokens):
            i = self._step(i)
        return self.out

    def _emit(self, text: str) -> None:
        lines = text.split("\n")
        rest = "".join(self.prefix)
        first = rest
        if self.pending_bullet is not None:
            first = "".join(self.prefix[:-1]) + self.pending_bullet
            self.pending_bullet = None
        shaped = "\n".join(
            [first + lines[0]] + [rest + line if line else rest.rstrip() for line in lines[1:]]
        )
        in_list = bool(self.lists)
        if in_list and self.last_in_list and self.out:
            self.out[-1] += "\n" + shaped
        else:
            self.out.append(shaped)
        self.last_in_list = in_list

    def _step(self, i: int) -> int:
        tok = self.tokens[i]
        kind = tok.type
        if kind == "heading_open":
            text = _inline(self.tokens[i + 1].children or [])
            under = "=" if tok.tag == "h1" else "-"
            self._emit(f"{text}\n{under * min(len(text), 72)}")
            return i + 3
        if kind == "paragraph_open":
            self._emit(_inline(self.tokens[i + 1].children or []))
            return i + 3
        if kind in ("bullet_list_open", "ordered_list_open"):
            start = int(tok.attrGet("start") or 1) if kind == "ordered_list_open" else None
            self.lists.append([start])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.lists.pop()
            if not self.lists:
                self.last_in_list = False
        elif kind == "list_item_open":
            state = self.lists[-1]
            if state[0] is None:
                bullet = "- "
            else:
                bullet = f"{state[0]}. "
                state[0] += 1
            self.prefix.append(" " * len(bullet))
            self.pending_bullet = bullet
        elif kind == "list_item_close":
            self.prefix.pop()
        elif kind == "blockquote_open":
            self.prefix.append("> ")
        elif kind == "blockquote_close":
            self.prefix.pop()
        elif kind in ("fence", "code_block"):
            self._emit("\n".join("    " + line for line in tok.content.rstrip("\n").split("\n")))
        elif kind == "hr":
            self._emit("-" * 20)
        elif kind == "html_block":
            text = strip_tags(tok.content).strip()
            if text:
                self._emit(text)
        elif kind == "table_open":
            return self._table(i)
        return i + 1

    def _table(self, i: int) -> int:
        rows: list[list[str]] = []
        while self.tokens[i].type != "table_close":
            tok = self.tokens[i]
            if tok.type == "tr_open":
                rows.append([])
            elif tok.type == "inline":
                rows[-1].append(_inline(tok.children or []))
            i += 1
        self._emit("\n".join(" | ".join(row) for row in rows))
        return i + 1


def _inline(children: Sequence[Token]) -> str:
    parts: list[str] = []
    link: list[str] = []  # href of each open link
    start: list[int] = []
    for tok in children:
        kind = tok.type
        if kind in ("text", "code_inline"):
            parts.append(tok.content)
        elif kind == "softbreak":
            parts.append(" ")
        elif kind == "hardbreak":
            parts.append("\n")
        elif kind == "image":
            alt = "".join(c.content for c in tok.children or []) or str(tok.attrGet("alt") or "")
            if alt:
                parts.append(f"[{alt}]")
        elif kind == "html_inline":
            continue
        elif kind == "link_open":
            link.append(str(tok.attrGet("href") or ""))
            start.append(len(parts))
        elif kind == "link_close" and link:
            parts.append(_link_suffix(link.pop(), "".join(parts[start.pop() :])))
    return "".join(parts).strip()


def _link_suffix(href: str, text: str) -> str:
    if not href or not safe_url(href) or href.startswith("#"):
        return ""
    shown = href[len("mailto:") :] if href.lower().startswith("mailto:") else href
    if text.strip() in (shown, href):
        return ""
    return f" ({shown})"
