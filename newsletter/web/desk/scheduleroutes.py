"""Scheduling in the desk: ``/issues/<slug>/schedule``.

The form is ``newsletter schedule ISSUE --to SEGMENT --at LOCAL`` in the browser: the same
``schedule.plans.create_schedule`` stores it, so the refusals are exactly the command's (a time
that happens twice or never on a DST night, a past time, a duplicate, an issue with errors); the
message is shown on the time field. ``times`` answers the page's script while the editor picks:
the time in the segment's zone, in Berlin and in UTC, or the refusal.
"""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ...edges import state_database
from ...model import ALL, GENERAL, NewsletterError
from ...schedule.plans import BERLIN, cancel_schedule, create_schedule, schedule_segment
from ...schedule.plans import Request as ScheduleRequest
from ...schedule.times import parse_at, to_utc
from ...store.schedules import list_schedules
from ...zones import fmt_local

if TYPE_CHECKING:
    from ...config import Config
    from .app import Desk


def segment_choices(config: Config, lang: str) -> list[tuple[str, str, str]]:
    """(id, name, zone) of each segment a schedule can be for, ``all`` and ``general`` first."""
    w = _words(config, lang)
    choices = [(ALL, w.schedule_all, config.timezone), (GENERAL, w.schedule_general, config.timezone)]
    return choices + [(s, seg.name(lang), seg.timezone) for s, seg in config.segments.items()]


def _words(config: Config, lang: str):  # noqa: ANN202
    from ...render.labels import words

    return words(config, lang).desk


def times_of(config: Config, segment_id: str, at: str) -> dict[str, str]:
    """The picked wall-clock time in the segment's zone, in Berlin and in UTC (or the refusal)."""
    try:
        segment = schedule_segment(config, segment_id)
        instant = to_utc(parse_at(at), segment.timezone)
    except NewsletterError as exc:
        return {"error": str(exc)}
    return {
        "local": f"{fmt_local(instant, segment.timezone)} {segment.timezone}",
        "berlin": f"{fmt_local(instant, BERLIN)} {BERLIN}",
        "utc": f"{instant.astimezone(UTC):%d.%m.%Y %H:%M} UTC",
    }


class ScheduleRoutes:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    async def page(self, request: Request, *, status: int = 200, **extra: object) -> Response:
        slug = request.path_params["slug"]
        path = self.desk.folders().get(slug)
        if path is None:
            return self.desk.not_found(request)
        config = self.desk.load_config()
        if "at" in request.query_params:  # the picker asks while the editor picks
            answer = times_of(config, request.query_params.get("segment", ALL), request.query_params["at"])
            return JSONResponse(answer)
        from .gate import visit_of

        lang = self.desk.language(config, visit_of(request).session)
        schedules = await anyio.to_thread.run_sync(list_schedules, state_database(config), slug)
        values = {"choices": segment_choices(config, lang), "schedules": schedules, "base": f"/issues/{slug}",
                  "active": "schedule", "fmt_local": fmt_local, "picked": {}, **extra}  # fmt: skip
        return self.desk.page(request, "schedule.html", status, **values)

    async def add(self, request: Request) -> Response:
        form = await self.desk.checked_form(request)
        if form is None:
            return self.desk.refused(request)
        slug = request.path_params["slug"]
        path = self.desk.folders().get(slug)
        if path is None:
            return self.desk.not_found(request)
        config = self.desk.load_config()
        segment, at = str(form.get("segment", "")), str(form.get("at", ""))
        wanted = ScheduleRequest(issue=str(path), segment=segment, at=at)
        try:
            await anyio.to_thread.run_sync(lambda: create_schedule(config, wanted, clock=self.desk.clock))
        except NewsletterError as exc:
            return await self.page(request, status=400, at_error=" ".join(exc.lines()),
                                   picked={"segment": segment, "at": at})  # fmt: skip
        self.desk.flash(request, "ok", self.desk.words(request).scheduled)
        return RedirectResponse(f"/issues/{slug}/schedule", status_code=303)

    async def cancel(self, request: Request) -> Response:
        form = await self.desk.checked_form(request)
        if form is None:
            return self.desk.refused(request)
        slug = request.path_params["slug"]
        config = self.desk.load_config()
        number = str(form.get("id", ""))
        ours = {info.id for info in list_schedules(state_database(config), slug)}
        if not number.isdigit() or int(number) not in ours:  # only a schedule of this issue
            return self.desk.not_found(request)
        try:
            await anyio.to_thread.run_sync(
                lambda: cancel_schedule(config, int(number), clock=self.desk.clock)
            )
        except NewsletterError as exc:
            self.desk.flash(request, "error", " ".join(exc.lines()))
        else:
            self.desk.flash(request, "ok", self.desk.words(request).cancelled)
        return RedirectResponse(f"/issues/{slug}/schedule", status_code=303)


__all__ = ["ScheduleRoutes", "segment_choices", "times_of"]
