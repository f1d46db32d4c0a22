"""The plain-text part of an edition, built from the Markdown sources (never from the HTML layout)."""

from __future__ import annotations

from . import markdown
from .labels import MailWords
from .view import ArticleView, EditionView

RULE = "=" * 60
THIN = "-" * 60


def edition_text(view: EditionView) -> str:
    labels = view.labels
    head = [view.name.upper(), view.title, view.issue_line]
    if view.segment_label:
        head.append(view.segment_label)
    if view.browser_url:
        head.append(f"{labels.view_in_browser}: {view.browser_url}")
    parts = ["\n".join(head), RULE, "[[nl:salutation]]", markdown.to_text(view.intro_md)]
    for article in view.articles:
        parts.append(article_text(article, labels))
    parts.append(footer_text(view))
    return "\n\n".join(p for p in parts if p.strip()).rstrip() + "\n"


def article_text(a: ArticleView, labels: MailWords) -> str:
    out = [RULE]
    head = f"{a.kicker.upper()}\n{a.title}" if a.kicker else a.title
    out.append(f"{head}\n{'-' * min(len(a.title), 60)}")
    if a.meta:
        out.append(a.meta)
    if a.image and (a.image.caption or a.image.credit):
        credit = f" ({a.image.credit})" if a.image.credit else ""
        out.append(f"[{labels.image}: {a.image.caption or a.image.alt}{credit}]")
    if a.teaser_md:
        out.append(markdown.inline_text(a.teaser_md))
    out.append(markdown.to_text(a.body_md))
    if a.contacts:
        lines = [f"{labels.contact}:"]
        for c in a.contacts:
            lines.append(", ".join(x for x in (c.name, c.role) if x))
            lines.append(c.email)
            if c.phone:
                lines.append(c.phone)
        out.append("\n".join(lines))
    if a.event:
        ev = a.event
        lines = [f"{labels.event}: {ev.title}", ev.when]
        if ev.location:
            lines.append(f"{labels.location}: {ev.location}")
        if ev.ics_url:
            lines.append(f"{labels.add_to_calendar}: {ev.ics_url}")
        out.append("\n".join(lines))
    return "\n\n".join(p for p in out if p.strip())


def footer_text(view: EditionView) -> str:
    labels, footer = view.labels, view.footer
    lines = [THIN, footer.text, "", f"{labels.impressum}: {footer.impressum}",
             "", f"{labels.unsubscribe_text}: [[nl:unsubscribe_url]]"]  # fmt: skip
    if footer.preferences_label:
        lines.append(f"{footer.preferences_label}: [[nl:preferences_url]]")
    return "\n".join(lines)
