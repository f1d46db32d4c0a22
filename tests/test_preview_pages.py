"""Preview pages over plain HTTP (httpx): proof form protection, delivery view, config errors."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import smtp_sink as rig
from preview_rig import PreviewServer, with_members

from newsletter.config import load_config
from newsletter.edges import send_parts
from newsletter.send.run import run_send

smtp_sink = rig.smtp_sink


@pytest.fixture
def sink_env(smtp_sink, project_env: dict[str, str]) -> dict[str, str]:
    return {
        **project_env,
        "NEWSLETTER_SMTP_HOST": smtp_sink.host,
        "NEWSLETTER_SMTP_PORT": str(smtp_sink.port),
        "NEWSLETTER_SMTP_SECURITY": "none",
        "NEWSLETTER_SECRET": "preview-test-secret",  # a sink on a random port is a real relay
    }


@pytest.fixture
def served(project: Path, sink_env: dict[str, str], example_issue: Path) -> Iterator[PreviewServer]:
    with_members(project)
    preview = PreviewServer(project, example_issue, sink_env).start()
    yield preview
    preview.stop()


@pytest.fixture
def client(served: PreviewServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=10) as client:
        yield client


def _token(client: httpx.Client) -> str:
    page = client.get("/edition/poland.de")
    assert page.status_code == 200
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert match
    return match.group(1)


def test_proof_form_refuses_cross_site_posts(client: httpx.Client, served: PreviewServer, smtp_sink) -> None:
    token = _token(client)
    own = served.url
    form = {"csrf": token, "addresses": "kollegin@example.org"}
    refused = [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": f"http://127.0.0.1:{served.port + 1}"},
        {"Referer": "http://evil.example/page"},
        {},  # neither Origin nor Referer
    ]
    for headers in refused:
        answer = client.post("/edition/poland.de/proof", data=form, headers=headers)
        assert answer.status_code == 403, headers
    for bad in ("", "0" * 64, token[:-1] + ("0" if token[-1] != "0" else "1")):
        answer = client.post("/edition/poland.de/proof", data={**form, "csrf": bad}, headers={"Origin": own})
        assert answer.status_code == 403, bad
    other_session = httpx.post(
        f"{own}/edition/poland.de/proof", data=form, headers={"Origin": own}, cookies={"x": "y"}
    )
    assert other_session.status_code == 403  # the token belongs to another session's cookie
    assert smtp_sink.messages == []  # refused before anything was handed to the sender

    answer = client.post("/edition/poland.de/proof", data=form, headers={"Origin": own})
    assert answer.status_code == 303
    assert smtp_sink.wait_for(1)[0].message()["Subject"].startswith("[TEST] ")
    assert "Proof sent to kollegin@example.org" in client.get(answer.headers["location"]).text


def test_proof_with_a_bad_address_says_why(client: httpx.Client, served: PreviewServer, smtp_sink) -> None:
    token = _token(client)
    answer = client.post(
        "/edition/poland.de/proof",
        data={"csrf": token, "addresses": "not-an-address"},
        headers={"Origin": served.url},
        follow_redirects=True,
    )
    assert "not-an-address" in answer.text and 'class="flash error"' in answer.text
    assert smtp_sink.messages == []


def test_delivery_view_shows_ledger_counts_and_failed_replies(
    client: httpx.Client, project: Path, sink_env: dict[str, str], example_issue: Path, smtp_sink
) -> None:
    assert (
        "has not been sent yet" in client.get("/delivery").text
        or "Nothing has been sent" in client.get("/delivery").text
    )
    smtp_sink.script.rcpt = {"jens.bauer@example.org": "550 5.1.1 No such user here"}
    config = load_config(project, sink_env)
    report = run_send(config, example_issue, ["all"], parts=send_parts(config))
    assert report.outcomes.get("bounced") == 1
    page = client.get("/delivery").text
    sent = report.outcomes.get("sent", 0)
    assert re.search(rf'class="n">{sent}</span><span>sent', page)
    assert re.search(r'class="n">1</span><span>bounced', page)
    assert "jens.bauer@example.org" in page and "550" in page and "No such user here" in page


def test_broken_newsletter_toml_shows_its_line(client: httpx.Client, project: Path) -> None:
    toml = project / "newsletter.toml"
    good = toml.read_text(encoding="utf-8")
    toml.write_text(good.replace('default_language = "de"', 'default_language = "de'), encoding="utf-8")
    deadline = time.monotonic() + 3
    while 'id="render-errors"' not in (page := client.get("/").text) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert 'id="render-errors"' in page and "newsletter.toml:" in page
    toml.write_text(good, encoding="utf-8")
    deadline = time.monotonic() + 3
    while 'id="render-errors"' in (page := client.get("/").text) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert 'id="render-errors"' not in page


def test_an_issue_broken_at_start_recovers_when_fixed(
    project: Path, project_env: dict[str, str], example_issue: Path
) -> None:
    issue_md = example_issue / "issue.md"
    good = issue_md.read_text(encoding="utf-8")
    issue_md.write_text(good.replace("date: 2022-03-24", "date: 24.03.2022"), encoding="utf-8")
    preview = PreviewServer(project, example_issue, project_env).start()
    try:
        with httpx.Client(base_url=preview.url, timeout=10) as client:
            page = client.get("/").text
            assert 'id="render-errors"' in page and re.search(r"issue\.md:\d+: ", page)
            assert client.get("/outbox").status_code == 200
            issue_md.write_text(good, encoding="utf-8")
            deadline = time.monotonic() + 3
            while (
                'data-edition="poland.de"' not in (page := client.get("/").text)
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
            assert 'data-edition="poland.de"' in page and 'id="render-errors"' not in page
            assert "0 · no member list" in page
    finally:
        preview.stop()


def test_cli_names_a_missing_issue_in_one_line(
    project: Path, project_env: dict[str, str], monkeypatch
) -> None:
    from click.testing import CliRunner

    from newsletter.cli import main

    monkeypatch.chdir(project)
    for key, value in project_env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, ["preview", "2099-01-nothing", "--port", "0"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "2099-01-nothing: no issue.md here" in lines[0]
