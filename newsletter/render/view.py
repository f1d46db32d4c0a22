"""What the templates see: ``e`` (an ``EditionView``) and each ``a`` of ``e.articles``.

Frozen values built once per edition from the ``Issue``, the ``Config`` and the word catalogue;
Jinja reads their attributes (``e.footer.impressum``, ``a.image.src``) exactly as it read the
dictionaries before, and ``textpart`` reads the same values. Markdown arrives as sanitised
``Markup``; the ``[[nl:…]]`` placeholders stay in for ``mail`` to fill per member.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup

from ..config import Config
from ..model import Article, Issue
from . import markdown
from .labels import MailWords, Words
from .localise import event_when, long_date

_RELATIVE_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")(?![a-zA-Z][a-zA-Z0-9+.-]*:|/)')


@dataclass(frozen=True)
class ImageView:
    src: str  # the issue's file, or its copy under NEWSLETTER_PUBLIC_URL
    alt: str
    caption: str
    credit: str


@dataclass(frozen=True)
class ContactView:
    name: str
    email: str
    role: str | None
    phone: str | None
    phone_uri: str  # for tel: links, e.g. +4937112345


@dataclass(frozen=True)
class EventView:
    title: str
    when: str  # localised, each time in the zone it was written in
    location: str | None
    ics_url: str | None  # only with a public URL, where the archive serves the .ics


@dataclass(frozen=True)
class ArticleView:
    name: str
    language: str  # the file's language (a fallback may differ from the edition's)
    kicker: str | None
    title: str
    meta: str  # "24. März 2022 · Redaktion"
    teaser: str | None
    teaser_md: str | None
    teaser_html: Markup | None
    body_md: str
    body_html: Markup
    image: ImageView | None
    contacts: tuple[ContactView, ...]
    event: EventView | None


@dataclass(frozen=True)
class FooterView:
    text: str
    impressum: str
    unsubscribe_label: str
    preferences_label: str = ""  # empty without NEWSLETTER_PUBLIC_URL: no preference page to link


@dataclass(frozen=True)
class EditionView:
    lang: str
    name: str  # the newsletter's name
    slug: str
    subject: str
    preheader: str
    title: str
    date: str
    issue_line: str  # "Ausgabe 3 · 24. März 2022"
    segment_label: str  # "Polen-Fokus · USA-Fokus"; empty for the complete and the general edition
    browser_url: str | None
    intro_md: str
    intro_html: Markup
    labels: MailWords
    footer: FooterView
    articles: tuple[ArticleView, ...]


def edition_view(issue: Issue, config: Config, words: Words, articles: list[Article], *, subject: str,
                 preheader: str, title: str, segment_label: str) -> EditionView:  # fmt: skip
    language, labels = words.language, words.mail
    chain = config.language_chain(language)
    footer = next((config.footers[lang] for lang in chain if lang in config.footers), None)
    intros = getattr(issue, "intros", {})
    intro = next((intros[lang] for lang in chain if lang in intros), issue.intro)
    number = f"{labels.issue_number} {issue.number} · " if issue.number else ""
    return EditionView(
        lang=language,
        name=config.name,
        slug=issue.slug,
        subject=subject,
        preheader=preheader,
        title=title,
        date=long_date(issue.date, language),
        issue_line=number + long_date(issue.date, language),
        segment_label=segment_label,
        browser_url=f"{config.public_url}/{issue.slug}/{language}.html" if config.public_url else None,
        intro_md=intro,
        intro_html=markdown.to_markup(intro),
        labels=labels,
        footer=FooterView(
            text=footer.text if footer else "",
            impressum=footer.impressum if footer else "",
            unsubscribe_label=(footer.unsubscribe_label if footer else "") or labels.unsubscribe_text,
            preferences_label=labels.preferences_text if config.public_url else "",
        ),
        articles=tuple(article_view(issue, config, a, language, labels) for a in articles),
    )


def article_view(issue: Issue, config: Config, a: Article, language: str, labels: MailWords) -> ArticleView:
    public = config.public_url
    meta = " · ".join(x for x in (long_date(a.date, language) if a.date else None, a.author) if x)
    image = None
    if a.image:
        src = f"{public}/{issue.slug}/{a.image}" if public else a.image
        image = ImageView(src, a.image_alt or "", a.image_caption or "", a.image_credit or "")
    event = None
    if a.event:
        ics = f"{public}/{issue.slug}/{a.name}.ics" if public else None
        when = event_when(a.event, language, labels.time_suffix)
        event = EventView(a.event.title, when, a.event.location, ics)
    contacts = tuple(ContactView(c.name, c.email, c.role, c.phone, _phone_uri(c.phone)) for c in a.contacts)
    return ArticleView(
        name=a.name,
        language=a.language,
        kicker=a.kicker,
        title=a.title,
        meta=meta,
        teaser=a.teaser,
        teaser_md=a.teaser,
        teaser_html=Markup(markdown.inline_html(a.teaser)) if a.teaser else None,  # noqa: S704 - nh3-cleaned
        body_md=a.body,
        body_html=_absolute_images(markdown.to_markup(a.body), issue.slug, public),
        image=image,
        contacts=contacts,
        event=event,
    )


def _absolute_images(fragment: Markup, slug: str, public_url: str | None) -> Markup:
    """With a public URL, images written as relative paths in Markdown point at the archive copy."""
    if not public_url:
        return fragment
    prefix = f"{public_url}/{slug}/"
    return Markup(_RELATIVE_SRC.sub(lambda m: m.group(1) + prefix, str(fragment)))  # noqa: S704 - adds a URL prefix to sanitised HTML


def _phone_uri(phone: str | None) -> str:
    """``+49 (0)371 123-45`` → ``+4937112345``: the trunk ``(0)`` is not dialled after a country code."""
    return re.sub(r"[^\d+]", "", re.sub(r"\(\s*0\s*\)", "", phone or ""))
