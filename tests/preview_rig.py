"""Test furniture for the preview: a real uvicorn server in a thread, raw HTTP requests.

``PreviewServer(project, issue, env)`` binds 127.0.0.1 on a free port, loads the issue and serves
the app until ``stop()``. ``raw_get`` sends the request line byte for byte (no client-side path
normalisation), so traversal attempts reach the server exactly as written.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: F401 - re-exported: one launcher for every browser test

from newsletter.config import load_config
from newsletter.web.preview.app import bind, create_app, server
from newsletter.web.preview.state import PreviewState
from newsletter.web.safety import allowed_hosts

REPO = Path(__file__).resolve().parent.parent
MEMBERS_CSV = REPO / "subscribers.example.csv"
SCREENSHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"


class PreviewServer:
    def __init__(self, project: Path, issue: Path, env: dict[str, str]):
        self.sock = bind("127.0.0.1", 0)
        self.host, self.port = self.sock.getsockname()[:2]
        self.state = PreviewState(lambda: load_config(project, env), issue)
        self.state.reload()
        self.app = create_app(self.state, allowed_hosts("127.0.0.1", self.port), self.port)
        self.server = server(self.app)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PreviewServer:
        self.thread.start()
        wait_until(lambda: self.server.started, 10, "preview server did not start")
        return self

    def stop(self) -> None:
        self.app.state.preview.end_streams()
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def wait_until(condition: Callable[[], object], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(message)
        time.sleep(0.02)


def make_project(root: Path) -> tuple[Path, Path, dict[str, str]]:
    """Like the conftest fixtures project/project_env/example_issue, for module-scoped servers."""
    from conftest import EXAMPLE_ISSUE

    toml = (REPO / "newsletter.toml").read_text(encoding="utf-8")
    toml = toml.replace("[newsletter]\n", f'[newsletter]\ntemplates = "{REPO / "templates"}"\n', 1)
    (root / "newsletter.toml").write_text(toml, encoding="utf-8")
    issue = root / "issues" / EXAMPLE_ISSUE.name
    shutil.copytree(EXAMPLE_ISSUE, issue)
    env = {
        "NEWSLETTER_DATABASE": f"sqlite:///{root / 'state.db'}",
        "NEWSLETTER_SUBSCRIBERS": str(root / "subscribers.csv"),
        "NEWSLETTER_OUTBOX": str(root / "outbox"),
    }
    return root, issue, env


def with_members(project: Path) -> None:
    """Put the example member list where the test project's config looks for it."""
    shutil.copy(MEMBERS_CSV, project / "subscribers.csv")


def raw_request(port: int, request: bytes, timeout: float = 5.0) -> tuple[int, bytes, bytes]:
    """Send bytes as they are; return (status, header block, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, head, body


def raw_get(port: int, target: str, host: str | None = None) -> tuple[int, bytes, bytes]:
    host = host if host is not None else f"127.0.0.1:{port}"
    request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode("latin-1")
    return raw_request(port, request)
