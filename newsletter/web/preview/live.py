"""Live reload: watch the issue, templates, newsletter.toml and the member list; tell open pages.

A background task waits on watchfiles, rebuilds the snapshot in a worker thread and publishes
the new version number to every open page over Server-Sent Events (``GET /events``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread
from watchfiles import Change, DefaultFilter, awatch

from .state import PreviewState

HEARTBEAT_SECONDS = 15.0


class Broadcaster:
    """Fan-out of version numbers to every connected page."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[tuple[str, int] | None]] = set()
        self.closed = False

    def publish(self, version: int, event: str = "version") -> None:
        for queue in list(self._queues):
            queue.put_nowait((event, version))

    def close(self) -> None:
        self.closed = True
        for queue in list(self._queues):
            queue.put_nowait(None)

    async def stream(self, current: int) -> AsyncIterator[str]:
        """An SSE stream: the current version first, then every new one, with heartbeats."""
        queue: asyncio.Queue[tuple[str, int] | None] = asyncio.Queue()
        self._queues.add(queue)
        try:
            yield f"retry: 1000\nevent: version\ndata: {current}\n\n"
            while not self.closed:
                try:
                    item = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield ": still here\n\n"
                    continue
                if item is None:
                    return
                yield f"event: {item[0]}\ndata: {item[1]}\n\n"
        finally:
            self._queues.discard(queue)


def watched_places(state: PreviewState) -> tuple[list[Path], list[Path], set[str]]:
    """Folders watched recursively, folders watched flat, and the file names wanted in the flat ones."""
    deep = [state.issue_path]
    flat: list[Path] = []
    names = {"newsletter.toml", ".env"}
    config = state.snapshot.config or state.last_config
    if config is not None:
        if config.templates.is_dir():
            deep.append(config.templates)
        flat.append(config.root)
        if config.subscribers.parent.is_dir():
            flat.append(config.subscribers.parent)
            names.add(config.subscribers.name)
    deep = [p for p in dict.fromkeys(p.resolve() for p in deep) if p.is_dir()]
    flat = [p for p in dict.fromkeys(p.resolve() for p in flat) if p.is_dir() and p not in deep]
    return deep, flat, names


class _FlatFilter(DefaultFilter):
    def __init__(self, names: set[str]):
        super().__init__()
        self.names = names

    def __call__(self, change: Change, path: str) -> bool:
        return Path(path).name in self.names


async def watch(state: PreviewState, broadcaster: Broadcaster, stop: asyncio.Event) -> None:
    """Rebuild and publish on every relevant change until ``stop`` is set."""
    deep, flat, names = watched_places(state)
    tasks = [asyncio.create_task(_watch_paths(deep, True, DefaultFilter(), state, broadcaster, stop))]
    if flat:
        tasks.append(
            asyncio.create_task(_watch_paths(flat, False, _FlatFilter(names), state, broadcaster, stop))
        )
    config = state.snapshot.config or state.last_config
    if config is not None and config.outbox.is_dir():
        tasks.append(asyncio.create_task(_watch_outbox(config.outbox, broadcaster, stop)))
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _watch_paths(
    paths: list[Path],
    recursive: bool,
    watch_filter: DefaultFilter,
    state: PreviewState,
    broadcaster: Broadcaster,
    stop: asyncio.Event,
) -> None:
    async for _changes in awatch(
        *paths, watch_filter=watch_filter, recursive=recursive, debounce=400, step=40, stop_event=stop
    ):
        snapshot = await anyio.to_thread.run_sync(state.render)
        broadcaster.publish(snapshot.version)
        snapshot = await anyio.to_thread.run_sync(state.check)
        broadcaster.publish(snapshot.version)


async def _watch_outbox(outbox: Path, broadcaster: Broadcaster, stop: asyncio.Event) -> None:
    """New mails in the dev sink's Maildir: tell open outbox pages (nothing to re-render)."""
    count = 0
    async for _changes in awatch(outbox, debounce=400, step=100, stop_event=stop):
        count += 1
        broadcaster.publish(count, event="outbox")
