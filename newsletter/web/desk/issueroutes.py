"""The issue page's handlers: ``/issues/<slug>/edit`` and the forms it posts.

Every save goes through the content library's writer with the version the page was loaded with
(a stale save is refused and shown, nothing is written), then ``record_edit`` names the person
(four eyes). The article list is changed by ``reorder`` (drag and drop, Alt+Arrow or the move
buttons), ``add`` and ``remove``; deleting an article's files is a separate, confirmed form.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import anyio.to_thread
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ...content import writer
from ...content.document import StaleFile
from ...content.forms import ArticleFields, issue_fields
from ...limits import WORD_FILE_MAX_BYTES
from ...model import NewsletterError
from .formdata import FormProblem, issue_from_form, per_language, translation_from_form
from .issuepage import article_files, issue_languages, issue_translations, preflight_problems, read_issue_view

if TYPE_CHECKING:
    from ...config import Config
    from .app import Desk


class IssueRoutes:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def _folder(self, request: Request) -> Path | None:
        return self.desk.folders().get(request.path_params["slug"])

    def _back(self, slug: str, anchor: str = "") -> Response:
        return RedirectResponse(f"/issues/{slug}/edit{anchor}", status_code=303)

    async def page(self, request: Request, *, status: int = 200, **extra: object) -> Response:
        slug = request.path_params["slug"]
        path = await anyio.to_thread.run_sync(self._folder, request)
        if path is None:
            return self.desk.not_found(request)
        config = self.desk.load_config()
        lang = self.desk.language(config, self._visit(request).session)
        view = await anyio.to_thread.run_sync(read_issue_view, config, path, lang)
        loose = await anyio.to_thread.run_sync(
            lambda: {name: article_files(path, name, config) for name in view.loose}
        )  # each loose file's version as the page shows it: deleted only if still at it
        checked = "check" in request.query_params
        problems = await anyio.to_thread.run_sync(preflight_problems, config, path, slug) if checked else None
        previews = await self.desk.previews.preview(slug)
        cards = previews[0].state.snapshot.cards if previews else ()
        row = await anyio.to_thread.run_sync(self.desk.issue_row, config, slug, lang)  # pre-flight, hash
        values = {
            "view": view, "loose_versions": loose, "cards": cards, "problems": problems, "active": "edit",
            "base": f"/issues/{slug}", "per_language": per_language,
            "segments": [(s, seg.name(lang)) for s, seg in config.segments.items()],
            "issue_row": lambda: row, **extra,
        }  # fmt: skip
        return self.desk.page(request, "issue.html", status, **values)

    def _visit(self, request: Request):  # noqa: ANN202
        from .gate import visit_of

        return visit_of(request)

    async def _form(self, request: Request) -> tuple[FormData, str, Path] | Response:
        """The checked form, the slug and the issue's folder of a POST; else its refusal (403) or 404."""
        form = await self.desk.checked_form(request)
        if form is None:
            return self.desk.refused(request)
        path = self._folder(request)
        if path is None:
            return self.desk.not_found(request)
        return form, request.path_params["slug"], path

    async def save(self, request: Request) -> Response:
        got = await self._form(request)
        if isinstance(got, Response):
            return got
        form, slug, path = got
        config = self.desk.load_config()

        try:
            await anyio.to_thread.run_sync(_save_issue, path, form, config)
        except FormProblem as exc:  # the typed form stays on the page, the mistake on its field
            return await self.page(request, status=400, field_errors={exc.field: str(exc)}, typed=form)
        except StaleFile as exc:
            return await self.page(request, status=409, conflict=exc, typed=form)
        except NewsletterError as exc:
            return await self.page(request, status=400, save_error=" ".join(exc.lines()), typed=form)
        self.desk.record_edit(request, slug)
        self.desk.flash(request, "ok", self.desk.words(request).saved)
        return self._back(slug)

    async def reorder(self, request: Request) -> Response:
        """The new order (``order`` repeated), or one ``move`` (``name:up`` / ``name:down``)."""
        got = await self._form(request)
        if isinstance(got, Response):
            return got
        form, slug, path = got
        order = [str(n) for n in form.getlist("order")]
        move = str(form.get("move", ""))
        if move:
            name, _, way = move.rpartition(":")
            if name in order:
                at = order.index(name)
                to = max(0, min(len(order) - 1, at + (-1 if way == "up" else 1)))
                order.insert(to, order.pop(at))
        version = str(form.get("version", ""))
        try:
            document = await anyio.to_thread.run_sync(
                lambda: writer.reorder_articles(path, order, version=version)
            )
        except StaleFile as exc:
            return self._answer(request, slug, 409, self.desk.words(request).stale_list, exc.current_version)
        except NewsletterError as exc:
            return self._answer(request, slug, 400, " ".join(exc.lines()), None)
        self.desk.record_edit(request, slug)
        return self._answer(request, slug, 200, self.desk.words(request).order_saved, document.version)

    def _answer(self, request: Request, slug: str, status: int, text: str, version: str | None) -> Response:
        """The script gets JSON (and keeps the page); a plain form post comes back to the page."""
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"message": text, "version": version}, status_code=status)
        self.desk.flash(request, "ok" if status == 200 else "error", text)
        return self._back(slug, "#articles")

    async def add(self, request: Request) -> Response:
        got = await self._form(request)
        if isinstance(got, Response):
            return got
        form, slug, path = got
        config = self.desk.load_config()
        name = str(form.get("name", "")).strip()
        title = str(form.get("title", "")).strip() or name
        version = str(form.get("version", ""))
        try:
            await anyio.to_thread.run_sync(lambda: writer.add_article(
                path, name, ArticleFields(title=title), lang=config.default_language, version=version,
                config=config))  # fmt: skip
        except StaleFile:
            self.desk.flash(request, "error", self.desk.words(request).stale_list)
            return self._back(slug, "#articles")
        except NewsletterError as exc:
            self.desk.flash(request, "error", " ".join(exc.lines()))
            return self._back(slug, "#add-article")
        self.desk.record_edit(request, slug)
        return RedirectResponse(f"/issues/{slug}/articles/{name}/{config.default_language}", status_code=303)

    async def remove(self, request: Request) -> Response:
        got = await self._form(request)
        if isinstance(got, Response):
            return got
        form, slug, path = got
        name, version = str(form.get("name", "")), str(form.get("version", ""))
        w = self.desk.words(request)
        try:
            await anyio.to_thread.run_sync(lambda: writer.remove_article(path, name, version=version))
        except StaleFile:
            self.desk.flash(request, "error", w.stale_list)
            return self._back(slug, "#articles")
        except NewsletterError as exc:
            self.desk.flash(request, "error", " ".join(exc.lines()))
            return self._back(slug, "#articles")
        self.desk.record_edit(request, slug)
        self.desk.flash(request, "ok", w.removed.format(name=name))
        return self._back(slug, "#articles")

    async def delete_files(self, request: Request) -> Response:
        got = await self._form(request)
        if isinstance(got, Response):
            return got
        form, slug, path = got
        w, name, config = self.desk.words(request), str(form.get("name", "")), self.desk.load_config()
        if form.get("confirm") != "yes":
            self.desk.flash(request, "error", w.delete_confirm_needed)
            return self._back(slug, "#loose-files")
        versions = {code: str(form.get(f"v_{code}")) for code in config.languages if form.get(f"v_{code}")}
        try:  # each file at the version the page was loaded with (v_<lang>): a newer one stays
            deleted = await anyio.to_thread.run_sync(lambda: writer.delete_article_files(
                path, name, versions=versions))  # fmt: skip
        except NewsletterError as exc:
            self.desk.flash(request, "error", " ".join(exc.lines()))
            return self._back(slug, "#loose-files")
        self.desk.flash(request, "ok", w.deleted.format(files=", ".join(deleted)))
        return self._back(slug, "#loose-files")

    async def word_import(self, request: Request) -> Response:
        got = await self._form(request)
        if isinstance(got, Response):
            return got
        form, slug, path = got
        upload = form.get("docx")
        w, config = self.desk.words(request), self.desk.load_config()
        if not isinstance(upload, UploadFile) or not upload.filename:
            self.desk.flash(request, "error", w.word_missing)
            return self._back(slug, "#word-import")
        data = await upload.read(WORD_FILE_MAX_BYTES + 1)
        if len(data) > WORD_FILE_MAX_BYTES:
            self.desk.flash(request, "error", w.word_too_large.format(mb=WORD_FILE_MAX_BYTES // 2**20))
            return self._back(slug, "#word-import")
        return await self._import(
            request, slug, path, config, data, upload.filename, str(form.get("name", ""))
        )

    async def _import(self, request: Request, slug: str, path, config, data: bytes, filename: str,  # noqa: ANN001
                      name: str) -> Response:  # fmt: skip
        from ...content.wordimport import import_docx

        try:
            imported = await anyio.to_thread.run_sync(lambda: import_docx(
                path, data, config=config, filename=filename, name=name.strip() or None))  # fmt: skip
        except NewsletterError as exc:
            self.desk.flash(request, "error", " ".join(exc.lines()))
            return self._back(slug, "#word-import")
        self.desk.record_edit(request, slug)
        return await self.page(request, imported=imported)


def _save_issue(path: Path, form: FormData, config: Config) -> None:
    """issue.md, and each issue.<lang>.md the page shows; every version is checked before
    anything is written, so a stale file leaves all of them as they were."""
    document = writer.open_issue(path)
    base = issue_fields(document)
    languages = issue_languages(base, config)
    own = issue_translations(path, languages)  # these languages are saved in issue.<lang>.md
    fields = issue_from_form(form, base, languages, tuple(own))
    typed = {lang: translation_from_form(form, lang) for lang in own}
    for lang, (version, _) in own.items():
        if str(form.get(f"tr_{lang}_version", "")) != version:
            current = writer.open_issue(path, lang)
            raise StaleFile(current.relative, current.text, current.version)
    writer.save_issue(path, fields, version=str(form.get("version", "")))
    for lang, (version, before) in own.items():
        if typed[lang] != before:
            writer.save_translation(path, lang, typed[lang], version=version)


__all__ = ["IssueRoutes"]
