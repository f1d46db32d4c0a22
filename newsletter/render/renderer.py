"""``Issue`` + (segments, language) → ``Edition``: Jinja2 (sandboxed) → MJML → HTML, plus the text part.

The Jinja environment and templates are loaded once per ``Renderer``; MJML is compiled once per
edition, never per member. Personalisation placeholders (``[[nl:…]]``) pass through untouched.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from mjml import mjml2html

from ..config import Config
from ..model import ALL, Article, ArticleVariants, Edition, EditionKey, Fallback, Issue
from . import textpart
from .images import edition_images
from .labels import Words, catalogue
from .sandbox import NewsletterSandbox, TemplateProblem, TemplateRefused, render_capped
from .view import EditionView, edition_view

log = logging.getLogger("newsletter.render")  # one debug record per rendered edition (tests count them)

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
        self.catalogue = catalogue(config)  # every word, checked for every configured language now
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
        log.debug("rendered edition %s of %s", EditionKey(frozenset(segments), language), issue.slug)
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

    def render_mjml(self, view: EditionView) -> str:
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

    def words(self, language: str) -> Words:
        return self.catalogue.words(self.config.language_chain(language))

    def view(self, issue: Issue, segments: frozenset[str], language: str, articles: list[Article],
             subject: str, preheader: str) -> EditionView:  # fmt: skip
        title = localised(issue.title, self.config.language_chain(language))
        label = self.segment_label(segments, language)
        return edition_view(issue, self.config, self.words(language), articles, subject=subject,
                            preheader=preheader, title=title, segment_label=label)  # fmt: skip

    def segment_label(self, segments: frozenset[str], language: str) -> str:
        if ALL in segments or not segments:
            return ""
        return " · ".join(self.config.segment(s).name(language) for s in sorted(segments))


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
