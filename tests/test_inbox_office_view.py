"""Everywhere the office looks (issue 13, point 3): ``status ISSUE`` shows the reports that came back
by mail per segment beside the SMTP-time counts; the preview's delivery view lists them with the
receiving server's words (real Chromium, screenshots at 1400 and 375 px); ``suppressions`` names
the inbox's sources."""

from __future__ import annotations

from pathlib import Path

import pytest
import smtp_sink as rig
from delivery_rig import run_cli
from inbox_rig import deliver, fill, rows, use_bounce_address, values_for
from preview_rig import SCREENSHOTS, PreviewServer, with_members

from newsletter.config import load_config
from newsletter.edges import send_parts
from newsletter.inbox.run import inbox_once
from newsletter.send.run import run_send

playwright_api = pytest.importorskip("playwright.sync_api")
smtp_sink = rig.smtp_sink
SLUG = "2022-03-laenderfokus"
REPORTS = {  # member of subscribers.example.csv → the report about them
    "anna.schmidt@example.com": "dsn-postfix-hard-5.1.1.eml",
    "jens.bauer@example.org": "dsn-outlook-blocked-5.7.1.eml",
    "katrin.wolf@example.net": "arf-abuse-original-rcpt-to.eml",
    "thomas.mueller@example.com": "dsn-gmail-soft-4.2.2-over-quota.eml",
}


@pytest.fixture
def reported(project: Path, project_env: dict[str, str], example_issue: Path, smtp_sink) -> dict[str, str]:
    """The example issue sent to the example members with VERP, then four reports read by the inbox."""
    use_bounce_address(project, verp=True)
    with_members(project)
    env = {
        **project_env,
        "NEWSLETTER_SMTP_HOST": smtp_sink.host,
        "NEWSLETTER_SMTP_PORT": str(smtp_sink.port),
        "NEWSLETTER_SMTP_SECURITY": "none",
        "NEWSLETTER_SECRET": "office-view-test-secret",
        "NEWSLETTER_INBOX": str(project / "bounces"),
    }
    config = load_config(project, env)
    assert run_send(config, example_issue, ["all"], parts=send_parts(config)).exit_code == 0
    by_address = rows(config, SLUG)
    for address, name in REPORTS.items():
        deliver(project / "bounces", fill(name, values_for(config, by_address[address])))
    inbox_once(config, echo=lambda _line: None)
    return env


def test_status_shows_reports_by_mail_per_segment(project: Path, reported: dict[str, str]) -> None:
    result = run_cli(["status", SLUG], reported, project)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("reported later by mail (newsletter inbox):")
    assert lines[start + 1 :] == [
        "                     hard       soft    blocked  complaint    delayed",
        "general                 0          1          0          0          0",
        "poland                  1          0          0          1          0",
        "usa                     0          0          1          1          0",
        "overall                 1          1          1          1          0",
    ]
    listed = run_cli(["status", SLUG, "--failed"], reported, project).stdout
    assert (
        "reported blocked\tjens.bauer@example.org\t5.7.1 550 5.7.1 Service unavailable, Client host [203.0.113.9] "
        "blocked using Spamhaus." in listed
    )


def test_suppressions_name_the_inbox_sources(project: Path, reported: dict[str, str]) -> None:
    result = run_cli(["suppressions", "--csv"], reported, project)
    assert result.returncode == 0, result.stderr
    body = result.stdout
    assert "anna.schmidt@example.com,bounced," in body and ",dsn 2026-03-02 5.1.1" in body
    assert "katrin.wolf@example.net,complained," in body and ",arf 2026-03-05" in body
    assert "jens.bauer" not in body and "thomas.mueller" not in body  # a block and one soft bounce: nobody


@pytest.mark.browser
@pytest.mark.parametrize("width", [1400, 375])
def test_delivery_view_lists_reports_with_the_server_s_words(
    browser, project: Path, example_issue: Path, reported: dict[str, str], width: int
) -> None:
    preview = PreviewServer(project, example_issue, reported).start()
    try:
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        page.set_default_timeout(5000)
        page.goto(f"{preview.url}/delivery")
        table = page.locator("#reported")
        cells = [
            [c.strip() for c in row.locator("td").all_inner_texts()]
            for row in table.locator("tbody tr").all()
        ]
        by_address = {row[0]: row for row in cells}
        assert set(by_address) == set(REPORTS)
        assert by_address["anna.schmidt@example.com"][1] == "hard bounce 5.1.1"
        assert by_address["anna.schmidt@example.com"][2].startswith(
            "550 5.1.1 <anna.schmidt@example.com>: Recipient address rejected"
        )
        assert by_address["jens.bauer@example.org"][1] == "blocked 5.7.1"
        assert by_address["katrin.wolf@example.net"][1] == "complaint"
        assert by_address["thomas.mueller@example.com"][3] == "counted (soft bounce 1 of 3)"
        counts = page.locator("#reported-counts").inner_text()
        assert "1\nhard bounce" in counts and "1\ncomplaint" in counts
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"delivery-reported-{width}px.png"), full_page=True)
        context.close()
    finally:
        preview.stop()
