"""The preview under abuse (FAULT-PLAN row 22): traversal, dotfiles, symlinks, DNS rebinding,
the listening address. Raw sockets, so no client normalises the paths first."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from preview_rig import PreviewServer, make_project, raw_get, raw_request, wait_until

SECRET = "TOP-SECRET-do-not-serve"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PreviewServer]:
    project, example_issue, project_env = make_project(tmp_path_factory.mktemp("preview-safety"))
    (project / ".env").write_text(f"NEWSLETTER_SECRET={SECRET}\n")
    (example_issue / ".env").write_text(f"NEWSLETTER_SECRET={SECRET}\n")
    (project / "outside.png").write_text(SECRET)
    preview = PreviewServer(project, example_issue, project_env).start()
    # Links made while the preview runs: the issue now fails its check (a link is an error), the
    # last good editions stay visible, and the links serve nothing.
    (example_issue / "images" / "link.png").symlink_to(project / "outside.png")
    (example_issue / "images" / "linkdir").symlink_to(project)
    yield preview
    preview.stop()


TRAVERSALS = [
    "/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
    "/..%2f..%2f..%2fetc/passwd",
    "/issue/..%2f..%2f..%2f..%2f..%2fetc/passwd",
    "/issue/%2e%2e%2f%2e%2e%2f.env",
    "/issue/..%2f..%2f.env",
    "/issue/../../.env",
    "/issue/images/../../.env",
    "/issue/images/..%5c..%5c.env",
    "/issue/%2fetc%2fpasswd",
    "/issue//etc/passwd",
    "/issue/%252e%252e/%252e%252e/.env",
    "/issue/images/%00.png",
    "/static/..%2f..%2f..%2fconfig.py",
    "/static/%2e%2e/preview.py",
    "//etc/passwd",
    "/etc/passwd",
    "/.env",
    "/issue/.env",
    "/issue/%2eenv",
    "/issue/images/link.png",  # symlink to a file outside the issue
    "/issue/images/linkdir/outside.png",  # symlinked folder pointing outside
    "/issue/images/linkdir/.env",
    "/issue/issue.md",  # inside, but not an image: not served
    "/issue/articles/netzwerk.de.md",
]


def test_traversal_and_dotfiles_get_nothing(served: PreviewServer) -> None:
    passwd = Path("/etc/passwd").read_bytes()[:40]
    for target in TRAVERSALS:
        status, _head, body = raw_get(served.port, target)
        assert status in (403, 404), (target, status)
        assert SECRET.encode() not in body, target
        assert passwd not in body and b"root:" not in body, target
        assert b"NEWSLETTER" not in body and b"articles:" not in body, target


def test_images_inside_the_issue_are_served(served: PreviewServer) -> None:
    status, head, body = raw_get(served.port, "/issue/images/sachsen-schlesien.png")
    assert status == 200 and body.startswith(b"\x89PNG")
    assert b"content-type: image/png" in head.lower()
    assert b"nosniff" in head.lower()


FOREIGN_HOSTS = [
    "evil.example",
    "evil.example:{port}",
    "127.0.0.1:1",
    "localhost.evil.example:{port}",
    "127.0.0.1",
    "",
]


def test_foreign_host_is_refused(served: PreviewServer) -> None:
    for host in FOREIGN_HOSTS:
        for target in ("/", "/edition/poland.de", "/issue/images/sachsen-schlesien.png", "/events"):
            status, _head, body = raw_get(served.port, target, host=host.format(port=served.port))
            assert status == 403, (host, target)
            assert b"AMZ" not in body and b"PNG" not in body


def test_request_without_host_is_refused(served: PreviewServer) -> None:
    status, _head, _body = raw_request(served.port, b"GET / HTTP/1.0\r\n\r\n")
    assert status == 403


def test_own_host_names_are_answered_with_csp(served: PreviewServer) -> None:
    for host in (f"127.0.0.1:{served.port}", f"localhost:{served.port}"):
        status, head, body = raw_get(served.port, "/", host=host)
        assert status == 200 and b"Editions" in body
        csp = re.search(rb"content-security-policy: ([^\r\n]+)", head, re.IGNORECASE)
        assert csp and b"script-src 'self'" in csp.group(1) and b"frame-ancestors 'none'" in csp.group(1)


def test_mail_frame_is_sandboxed_without_scripts(served: PreviewServer) -> None:
    status, head, body = raw_get(served.port, "/edition/poland.de/frame?member=0")
    assert status == 200 and b"<html" in body.lower()
    csp = re.search(rb"content-security-policy: ([^\r\n]+)", head, re.IGNORECASE)
    assert csp is not None
    assert b"script-src 'none'" in csp.group(1) and b"sandbox" in csp.group(1)
    assert b"allow-scripts" not in csp.group(1)


def test_listener_is_loopback_only(served: PreviewServer) -> None:
    sockets = [s for srv in served.server.servers for s in srv.sockets]
    assert sockets and all(s.getsockname()[0] == "127.0.0.1" for s in sockets)


def test_cli_binds_127_0_0_1_by_default(
    project: Path, project_env: dict[str, str], example_issue: Path
) -> None:
    env = {**os.environ, **project_env, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "preview", str(example_issue), "--port", "0"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://localhost:(\d+)/", line)
        assert match, line
        port = int(match.group(1))
        wait_until(lambda: raw_get(port, "/")[0] == 200, 10, "CLI preview did not answer")
        listening = _listening_addresses(port)
        assert listening == {"127.0.0.1"}, listening
        assert raw_get(port, "/", host="evil.example")[0] == 403
    finally:
        proc.terminate()
        proc.wait(10)


def _listening_addresses(port: int) -> set[str]:
    """Local addresses listening on ``port`` according to /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:
                found.add(_address(address))
    return found


def _address(hex_address: str) -> str:
    if len(hex_address) == 8:
        return ".".join(str(b) for b in reversed(bytes.fromhex(hex_address)))
    return hex_address


def test_file_lookup_refuses_escapes_even_without_the_middleware(tmp_path: Path) -> None:
    from newsletter import paths

    root = tmp_path / "issue"
    (root / "images").mkdir(parents=True)
    (root / "images" / "ok.png").write_bytes(b"png")
    (root / "images" / ".hidden.png").write_bytes(b"png")
    (tmp_path / "secret.png").write_text(SECRET)
    (root / "images" / "out.png").symlink_to(tmp_path / "secret.png")
    (root / "images" / "in.png").symlink_to(root / "images" / "ok.png")
    assert paths.contained(root, "images/ok.png") == (root / "images" / "ok.png").resolve()
    for bad in (
        "images/in.png",  # a link is refused even when it points inside (issue 10 item 1)
        "../secret.png",
        "images/../../secret.png",
        "/etc/passwd",
        "images/out.png",
        "images/.hidden.png",
        "%2e%2e/secret.png",
        "..\\secret.png",
        "images/ok.png\x00",
        "",
        "images",
        "./images/ok.png",
    ):
        assert paths.contained(root, bad) is None, bad


def test_allowed_host_names_follow_the_bound_address() -> None:
    from newsletter.web.safety import allowed_hosts

    local = allowed_hosts("127.0.0.1", 8000)
    assert {"127.0.0.1:8000", "localhost:8000", "[::1]:8000"} <= local
    assert not {"evil.example:8000", "127.0.0.1:8001", "127.0.0.1", "localhost"} & local
    assert allowed_hosts("192.168.1.5", 8080) == {"192.168.1.5:8080"}
    assert "[::1]:9000" in allowed_hosts("::1", 9000)
