"""The preview of each issue inside the desk, at ``/issues/<slug>/…``: made when first opened,
with its own file watcher, and kept until the desk stops.

The slug is looked up among the issue folders (``home.issue_folders``), never joined into a
path, so ``/issues/..%2f..`` or a link in issues/ finds nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import anyio.to_thread
from starlette.responses import PlainTextResponse
from starlette.routing import Router
from starlette.types import Receive, Scope, Send

from ...config import Config
from ..preview.app import Frame, Preview, preview_routes
from ..preview.live import watch
from ..preview.state import PreviewState

HERE = Path(__file__).resolve().parent


class IssuePreviews:
    """ASGI app for ``Mount("/issues/{slug}")``: hands the request to that issue's preview."""

    def __init__(self, load_config: Callable[[], Config], folders: Callable[[], dict[str, Path]],
                 hosts: frozenset[str], port: int, frame: Frame):  # fmt: skip
        self.load_config = load_config
        self.folders = folders
        self.hosts = hosts
        self.port = port
        self.frame = frame
        self.previews: dict[str, tuple[Preview, Router]] = {}
        self._watchers: list[tuple[asyncio.Task[None], asyncio.Event]] = []
        self._lock = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        slug = scope.get("path_params", {}).get("slug", "")
        found = await self.preview(slug)
        if found is None:
            await PlainTextResponse("Not found.", status_code=404)(scope, receive, send)
            return
        await found[1](scope, receive, send)

    async def preview(self, slug: str) -> tuple[Preview, Router] | None:
        async with self._lock:
            if slug in self.previews:
                return self.previews[slug]
            path = (await anyio.to_thread.run_sync(self.folders)).get(slug)
            if path is None:
                return None
            state = PreviewState(self.load_config, path)
            await anyio.to_thread.run_sync(state.reload)
            preview = Preview(state, self.hosts, self.port, base=f"/issues/{slug}", frame=self.frame,
                              templates=(HERE / "templates",))  # fmt: skip
            preview.loop = asyncio.get_running_loop()
            stop = asyncio.Event()
            self._watchers.append((asyncio.create_task(watch(state, preview.broadcaster, stop)), stop))
            self.previews[slug] = (preview, Router(routes=preview_routes(preview)))
            return self.previews[slug]

    def end_streams(self) -> None:
        for preview, _ in list(self.previews.values()):
            preview.end_streams()

    async def close(self) -> None:
        for preview, _ in self.previews.values():
            preview.broadcaster.close()
        for task, stop in self._watchers:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(task, 2)


__all__ = ["IssuePreviews"]
