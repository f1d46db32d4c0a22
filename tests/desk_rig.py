"""Test furniture for the desk: a real uvicorn server in a thread, on a project in a temp folder.

``DeskServer(project, env, loopback=...)`` binds 127.0.0.1 on a free port and serves the desk
until ``stop()``. ``loopback=False`` makes it behave as with ``--host`` (sign-in always needed)
while still listening only on this computer. The clock is a ``FakeClock`` the test moves; the
password hasher uses small argon2id parameters so signing in costs milliseconds.
"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
from argon2 import PasswordHasher
from preview_rig import wait_until

from newsletter.clock import FakeClock
from newsletter.config import load_config
from newsletter.store.db import engine_for
from newsletter.store.users import Users
from newsletter.web.desk.app import create_desk_app
from newsletter.web.preview.app import bind, server
from newsletter.web.safety import allowed_hosts

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORDS = {
    "Anna Schmidt": "anna-geheim-2026",
    "Bernd Müller": "bernd-geheim-2026",
    "Clara Nowak": "clara-haslo-2026",
}


def people(env: dict[str, str], *roles: tuple[str, str]) -> Users:
    users = Users(engine_for(env["NEWSLETTER_DATABASE"]), FAST)
    for name, role in roles:
        users.add(name, role, PASSWORDS[name])
    return users


class DeskServer:
    def __init__(
        self, project: Path, env: dict[str, str], *, loopback: bool = True, extra_issue: Path | None = None
    ):
        self.sock = bind("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.clock = FakeClock()
        self.users = Users(engine_for(env["NEWSLETTER_DATABASE"]), FAST)
        self.app = create_desk_app(lambda: load_config(project, env), allowed_hosts("127.0.0.1", self.port),
                                   self.port, loopback=loopback, users=self.users, clock=self.clock,
                                   extra_issue=extra_issue)  # fmt: skip
        self.desk = self.app.state.desk
        self.server = server(self.app)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DeskServer:
        self.thread.start()
        wait_until(lambda: self.server.started, 10, "desk server did not start")
        return self

    def stop(self) -> None:
        self.desk.end_streams()
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()

    def client(self) -> httpx.Client:
        """A browser-like client: keeps cookies, sends our Origin on every request, no redirects."""
        return httpx.Client(
            base_url=self.url, headers={"Origin": self.url}, follow_redirects=False, timeout=30
        )


def form_token(html: str) -> str:
    import re

    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no form token on the page"
    return match.group(1)


def sign_in(client: httpx.Client, name: str, password: str | None = None) -> httpx.Response:
    token = form_token(client.get("/signin").text)
    return client.post(
        "/signin", data={"csrf": token, "name": name, "password": password or PASSWORDS[name], "next": "/"}
    )
