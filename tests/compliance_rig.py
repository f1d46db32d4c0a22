"""Test furniture for the compliance tests: the public service under uvicorn in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from sqlalchemy import select

from newsletter.store.db import engine_for
from newsletter.store.tables import suppressions


@contextmanager
def serve_app(app) -> Iterator[str]:  # noqa: ANN001
    """Run an ASGI app on a free 127.0.0.1 port; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Accepted sockets inherit TCP_NODELAY; without it every response waits ~40 ms for a delayed ACK
    # (uvicorn writes headers and body separately, and asyncio only sets it for host/port servers).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def suppression_rows(database_url: str) -> list[tuple]:
    """The whole suppressions table, for before/after comparisons."""
    with engine_for(database_url).connect() as conn:
        return [tuple(r) for r in conn.execute(select(suppressions).order_by(suppressions.c.address_hash))]


def wait_until(predicate, timeout: float = 1.0, interval: float = 0.01) -> bool:  # noqa: ANN001
    """Poll ``predicate`` until it is true or ``timeout`` seconds passed (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def approve(config, issue_path, by: str, **kw):  # noqa: ANN001, ANN003, ANN201
    """``newsletter approve`` as the CLI does it: the hashes from ``approval``, stored in the ledger."""
    from newsletter import approval, edges

    result = approval.approve(config, issue_path, by, **kw)
    edges.ledger(config).record_approval(result)
    return result


def latest_approval(config, issue: str = "2022-03-laenderfokus"):  # noqa: ANN001, ANN201
    """The issue's latest approval, as the send path reads it from its Store."""
    from newsletter import edges

    return edges.ledger(config).latest_approval(issue)
