"""`newsletter serve` as a process: binds 127.0.0.1 by default, answers, refuses without a secret."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(project_env: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    return {**env, **project_env, **extra}


def test_serve_process_answers_on_loopback(project, project_env):
    port = _free_port()
    env = _env(project_env, NEWSLETTER_SECRET="serve-cli-secret-0123456789abcdef")
    proc = subprocess.Popen([sys.executable, "-m", "newsletter", "serve", "--port", str(port)], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/u/not-a-token", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        assert response.status_code == 400 and "ungültig" in response.text
        assert "server" not in response.headers  # no server banner
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").text == "ok"
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/" in out
    assert "not-a-token" not in out + err  # no access log with tokens


NO_SECRET = (
    "error: NEWSLETTER_SECRET is not set: newsletter serve checks unsubscribe links with it; put the key the "
    "mails were sent with in .env (a new one: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
)


def test_serve_refuses_without_secret_for_a_real_relay(project, project_env):
    env = _env(project_env, NEWSLETTER_SMTP_HOST="smtp.example.org", NEWSLETTER_SMTP_PORT="587")
    result = subprocess.run([sys.executable, "-m", "newsletter", "serve", "--port", str(_free_port())], cwd=project,
                            env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == NO_SECRET


def test_serve_without_secret_refuses_even_with_the_dev_sink_relay(project, project_env):
    """Without NEWSLETTER_SECRET, tokens would be checked with the public development key, so anyone
    could unsubscribe anyone: `serve` refuses whatever the relay settings (here: the dev sink)."""
    for extra in ({}, {"NEWSLETTER_SMTP_HOST": "127.0.0.1", "NEWSLETTER_SMTP_PORT": "1025"}):
        env = _env(project_env, **extra)
        result = subprocess.run([sys.executable, "-m", "newsletter", "serve", "--port", str(_free_port())],
                                cwd=project, env=env, capture_output=True, text=True, timeout=30)  # fmt: skip
        assert result.returncode == 2, result.stdout
        assert result.stderr.strip() == NO_SECRET
        assert result.stdout == ""


def test_serve_refuses_to_publish_the_project_folder(project, project_env):
    env = _env(project_env, NEWSLETTER_SECRET="serve-cli-secret-0123456789abcdef")
    result = subprocess.run([sys.executable, "-m", "newsletter", "serve", "--site", "."], cwd=project, env=env,
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("error: --site . holds project files (newsletter.toml")
