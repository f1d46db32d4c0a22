"""The pre-flight checks of the rendered editions, after the checks of the files as written.

Per edition: size (Gmail clips at ~102 KB), a footer without Impressum or unsubscribe link; across
editions, one message per finding: template syntax left over, unknown placeholders, empty links
and images without alt text that the issue's files do not explain (those come from the templates
or newsletter.toml), and embedded pictures that make every mail too big.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

from ..config import Config
from ..content.frontmatter import Problems
from ..mail.compose import PLACEHOLDER
from ..model import Edition, EditionImage, NewsletterError, Problem
from ..render.editions import Editions
from ..render.images import MESSAGE_WARNING, total_size
from .sources import ALT as _ALT
from .sources import EMPTY_HREF as _EMPTY_HREF
from .sources import IMG as _IMG
from .sources import LEFTOVER as _LEFTOVER
from .sources import PLACEHOLDER_NAMES, Explained, Source, explained

SIZE_ERROR = 90 * 1024
SIZE_WARNING = 75 * 1024
_STYLE = re.compile(r"<style\b.*?</style>", re.DOTALL | re.IGNORECASE)
_UNSUBSCRIBE = re.compile(r"""<a\b[^>]*href=["']\[\[nl:unsubscribe_url\]\]["'][^>]*>\s*[^<\s][^<]*</a>""")


def check_editions(
    editions: Editions, files: list[Source], config: Config, found: Problems, path: Path
) -> None:
    """The standard editions (each segment and "all" × language), rendered through ``editions`` so
    that a send reuses them."""
    try:
        checked = editions.standard()
    except NewsletterError as exc:
        found.items.extend(_as_problem(line, found.rel(path)) for line in exc.lines())
        return
    known = explained(files)
    repeated: dict[tuple[str, str], list[str]] = {}  # one message for all editions a finding is in
    for edition in checked:
        _check_edition(edition, config, found, path)
        for what, severity in _template_findings(edition, known):
            repeated.setdefault((what, severity), []).append(edition.key)
    for (what, severity), keys in repeated.items():
        found.add(path, 0, f"{what} of edition(s) {', '.join(keys)}: check the templates and newsletter.toml",
                  severity)  # fmt: skip
    _check_embedded_size(checked, found, path)


def _check_embedded_size(editions: list[Edition], found: Problems, path: Path) -> None:
    """Embedded pictures (no public URL) make every mail bigger; one warning per set of pictures."""
    by_images: dict[tuple[EditionImage, ...], list[str]] = {}
    for edition in editions:
        if total_size(edition.images) > MESSAGE_WARNING:
            by_images.setdefault(edition.images, []).append(edition.key)
    for images, keys in by_images.items():
        sizes = sorted({(len(i.data) * 4 // 3, i.src) for i in images}, reverse=True)
        listed = ", ".join(f"{src} {_kb(size)} KB" for size, src in sizes)
        found.add(path, 0, f"the images embedded in each mail of edition(s) {', '.join(keys)} add "
                  f"{_kb(total_size(images))} KB ({listed}); mail servers may refuse or cut messages much "
                  "over 1 MB: make the pictures smaller, or set NEWSLETTER_PUBLIC_URL to link them", "warning")  # fmt: skip


def _kb(size: int) -> int:
    return max(1, round(size / 1024))


def _template_findings(edition: Edition, known: Explained) -> list[tuple[str, str]]:
    """Template syntax, unknown placeholders, empty links and images without alt text that the
    issue's files do not explain (those have their line-exact message already): they come from the
    templates or the footer texts of newsletter.toml."""
    found = []
    body = _STYLE.sub("", edition.html)
    for label, text in (("HTML", body), ("text part", edition.text)):
        match = _LEFTOVER.search(text)
        if match and not known.template_syntax:
            found.append((f"leftover template syntax '{match.group()}' in the {label}", "error"))
        for name in dict.fromkeys(PLACEHOLDER.findall(text)):
            if name not in PLACEHOLDER_NAMES and name not in known.placeholders:
                found.append((f"unknown placeholder [[nl:{name}]] in the {label}", "error"))
    if _EMPTY_HREF.search(body) and not known.empty_links:
        found.append(('empty link (href="" or "#") in the HTML', "error"))
    for img in _IMG.findall(body) if not known.images_without_alt else ():
        if not _ALT.search(img):
            found.append((f"image without alt text ({img[:80]}) in the HTML", "warning"))
    return found


def _check_edition(edition: Edition, config: Config, found: Problems, issue_path: Path) -> None:
    def add(message: str, severity: str = "error") -> None:
        found.add(issue_path, 0, f"edition {edition.key}: {message}", severity)

    size = len(edition.html.encode("utf-8"))
    if size > SIZE_ERROR:
        add(f"HTML is {size // 1024} KB; Gmail clips mails above ~102 KB (hiding the unsubscribe link): "
            f"shorten articles to stay under {SIZE_ERROR // 1024} KB")  # fmt: skip
    elif size > SIZE_WARNING:
        add(f"HTML is {size // 1024} KB, close to Gmail's ~102 KB clipping; keep it under {SIZE_WARNING // 1024} KB",
            "warning")  # fmt: skip
    body = _STYLE.sub("", edition.html)
    _check_footer(edition, config, body, add)


def _check_footer(edition: Edition, config: Config, body: str, report: Callable[[str], None]) -> None:
    chain = config.language_chain(edition.language)
    footer = next((config.footers[lang] for lang in chain if lang in config.footers), None)
    impressum = footer.impressum.strip() if footer else ""
    if not impressum:
        report("the footer has no Impressum: add [footer.<lang>] impressum in newsletter.toml")
    elif html.escape(impressum, quote=False) not in body and impressum not in body:
        report("the footer does not show the Impressum: check templates/partials/footer.mjml.j2")
    if not _UNSUBSCRIBE.search(body) or "[[nl:unsubscribe_url]]" not in edition.text:
        report("no visible unsubscribe link ([[nl:unsubscribe_url]]) in the footer: check the templates")


def _as_problem(line: str, default_path: str) -> Problem:
    """Turn a ``path:line: message`` (or ``path: message``) error line back into a Problem."""
    match = re.match(r"^(?P<path>[^:\s]+?)(?::(?P<line>\d+))?: (?P<message>.+)$", line, re.DOTALL)
    if match and ("/" in match["path"] or "." in match["path"]):
        return Problem(match["path"], int(match["line"] or 0), match["message"])
    return Problem(default_path, 0, line)
