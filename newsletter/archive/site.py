"""``newsletter archive``: the static web archive behind ``NEWSLETTER_PUBLIC_URL``.

Layout (the paths the mails link to, see render.renderer):

    index.html                  language chooser (hreflang alternates)
    <lang>/index.html           every issue in that language, newest first, with hreflang alternates
    <lang>/feed.xml             RSS 2.0 feed of that language
    <slug>/<lang>.html          the issue's ``all`` edition in that language ("view in browser")
    <slug>/<article>.ics        the article's event ("add to calendar"; default language)
    <slug>/<article>.<lang>.ics the same event with the title in that language
    <slug>/images/…             the images the issue uses

No personal data: the per-member placeholders are replaced by neutral text (a general salutation,
empty names) and the unsubscribe link by a mailto: to the office; no tokens, no tracking. The
words come from the catalogue (``render.labels``: ``[<lang>.archive]``, ``[<lang>.salutation]``).
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from .. import paths
from ..config import Config
from ..model import ALL, ContentError, Issue
from ..render.labels import catalogue, words
from .ical import CalendarEvent, calendar

if TYPE_CHECKING:
    from ..render.renderer import Renderer


@dataclass
class ArchiveReport:
    out: Path
    issues: int = 0
    pages: int = 0
    calendars: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Entry:
    issue: Issue
    languages: tuple[str, ...]


def build_archive(config: Config, out: Path) -> ArchiveReport:
    """Write the whole archive to ``out`` (existing files of the same names are replaced)."""
    from ..content import load_issue
    from ..render.renderer import Renderer

    report = ArchiveReport(out=out)
    if not config.public_url:
        report.warnings.append(
            "NEWSLETTER_PUBLIC_URL is not set: feed links are relative and mails link nowhere"
        )
    renderer = Renderer(config)
    entries: list[_Entry] = []
    for folder in sorted(p for p in config.issues_dir.iterdir() if (p / "issue.md").is_file()):
        try:
            issue = load_issue(folder, config)
        except ContentError as exc:
            report.warnings.append(
                f"{folder.name} left out: {exc.problems[0]} (run `newsletter check {folder.name}`)"
            )
            continue
        languages = tuple(lang for lang in issue.languages if lang in config.languages)
        _write_issue(config, renderer, issue, languages, out, report)
        entries.append(_Entry(issue, languages))
    entries.sort(key=lambda e: (e.issue.date, e.issue.slug), reverse=True)
    for lang in config.languages:
        mine = [e for e in entries if lang in e.languages]
        _write(out / lang / "index.html", language_index(config, lang, mine))
        _write(out / lang / "feed.xml", rss_feed(config, lang, mine))
        report.pages += 1
    _write(out / "index.html", root_index(config))
    report.issues = len(entries)
    return report


def _write_issue(
    config: Config,
    renderer: Renderer,
    issue: Issue,
    languages: tuple[str, ...],
    out: Path,
    report: ArchiveReport,
) -> None:
    folder = out / issue.slug
    for lang in languages:
        edition = renderer.render(issue, frozenset({ALL}), lang)
        _write(folder / f"{lang}.html", issue_page(config, issue, lang, languages, edition.html))
        report.pages += 1
    _copy_images(issue, folder)
    for variants in issue.articles:
        if not any(a.event for a in variants.by_language.values()):
            continue
        for suffix, lang in ((".ics", config.default_language), *((f".{x}.ics", x) for x in languages)):
            text = event_calendar(config, issue, variants.name, lang)
            if text is not None:
                _write(folder / f"{variants.name}{suffix}", text)
                report.calendars += suffix == ".ics"


def neutralise(page: str, config: Config, lang: str, page_url: str) -> str:
    """Replace every per-member placeholder by neutral, impersonal text."""
    # the mailbox compose's mailto: unsubscribes go to, which the office processes (README)
    said = words(config, lang)
    unsubscribe = f"mailto:{config.sender_address}?subject={quote(said.mail.unsubscribe_text)}"
    values = {
        "[[nl:salutation]]": said.salutation.neutral,
        "[[nl:first_name]]": "",
        "[[nl:last_name]]": "",
        "[[nl:company]]": "",
        "[[nl:unsubscribe_url]]": html.escape(unsubscribe),
        # no personal preference page on the web: the sign-up form, where anyone chooses
        "[[nl:preferences_url]]": html.escape(
            f"{config.public_url}/subscribe" if config.public_url else unsubscribe
        ),
        "[[nl:browser_url]]": html.escape(page_url),
    }
    for placeholder, value in values.items():
        page = page.replace(placeholder, value)
    while "[[nl:" in page:  # a placeholder added later must not leak as raw text
        start = page.index("[[nl:")
        end = page.find("]]", start)
        page = page[:start] + page[end + 2 if end >= 0 else start + 5 :]
    return page


def issue_page(config: Config, issue: Issue, lang: str, languages: tuple[str, ...], mail_html: str) -> str:
    """The ``all`` edition as a web page: neutral placeholders, lang, hreflang alternates, a way back."""
    page = neutralise(mail_html, config, lang, _url(config, f"{issue.slug}/{lang}.html"))
    html_tag = page.partition("<html")[2].partition(">")[0]
    if "<html" in page and " lang=" not in html_tag:
        page = page.replace("<html", f'<html lang="{lang}"', 1)
    links = [f'<link rel="canonical" href="{html.escape(_url(config, f"{issue.slug}/{lang}.html"))}">']
    links += [
        f'<link rel="alternate" hreflang="{other}" href="{html.escape(_url(config, f"{issue.slug}/{other}.html"))}">'
        for other in languages
    ]
    links.append(f'<link rel="alternate" type="application/rss+xml" href="../{lang}/feed.xml">')
    page = page.replace("</head>", "\n".join(links) + "\n</head>", 1)
    label, names = words(config, lang).archive, catalogue(config)
    nav = (
        f'<div style="font-family:Helvetica,Arial,sans-serif;font-size:13px;padding:8px 12px;text-align:center;">'
        f'<a href="../{lang}/index.html">{html.escape(config.name)}: {html.escape(label.all_issues)}</a>'
        + "".join(
            f' · <a href="{other}.html" hreflang="{other}" lang="{other}">{html.escape(names.language_name(other))}</a>'
            for other in languages
            if other != lang
        )
        + "</div>"
    )
    head, sep, rest = page.partition("<body")
    if sep:
        attrs, _, body = rest.partition(">")
        page = f"{head}<body{attrs}>{nav}{body}"
    return page


def language_index(config: Config, lang: str, entries: list[_Entry]) -> str:
    label, names = words(config, lang).archive, catalogue(config)
    title = f"{config.name}: {label.archive}"
    alternates = "".join(
        f'<link rel="alternate" hreflang="{other}" href="{html.escape(_url(config, f"{other}/index.html"))}">\n'
        for other in config.languages
    )
    alternates += (
        f'<link rel="alternate" hreflang="x-default" href="{html.escape(_url(config, "index.html"))}">\n'
    )
    alternates += (
        f'<link rel="alternate" type="application/rss+xml" title="{html.escape(title)}" href="feed.xml">\n'
    )
    items = "".join(
        f'<li><a href="../{e.issue.slug}/{lang}.html">{html.escape(_title(config, e.issue, lang))}</a> '
        f"<small>({e.issue.date.isoformat()})</small></li>\n"
        for e in entries
    )
    others = " · ".join(
        f'<a href="../{o}/index.html" hreflang="{o}" lang="{o}">{html.escape(names.language_name(o))}</a>'
        for o in config.languages
        if o != lang
    )
    body = (
        f"<h1>{html.escape(title)}</h1>\n<ul>\n{items}</ul>\n"
        f'<p><a href="feed.xml">{html.escape(label.feed)}</a> · {others}</p>'
    )
    return _page(lang, title, alternates, body)


def root_index(config: Config) -> str:
    lang = config.default_language
    alternates = "".join(
        f'<link rel="alternate" hreflang="{o}" href="{html.escape(_url(config, f"{o}/index.html"))}">\n'
        for o in config.languages
    )
    names = catalogue(config)
    items = "".join(
        f'<li><a href="{o}/index.html" hreflang="{o}" lang="{o}">{html.escape(names.language_name(o))}: '
        f"{html.escape(words(config, o).archive.archive)}</a></li>\n"
        for o in config.languages
    )
    return _page(lang, config.name, alternates, f"<h1>{html.escape(config.name)}</h1>\n<ul>\n{items}</ul>")


def rss_feed(config: Config, lang: str, entries: list[_Entry]) -> str:
    """RSS 2.0 of one language (xml.etree does the escaping)."""
    label = words(config, lang).archive
    rss = ET.Element("rss", version="2.0")
    channel = ET.SubElement(rss, "channel")
    ET.SubElement(channel, "title").text = f"{config.name} ({catalogue(config).language_name(lang)})"
    ET.SubElement(channel, "link").text = _url(config, f"{lang}/index.html")
    ET.SubElement(channel, "description").text = f"{config.name}: {label.archive}"
    ET.SubElement(channel, "language").text = lang
    for entry in entries:
        issue = entry.issue
        item = ET.SubElement(channel, "item")
        link = _url(config, f"{issue.slug}/{lang}.html")
        ET.SubElement(item, "title").text = _title(config, issue, lang)
        ET.SubElement(item, "link").text = link
        ET.SubElement(item, "guid", isPermaLink="true" if config.public_url else "false").text = link
        ET.SubElement(item, "pubDate").text = format_datetime(
            datetime.combine(issue.date, time(0), tzinfo=UTC)
        )
        summary = _localised(config, issue.preheader, lang) or _localised(config, issue.subject, lang)
        if summary:
            ET.SubElement(item, "description").text = summary
    ET.indent(rss)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(rss, encoding="unicode") + "\n"


def event_calendar(config: Config, issue: Issue, article: str, lang: str) -> str | None:
    """The .ics of one article's event, title and place in ``lang`` (else along its fallback chain)."""
    variants = next(v for v in issue.articles if v.name == article)
    chosen = next(
        (variants.by_language[c] for c in config.language_chain(lang) if c in variants.by_language), None
    )
    chosen = (
        chosen
        if chosen is not None and chosen.event
        else next((a for a in variants.by_language.values() if a.event), None)
    )
    if chosen is None or chosen.event is None:
        return None
    page_lang = lang if lang in issue.languages else config.default_language
    item = CalendarEvent(
        uid=f"{issue.slug}.{article}@{config.mail_domain}",
        event=chosen.event,
        stamp=datetime.combine(issue.date, time(0), tzinfo=UTC),
        description=chosen.teaser or chosen.title,
        url=_url(config, f"{issue.slug}/{page_lang}.html") if config.public_url else None,
    )
    return calendar([item], prodid=f"-//{config.name}//newsletter//{lang.upper()}")


def _copy_images(issue: Issue, folder: Path) -> None:
    """The issue's images/ folder and every image an article names: regular files inside the issue
    only, never a hidden file or anything behind a symbolic link (paths.copy_contained)."""
    from ..content import issue_images

    paths.copy_contained(issue.path, issue_images(issue), folder)


def _page(lang: str, title: str, head: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n{head}<style>{_CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


_CSS = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:0;color:#1f2a33}"
    "main{max-width:40rem;margin:2rem auto;padding:0 1rem}li{margin:.4rem 0}a{color:#0b5c8a}"
)


def _url(config: Config, path: str) -> str:
    """Absolute under NEWSLETTER_PUBLIC_URL when set, else relative to the site root."""
    return f"{config.public_url}/{path}" if config.public_url else f"/{path}"


def _localised(config: Config, values: Mapping[str, str], lang: str) -> str:
    from ..render.renderer import localised

    return localised(values, config.language_chain(lang))


def _title(config: Config, issue: Issue, lang: str) -> str:
    return _localised(config, issue.title, lang) or issue.slug


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    tmp.replace(path)
