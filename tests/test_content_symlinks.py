"""Issue 10 item 1: symbolic links in an issue folder are refused by every command and page.

The fixture is built in each test from real files and links: an ``images/`` folder holding
``passwd.png -> /etc/passwd``, ``etc -> /etc`` and ``env.png -> <project>/.env``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from conftest import enter_project

from newsletter import paths
from newsletter.cli import main
from newsletter.config import Config
from newsletter.content import issue_images, load_issue

SLUG = "2022-03-laenderfokus"
ENV_SECRET = b"NEWSLETTER_SECRET=never-copy-me-0123456789"
LINKS = ("images/env.png", "images/etc", "images/passwd.png")


def _link_images_to_passwd_etc_and_env(project: Path, issue: Path) -> None:
    (project / ".env").write_bytes(ENV_SECRET + b"\n")
    images = issue / "images"
    (images / "passwd.png").symlink_to("/etc/passwd")
    (images / "etc").symlink_to("/etc", target_is_directory=True)
    (images / "env.png").symlink_to(Path("..", "..", "..", ".env"))  # relative, like `ln -s ../../../.env`
    assert (images / "env.png").read_bytes().startswith(ENV_SECRET)


def _secrets() -> list[bytes]:
    """Bytes that must never appear in a build or archive: the link targets' contents."""
    found = [ENV_SECRET, Path("/etc/passwd").read_bytes()[:200]]
    for name in ("hostname", "hosts", "os-release"):
        file = Path("/etc") / name
        if file.is_file() and file.stat().st_size > 20:
            found.append(file.read_bytes()[:200])
    return found


def _assert_nothing_leaked(folder: Path) -> None:
    secrets = _secrets()
    for path in folder.rglob("*"):
        assert not path.is_symlink(), path
        if path.is_file():
            data = path.read_bytes()
            for secret in secrets:
                assert secret not in data, (path, secret[:40])
    assert not any(p.name in ("passwd.png", "env.png", "etc") for p in folder.rglob("*"))


@pytest.fixture
def cli(project: Path, project_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    enter_project(monkeypatch, project, project_env)
    return CliRunner()


def test_check_names_every_symlink_in_the_issue_folder(
    cli: CliRunner, project: Path, example_issue: Path
) -> None:
    _link_images_to_passwd_etc_and_env(project, example_issue)
    (example_issue / "articles" / "notes").mkdir()
    (example_issue / "articles" / "notes" / "old.de.md").symlink_to(example_issue / "issue.md")
    result = cli.invoke(main, ["check", SLUG])
    assert result.exit_code == 1, result.output
    tail = (
        "is a symbolic link; nothing outside the issue folder is read, copied or published, and a link "
        "is refused even when it points inside: put a copy of the file here instead"
    )
    errors = [line for line in result.stdout.splitlines() if "symbolic link" in line]
    assert errors == [
        f"issues/{SLUG}/articles/notes/old.de.md: {tail}",
        *(f"issues/{SLUG}/{link}: {tail}" for link in LINKS),
    ]
    assert result.stdout.splitlines()[-1].startswith("4 error(s)")


def test_build_copies_nothing_a_link_points_to(cli: CliRunner, project: Path, example_issue: Path) -> None:
    _link_images_to_passwd_etc_and_env(project, example_issue)
    result = cli.invoke(main, ["build", SLUG, "--out", "out"])
    assert result.exit_code == 1
    assert f"issues/{SLUG}/images/passwd.png: is a symbolic link" in result.stderr
    if (project / "out").exists():
        _assert_nothing_leaked(project / "out")


def test_archive_leaves_the_issue_out_and_names_the_link(
    cli: CliRunner, project: Path, example_issue: Path
) -> None:
    _link_images_to_passwd_etc_and_env(project, example_issue)
    result = cli.invoke(main, ["archive"])
    assert result.exit_code == 0, result.output
    assert f"{SLUG} left out: issues/{SLUG}/images/env.png: is a symbolic link" in result.stderr
    _assert_nothing_leaked(project / "site")


def test_a_link_made_after_the_check_is_still_not_copied(
    project: Path, example_issue: Path, config: Config
) -> None:
    """build and archive copy through paths.copy_contained: links appearing after loading are skipped."""
    issue = load_issue(example_issue, config)
    _link_images_to_passwd_etc_and_env(project, example_issue)
    (example_issue / "images" / "sachsen-schlesien.png").rename(example_issue / "images" / "real.png")
    (example_issue / "images" / "sachsen-schlesien.png").symlink_to(project / ".env")
    out = project / "out"
    assert paths.copy_contained(example_issue, [*issue_images(issue), *LINKS], out) == 1  # real.png
    assert sorted(p.name for p in (out / "images").iterdir()) == ["real.png"]
    _assert_nothing_leaked(out)


def test_archive_and_build_still_copy_the_real_images(
    cli: CliRunner, project: Path, example_issue: Path
) -> None:
    (example_issue / "images" / ".env").write_bytes(ENV_SECRET)
    assert cli.invoke(main, ["archive"]).exit_code == 0
    assert cli.invoke(main, ["build", SLUG, "--out", "out"]).exit_code == 0
    for folder in (project / "site" / SLUG, project / "out"):
        assert sorted(p.name for p in (folder / "images").iterdir()) == ["sachsen-schlesien.png"]
        _assert_nothing_leaked(folder)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve(project: Path, project_env: dict[str, str]) -> Iterator[str]:
    """`newsletter serve` as a subprocess on a free loopback port."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env.update(project_env, NEWSLETTER_SECRET="serve-secret-0123456789abcdef0123")
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "serve", "--port", str(port)],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"serve did not start: {proc.communicate()}")
        time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_answers_404_for_links_in_the_archive(
    cli: CliRunner, project: Path, example_issue: Path, serve: str
) -> None:
    """Even a link placed inside site/ after `archive` (by hand, by a sync tool) serves nothing."""
    assert cli.invoke(main, ["archive"]).exit_code == 0
    _link_images_to_passwd_etc_and_env(project, project / "site" / SLUG)
    (project / "site" / "index-link.html").symlink_to(project / "site" / "index.html")
    with httpx.Client(base_url=serve) as client:
        assert client.get(f"/{SLUG}/images/sachsen-schlesien.png").status_code == 200
        for path in (*LINKS, "images/etc/passwd", "images/etc/hostname"):
            response = client.get(f"/{SLUG}/{path}")
            assert response.status_code == 404, path
            assert all(secret not in response.content for secret in _secrets())
        assert client.get("/index-link.html").status_code == 404  # a link is refused even pointing inside


def test_refusal_names_the_reason(tmp_path: Path) -> None:
    root = tmp_path / "issue"
    (root / "images" / "sub").mkdir(parents=True)
    (root / "images" / "a.png").write_bytes(b"png")
    (root / "images" / ".hidden.png").write_bytes(b"png")
    (root / "images" / "in.png").symlink_to(root / "images" / "a.png")
    (root / "linked").symlink_to(root / "images", target_is_directory=True)
    cases = {
        "images/a.png": None,
        "images/sub": paths.NOT_A_FILE,
        "images/in.png": paths.LINK,
        "linked/a.png": paths.LINK,
        "images/.hidden.png": paths.HIDDEN,
        "../issue/images/a.png": paths.OUTSIDE,
        "/etc/passwd": paths.OUTSIDE,
        "images/none.png": paths.MISSING,
        "images/a.png/x": paths.MISSING,
    }
    assert {rel: paths.refusal(root, rel) for rel in cases} == cases
    assert paths.refusal(root, "images/sub", directory=True) is None
    assert list(paths.files(root)) == ["images/a.png"]
    assert [p.name for p in paths.symlinks(root)] == ["in.png", "linked"]
    assert paths.read_contained(root, "images/in.png") is None
    assert paths.read_contained(root, "images/a.png") == b"png"


def test_new_from_an_issue_with_links_copies_no_link_target(
    cli: CliRunner, project: Path, example_issue: Path
) -> None:
    """`new --from` copied what a link pointed to as a plain file, which then passed check."""
    _link_images_to_passwd_etc_and_env(project, example_issue)
    result = cli.invoke(main, ["new", "2027-04-kopie", "--from", SLUG])
    assert result.exit_code == 0, result.output
    copy = project / "issues" / "2027-04-kopie"
    assert [line for line in result.output.splitlines() if "skipped" in line] == [
        f"skipped issues/{SLUG}/{link}: a symbolic link is never copied" for link in LINKS
    ]
    assert sorted(p.name for p in (copy / "images").iterdir()) == ["sachsen-schlesien.png"]
    _assert_nothing_leaked(copy)


def test_a_folder_made_meanwhile_by_another_first_upload_is_used(tmp_path: Path, monkeypatch) -> None:
    real_mkdir = os.mkdir

    def the_other_upload_was_first(path, *args, **kwargs):
        real_mkdir(path, *args, **kwargs)  # the other writer's mkdir, between our open and ours
        real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", the_other_upload_was_first)
    written = paths.write_contained(tmp_path, "images/neu/a.png", b"png")
    assert written.read_bytes() == b"png"


def test_an_exclusive_write_whose_name_appears_meanwhile_is_refused_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch
) -> None:
    (tmp_path / "images").mkdir()
    real_link = os.link

    def the_other_writer_was_first(src, dst, *, src_dir_fd=None, dst_dir_fd=None, follow_symlinks=True):
        os.close(os.open(dst, os.O_WRONLY | os.O_CREAT, dir_fd=dst_dir_fd))
        real_link(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd, follow_symlinks=follow_symlinks)

    monkeypatch.setattr(os, "link", the_other_writer_was_first)
    with pytest.raises(paths.Refused) as refused:
        paths.write_contained(tmp_path, "images/a.png", b"png", exclusive=True)
    assert (refused.value.relative, refused.value.reason) == ("images/a.png", paths.EXISTS)
    assert [p.name for p in (tmp_path / "images").iterdir()] == ["a.png"]
    assert (tmp_path / "images" / "a.png").read_bytes() == b""
