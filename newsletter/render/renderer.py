"""``Issue`` + (segments, language) → ``Edition``: Jinja2 (sandboxed) → MJML → HTML, plus the text part.

The Jinja environment and templates are loaded once per ``Renderer``; MJML is compiled once per
edition, never per member. Personalisation placeholders (``[[nl:…]]``) pass through untouched.
"""

from __future__ import annotations

import re
import tomllib
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from markupsafe import Markup
from mjml import mjml2html

from ..config import Config
from ..model import ALL, Article, ArticleVariants, Edition, Fallback, Issue
from . import markdown, textpart
from .images import edition_images
from .localise import event_when, long_date
from .sandbox import NewsletterSandbox, TemplateProblem, TemplateRefused, render_capped

TEMPLATE = "newsletter.mjml.j2"
MJML_TAGS = frozenset(
    (
        "mjml",
        "mj-head",
        "mj-body",
        "mj-attributes",
        "mj-all",
        "mj-class",
        "mj-breakpoint",
        "mj-font",
        "mj-html-attributes",
        "mj-html-attribute",
        "mj-selector",
        "mj-preview",
        "mj-style",
        "mj-title",
        "mj-raw",
        "mj-include",
        "mj-accordion",
        "mj-accordion-element",
        "mj-accordion-title",
        "mj-accordion-text",
        "mj-button",
        "mj-carousel",
        "mj-carousel-image",
        "mj-column",
        "mj-divider",
        "mj-group",
        "mj-hero",
        "mj-image",
        "mj-navbar",
        "mj-navbar-link",
        "mj-section",
        "mj-social",
        "mj-social-element",
        "mj-spacer",
        "mj-table",
        "mj-text",
        "mj-wrapper",
    )
)
_RELATIVE_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")(?![a-zA-Z][a-zA-Z0-9+.-]*:|/)')
_TAG = re.compile(r"</?(mj-[A-Za-z0-9-]*|mjml[A-Za-z0-9-]*)")


@dataclass(frozen=True)
class Picked:
    article: Article
    fallback: Fallback | None


class Renderer:
    """Holds the sandboxed Jinja environment and the edition template, loaded once."""

    def __init__(self, config: Config):
        self.config = config
        self.env = NewsletterSandbox(config.templates)
        self.labels = _load_labels(config.templates / "labels.toml")
        check_template_tags(config.templates, config.root)
        try:
            self.template = self.env.get_template(TEMPLATE)
        except TemplateSyntaxError as exc:
            raise TemplateProblem(f"{_rel(config, exc.filename)}:{exc.lineno}: {exc.message}") from None
        except TemplateNotFound as exc:
            raise TemplateProblem(
                f"{_rel(config, str(config.templates / TEMPLATE))}: template not found ({exc.message}); "
                "copy templates/ from the project or set [newsletter] templates in newsletter.toml"
            ) from None

    def render(self, issue: Issue, segments: frozenset[str], language: str) -> Edition:
        picked = [p for v in select_articles(issue, segments) if (p := self.pick(v, language))]
        subject = localised(issue.subject, self.config.language_chain(language))
        preheader = localised(issue.preheader, self.config.language_chain(language))
        view = self.view(issue, segments, language, [p.article for p in picked], subject, preheader)
        html = self.compile(self.render_mjml(view))
        text = textpart.edition_text(view)
        # no public URL to link them from: the pictures travel in the mail (images.py, mail.inline)
        images = () if self.config.public_url else edition_images(html, issue.path, self.config.mail_domain)
        return Edition(
            issue_slug=issue.slug,
            segments=frozenset(segments),
            language=language,
            subject=subject,
            preheader=preheader,
            html=html,
            text=text,
            articles=tuple(p.article.name for p in picked),
            fallbacks=tuple(p.fallback for p in picked if p.fallback),
            images=images,
        )

    def pick(self, variants: ArticleVariants, language: str) -> Picked | None:
        """The article in ``language``, else along the fallback chain, else any language it has."""
        chain = [*self.config.language_chain(language), *variants.by_language]
        for lang in chain:
            if lang in variants.by_language:
                fallback = Fallback(variants.name, language, lang) if lang != language else None
                return Picked(variants.by_language[lang], fallback)
        return None

    def render_mjml(self, view: Mapping[str, Any]) -> str:
        try:
            return render_capped(self.template, {"e": view})
        except SecurityError as exc:
            raise TemplateRefused(f"{self._where(exc)}: template refused: {exc}") from None
        except TemplateError as exc:
            raise TemplateProblem(f"{self._where(exc)}: template error: {exc}") from None

    def render_string(self, source: str, **context: Any) -> str:
        """Render template source in the same sandbox (for tests and editor snippets)."""
        return render_capped(self.env.from_string(source), context)

    def compile(self, mjml_source: str) -> str:
        unknown = sorted({t for t in _TAG.findall(mjml_source) if t not in MJML_TAGS})
        if unknown:
            names = ", ".join(f"<{t}>" for t in unknown)
            raise TemplateProblem(f"{_rel(self.config, str(self.config.templates))}: unknown MJML tag {names}; "
                                  "use only the tags documented at mjml.io")  # fmt: skip
        try:
            return mjml2html(mjml_source, disable_comments=True, fonts={})
        except ValueError as exc:
            raise TemplateProblem(
                f"{_rel(self.config, str(self.config.templates))}: MJML error: {exc}"
            ) from None

    def _where(self, exc: BaseException) -> str:
        templates = str(self.config.templates.resolve())
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(templates)]
        if frames:
            return f"{_rel(self.config, frames[-1].filename)}:{frames[-1].lineno}"
        return _rel(self.config, str(self.config.templates / TEMPLATE))

    # ───────────────────────────── view for the templates ─────────────────────────────

    def view(self, issue: Issue, segments: frozenset[str], language: str, articles: list[Article],
             subject: str, preheader: str) -> dict[str, Any]:  # fmt: skip
        cfg = self.config
        chain = cfg.language_chain(language)
        labels = _localised_labels(self.labels, chain)
        footer = next((cfg.footers[lang] for lang in chain if lang in cfg.footers), None)
        intros = getattr(issue, "intros", {})
        intro = next((intros[lang] for lang in chain if lang in intros), issue.intro)
        number = f"{labels.get('issue_number', '')} {issue.number} · " if issue.number else ""
        return {
            "lang": language,
            "name": cfg.name,
            "slug": issue.slug,
            "subject": subject,
            "preheader": preheader,
            "title": localised(issue.title, chain),
            "date": long_date(issue.date, language),
            "issue_line": number + long_date(issue.date, language),
            "segment_label": self.segment_label(segments, language),
            "browser_url": f"{cfg.public_url}/{issue.slug}/{language}.html" if cfg.public_url else None,
            "intro_md": intro,
            "intro_html": markdown.to_markup(intro),
            "labels": labels,
            "footer": {
                "text": footer.text if footer else "",
                "impressum": footer.impressum if footer else "",
                "unsubscribe_label": footer.unsubscribe_label
                if footer
                else labels.get("unsubscribe_text", ""),
            },
            "articles": [self.article_view(issue, a, language, labels) for a in articles],
        }

    def article_view(
        self, issue: Issue, a: Article, language: str, labels: Mapping[str, str]
    ) -> dict[str, Any]:
        meta = " · ".join(x for x in (long_date(a.date, language) if a.date else None, a.author) if x)
        image = None
        if a.image:
            src = f"{self.config.public_url}/{issue.slug}/{a.image}" if self.config.public_url else a.image
            image = {"src": src, "alt": a.image_alt or "", "caption": a.image_caption or "",
                     "credit": a.image_credit or ""}  # fmt: skip
        event = None
        if a.event:
            ics = f"{self.config.public_url}/{issue.slug}/{a.name}.ics" if self.config.public_url else None
            event = {"title": a.event.title, "when": event_when(a.event, language, labels),
                     "location": a.event.location, "ics_url": ics}  # fmt: skip
        contacts = [{"name": c.name, "email": c.email, "role": c.role, "phone": c.phone,
                     "phone_uri": _phone_uri(c.phone)} for c in a.contacts]  # fmt: skip
        return {
            "name": a.name,
            "language": a.language,
            "kicker": a.kicker,
            "title": a.title,
            "meta": meta,
            "teaser": a.teaser,
            "teaser_md": a.teaser,
            "teaser_html": Markup(markdown.inline_html(a.teaser)) if a.teaser else None,  # noqa: S704 - nh3-cleaned
            "body_md": a.body,
            "body_html": self._absolute_images(markdown.to_markup(a.body), issue.slug),
            "image": image,
            "contacts": contacts,
            "event": event,
        }

    def _absolute_images(self, fragment: Markup, slug: str) -> Markup:
        """With a public URL, images written as relative paths in Markdown point at the archive copy."""
        if not self.config.public_url:
            return fragment
        prefix = f"{self.config.public_url}/{slug}/"
        return Markup(_RELATIVE_SRC.sub(lambda m: m.group(1) + prefix, str(fragment)))  # noqa: S704 - adds a URL prefix to sanitised HTML

    def segment_label(self, segments: frozenset[str], language: str) -> str:
        if ALL in segments or not segments:
            return ""
        return " · ".join(self.config.segment(s).name(language) for s in sorted(segments))


def _phone_uri(phone: str | None) -> str:
    """``+49 (0)371 123-45`` → ``+4937112345``: the trunk ``(0)`` is not dialled after a country code."""
    return re.sub(r"[^\d+]", "", re.sub(r"\(\s*0\s*\)", "", phone or ""))


def select_articles(issue: Issue, segments: frozenset[str]) -> list[ArticleVariants]:
    """Articles of an edition, in issue order: {ALL} = every article; otherwise the ones whose
    segments intersect ``segments`` plus the untargeted ones (empty set = only untargeted)."""
    if ALL in segments:
        return list(issue.articles)
    return [v for v in issue.articles if v.segments is None or not v.segments or v.segments & segments]


def edition_segment_sets(config: Config) -> list[frozenset[str]]:
    """Editions that `build` writes: one per configured segment, plus "all"."""
    return [frozenset({s}) for s in config.segments] + [frozenset({ALL})]


def build_editions(issue: Issue, config: Config, renderer: Renderer | None = None) -> list[Edition]:
    """Every configured segment and "all", × the issue's languages."""
    renderer = renderer or Renderer(config)
    return [
        renderer.render(issue, seg, lang) for seg in edition_segment_sets(config) for lang in issue.languages
    ]


def localised(values: Mapping[str, str], chain: Iterable[str]) -> str:
    """A per-language value (title, subject, preheader) along a language chain; "*" = any language."""
    for lang in (*chain, "*"):
        if values.get(lang):
            return str(values[lang])
    return next((str(v) for v in values.values() if v), "")


def _localised_labels(labels: Mapping[str, Mapping[str, str]], chain: tuple[str, ...]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for lang in reversed(chain):
        merged.update(labels.get(lang, {}))
    return merged


def _load_labels(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TemplateProblem(f"{path}: {exc}") from None


def check_template_tags(templates: Path, root: Path) -> None:
    """Refuse template files that use MJML tags mjml-python would pass through silently."""
    problems = []
    for file in sorted(templates.rglob("*.j2")):
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            for tag in dict.fromkeys(_TAG.findall(line)):
                if tag not in MJML_TAGS:
                    problems.append(f"{_relpath(root, file)}:{number}: unknown MJML tag <{tag}>")
    if problems:
        raise TemplateProblem("\n".join(problems))


def _rel(config: Config, filename: str | None) -> str:
    return _relpath(config.root, Path(filename or config.templates))


def _relpath(root: Path, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
