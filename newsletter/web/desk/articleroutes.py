"""The article editor's handlers: ``/issues/<slug>/articles/<name>/<lang>``.

``page`` shows every front-matter key as a field (a translation beside its German original),
``save`` writes through ``writer.save_article`` with the version the form was loaded with — a
stale save answers 409 with the conflict view: the typed form kept as it was, the file as it is
on disk beside it, nothing lost — ``render`` renders the form as typed without writing anything
(the live preview), ``draft`` serves that rendering to the preview frame, ``file`` tells the
page's script the version on disk (the watcher's notice), ``translate`` starts a translation.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import anyio.to_thread
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response

from ...content import writer
from ...content.document import StaleFile
from ...content.forms import ArticleFields, article_fields
from ...content.uploads import store_image
from ...limits import IMAGE_MAX_BYTES
from ...model import NewsletterError
from ..preview.app import inline_image
from ..preview.mail import frame_document, member_label, sample_members
from ..safety import FRAME_CSP
from .drafts import DraftFrames, FieldMessage, draft_member, render_draft
from .formdata import FormProblem, article_from_form, event_view, event_zones

if TYPE_CHECKING:
    from .app import Desk


class ArticleRoutes:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.frames = DraftFrames()

    def _where(self, request: Request) -> tuple[str, str, str, Path | None]:
        params = request.path_params
        return params["slug"], params["name"], params["lang"], self.desk.folders().get(params["slug"])

    async def page(self, request: Request, *, status: int = 200, typed: ArticleFields | None = None,
                   **extra: object) -> Response:  # fmt: skip
        slug, name, lang, path = self._where(request)
        config = self.desk.load_config()
        if path is None or lang not in config.languages:
            return self.desk.not_found(request)
        try:
            document = await anyio.to_thread.run_sync(writer.open_article, path, name, lang)
        except NewsletterError:
            return self.desk.not_found(request)
        source = None
        if lang != config.default_language:
            original = await anyio.to_thread.run_sync(
                writer.open_article, path, name, config.default_language
            )
            source = article_fields(original) if original.exists else None
        fields = typed or article_fields(document)
        values = {
            "name": name, "article_lang": lang, "document": document, "fields": fields, "source": source,
            "event": event_view(fields.event), "zones": event_zones(config.timezone, [seg.timezone for seg in config.segments.values()]), "base": f"/issues/{slug}", "active": "edit",
            "segments": [(s, seg.name(self.desk.language(config, _session(request)))) for s, seg in config.segments.items()],
            "members": await self._members(slug, fields, lang), "default_lang": config.default_language,
            "field_errors": {}, **extra,
        }  # fmt: skip
        return self.desk.page(request, "article.html", status, **values)

    async def _members(self, slug: str, fields: ArticleFields, lang: str) -> list[tuple[str, str]]:
        """Who the preview can show the edition as: the sample member, then real members of the
        article's language who receive it (from the preview's member list)."""
        found = await self.desk.previews.preview(slug)
        members = found[0].state.snapshot.members if found else None
        sample = draft_member(None, "", lang, fields.segments or ())
        choices = [("", member_label(sample))]
        seen: set[int] = set()
        cards = found[0].state.snapshot.cards if found else ()
        for card in cards:
            if card.edition.language != lang:
                continue
            for member in sample_members(card.edition, members, limit=10):
                if member.line not in seen:
                    seen.add(member.line)
                    choices.append((str(member.line), member_label(member)))
        return choices[:40]

    async def _form(self, request: Request) -> tuple[FormData, str, str, str, Path] | Response:
        """The checked form of a POST and where it goes (slug, article, language, the issue's
        folder); else its refusal (403) or 404."""
        form = await self.desk.checked_form(request)
        if form is None:
            return self.desk.refused(request)
        slug, name, lang, path = self._where(request)
        if path is None:
            return self.desk.not_found(request)
        return form, slug, name, lang, path

    async def save(self, request: Request) -> Response:
        got = await self._form(request)
        if isinstance(got, Response):
            return got
        form, slug, name, lang, path = got
        document = await anyio.to_thread.run_sync(writer.open_article, path, name, lang)
        try:
            fields = article_from_form(form, article_fields(document))
        except FormProblem as exc:
            typed, errors = typed_despite(form, article_fields(document), exc)
            return await self.page(request, status=400, typed=typed, field_errors=errors)
        upload = form.get("image_file")
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read(IMAGE_MAX_BYTES + 1)
            try:
                stored = await anyio.to_thread.run_sync(
                    lambda: store_image(path, upload.filename or "", data)
                )
            except NewsletterError as exc:
                return await self.page(
                    request, status=400, typed=fields, field_errors={"image_file": str(exc)}
                )
            fields = _with_image(fields, stored.relative)
        version = str(form.get("version", ""))
        try:
            await anyio.to_thread.run_sync(
                lambda: writer.save_article(path, name, lang, fields, version=version)
            )
        except StaleFile as exc:
            return await self.page(request, status=409, typed=fields, conflict=exc)
        except NewsletterError as exc:
            return await self.page(request, status=400, typed=fields, save_error=" ".join(exc.lines()))
        self.desk.record_edit(request, slug)
        self.desk.flash(request, "ok", self.desk.words(request).saved)
        return RedirectResponse(f"/issues/{slug}/articles/{name}/{lang}", status_code=303)

    async def render(self, request: Request) -> Response:
        """The form as typed, rendered for the member picked; JSON for the page's script."""
        form = await self.desk.checked_form(request)
        if form is None:
            return JSONResponse({"problems": [{"field": "", "text": "refused"}]}, status_code=403)
        slug, name, lang, path = self._where(request)
        config = self.desk.load_config()
        if path is None:
            return JSONResponse({"problems": []}, status_code=404)
        found = await self.desk.previews.preview(slug)
        members = found[0].state.snapshot.members if found else None
        try:
            document = await anyio.to_thread.run_sync(writer.open_article, path, name, lang)
            fields = article_from_form(form, article_fields(document))
        except FormProblem as exc:
            return JSONResponse({"problems": [{"field": exc.field, "text": str(exc)}], "frame": None})
        member = draft_member(members, str(form.get("member", "")), lang, fields.segments or ())
        problems, edition, mail = await anyio.to_thread.run_sync(
            render_draft, config, path, name, lang, fields, member
        )
        frame = None
        if mail is not None:
            frame = f"/issues/{slug}/draft/{self.frames.keep(slug, mail)}"
        return JSONResponse({
            "frame": frame, "edition": str(edition.key) if edition else "",
            "problems": [_problem(p) for p in problems],
        })  # fmt: skip

    async def draft(self, request: Request) -> Response:
        slug, key = request.path_params["slug"], request.path_params["key"]
        mail = self.frames.get(slug, key)
        if mail is None:
            return PlainTextResponse("This preview has expired; type a letter to render it again.", 404)
        html = frame_document(mail.html, base=f"/issues/{slug}/issue/", dark=False,
                              cid_url=f"/issues/{slug}/draft/{key}/cid/")  # fmt: skip
        return HTMLResponse(html, headers={"Content-Security-Policy": FRAME_CSP})

    async def draft_image(self, request: Request) -> Response:
        mail = self.frames.get(request.path_params["slug"], request.path_params["key"])
        image = mail.image(request.path_params["cid"]) if mail else None
        return inline_image(image.content_type, image.data) if image else PlainTextResponse("Not found.", 404)

    async def file(self, request: Request) -> Response:
        """The file's version and text as on disk now (the page compares it with its own)."""
        _, name, lang, path = self._where(request)
        if path is None:
            return JSONResponse({}, status_code=404)
        document = await anyio.to_thread.run_sync(writer.open_article, path, name, lang)
        return JSONResponse({"version": document.version, "text": document.text})

    async def translate(self, request: Request) -> Response:
        got = await self._form(request)
        if isinstance(got, Response):
            return got
        form, slug, name, lang, path = got
        config = self.desk.load_config()
        try:
            await anyio.to_thread.run_sync(
                lambda: writer.create_translation(path, name, lang=lang, config=config)
            )
        except NewsletterError as exc:
            self.desk.flash(request, "error", " ".join(exc.lines()))
        else:
            self.desk.record_edit(request, slug)
        return RedirectResponse(f"/issues/{slug}/articles/{name}/{lang}", status_code=303)


def _with_image(fields: ArticleFields, relative: str) -> ArticleFields:
    return replace(fields, image=relative)


def _problem(problem: FieldMessage) -> dict[str, str]:
    return {"field": problem.field, "text": problem.text}


def _session(request: Request):  # noqa: ANN202
    from .gate import visit_of

    return visit_of(request).session


def typed_despite(
    form: FormData, base: ArticleFields, problem: FormProblem
) -> tuple[ArticleFields, dict[str, str]]:
    """The article as typed but for the inputs that could not be read: each failing input (the
    whole event when an event input fails) keeps what the file holds; the mistakes by field."""
    errors: dict[str, str] = {}
    dropped: set[str] = set()
    while True:
        errors[problem.field] = str(problem)
        dropped.add("event_" if problem.field.startswith("event_") else problem.field)  # a prefix or a name
        kept = FormData(
            [
                (k, v)
                for k, v in form.multi_items()
                if not any(k == d or (d.endswith("_") and k.startswith(d)) for d in dropped)
            ]
        )
        try:
            typed = article_from_form(kept, base)
        except FormProblem as again:
            if again.field in errors:  # cannot happen (its input is gone); the file as it is
                return base, errors
            problem = again
            continue
        if "event_" in dropped:
            typed = replace(typed, event=base.event)
        if "date" in dropped:
            typed = replace(typed, date=base.date)
        return typed, errors


__all__ = ["ArticleRoutes"]
