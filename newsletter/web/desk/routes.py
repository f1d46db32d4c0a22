"""The desk's editing pages, below ``/issues/<slug>/`` and ahead of the issue's preview there:

GET  /issues/<slug>/edit                         the issue page
POST /issues/<slug>/edit                         save issue.md's fields
POST /issues/<slug>/articles/order               the article list's new order (or one move)
POST /issues/<slug>/articles/add | remove | delete-files
POST /issues/<slug>/import                       a Word file as a new article
GET  /issues/<slug>/schedule                     scheduling per segment; POST …/schedule, …/schedule/cancel
GET  /issues/<slug>/articles/<name>/<lang>       the article editor; POST saves
POST /issues/<slug>/articles/<name>/<lang>/render    the form as typed → the live preview
POST /issues/<slug>/articles/<name>/<lang>/translate start this translation
GET  /issues/<slug>/articles/<name>/<lang>/file      the version on disk (the watcher's notice)
GET  /issues/<slug>/draft/<key>                  a rendered draft for the preview frame
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Route

from .articleroutes import ArticleRoutes
from .issueroutes import IssueRoutes
from .scheduleroutes import ScheduleRoutes

if TYPE_CHECKING:
    from .app import Desk

ARTICLE = "/issues/{slug}/articles/{name}/{lang}"


def editing_routes(desk: Desk) -> list[Route]:
    issue, article, schedule = IssueRoutes(desk), ArticleRoutes(desk), ScheduleRoutes(desk)
    return [
        Route("/issues/{slug}/edit", issue.page),
        Route("/issues/{slug}/edit", issue.save, methods=["POST"]),
        Route("/issues/{slug}/articles/order", issue.reorder, methods=["POST"]),
        Route("/issues/{slug}/articles/add", issue.add, methods=["POST"]),
        Route("/issues/{slug}/articles/remove", issue.remove, methods=["POST"]),
        Route("/issues/{slug}/articles/delete-files", issue.delete_files, methods=["POST"]),
        Route("/issues/{slug}/import", issue.word_import, methods=["POST"]),
        Route("/issues/{slug}/schedule", schedule.page),
        Route("/issues/{slug}/schedule", schedule.add, methods=["POST"]),
        Route("/issues/{slug}/schedule/cancel", schedule.cancel, methods=["POST"]),
        Route("/issues/{slug}/draft/{key}", article.draft),
        Route("/issues/{slug}/draft/{key}/cid/{cid}", article.draft_image),
        Route(ARTICLE, article.page),
        Route(ARTICLE, article.save, methods=["POST"]),
        Route(ARTICLE + "/render", article.render, methods=["POST"]),
        Route(ARTICLE + "/translate", article.translate, methods=["POST"]),
        Route(ARTICLE + "/file", article.file),
    ]


__all__ = ["editing_routes"]
