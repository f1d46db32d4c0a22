"""Issue 10, item 20 (part): a failure line names the relay's code once.

Before: ``failed: x@y: 421 421 4.3.2 …`` — the code was printed, then the stored reply that
already starts with it. The send summary, ``status --failed`` and the preview's delivery page all
read the ledger through ``FailedRow.reply_text``.
"""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from delivery_rig import SLUG, assert_accounting, config_for, copy_issue, run_cli, sink_env, write_members
from preview_rig import PreviewServer, with_members
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)

from newsletter.config import load_config
from newsletter.edges import send_parts
from newsletter.send.report import FailedRow
from newsletter.send.run import run_send


@pytest.fixture
def issue(project):
    return copy_issue(project)


def test_send_summary_and_status_failed_name_the_code_once(project, project_env, issue, smtp_sink_factory):
    addresses = write_members(project, 10)
    gone, disabled = addresses[3], addresses[6]
    sink = smtp_sink_factory(
        rcpt={gone: "550 5.1.1 No such user", disabled: "550 5.2.1 Mailbox disabled"}, keep_data=False
    )
    env = sink_env(project_env, sink)
    result = run_cli(["send", SLUG, "--to", "all", "--yes"], env, project)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert f"bounced: {gone}: 550 5.1.1 No such user (at rcpt)" in lines
    assert f"failed: {disabled}: 550 5.2.1 Mailbox disabled (at rcpt)" in lines
    status = run_cli(["status", SLUG, "--failed"], env, project)
    assert f"bounced\t{gone}\t1 attempt(s)\t550 5.1.1 No such user (at rcpt)" in status.stdout.splitlines()
    assert (
        f"failed\t{disabled}\t1 attempt(s)\t550 5.2.1 Mailbox disabled (at rcpt)"
        in status.stdout.splitlines()
    )
    assert "550 550" not in result.stderr + status.stdout
    assert_accounting(sink.received_by_address(), config_for(project, env))


@pytest.mark.parametrize(
    ("code", "reply", "text"),
    [
        (421, "421 4.3.2 Service not available (at mail)", "421 4.3.2 Service not available (at mail)"),
        (550, "5.1.1 No such user", "550 5.1.1 No such user"),  # a reply stored without its code
        (
            None,
            "connection lost after the final dot: timed out",
            "connection lost after the final dot: timed out",
        ),
        (554, None, "554"),
    ],
)
def test_reply_text_has_the_code_once(code, reply, text):
    row = FailedRow("a@example.org", "failed", "poland.de", 1, code, reply, datetime.now(UTC))
    assert row.reply_text == text


def test_the_preview_delivery_page_names_the_code_once(
    project, project_env, example_issue, smtp_sink_factory
):
    sink = smtp_sink_factory(rcpt={"jens.bauer@example.org": "550 5.1.1 No such user here"})
    env = {
        **project_env,
        "NEWSLETTER_SMTP_HOST": sink.host,
        "NEWSLETTER_SMTP_PORT": str(sink.port),
        "NEWSLETTER_SMTP_SECURITY": "none",
        "NEWSLETTER_SECRET": "preview-test-secret",
    }
    with_members(project)
    config = load_config(project, env)
    report = run_send(config, example_issue, ["all"], parts=send_parts(config))
    assert report.outcomes.get("bounced") == 1
    preview = PreviewServer(project, example_issue, env).start()
    try:
        page = httpx.get(f"{preview.url}/delivery", timeout=10).text
    finally:
        preview.stop()
    assert "550 5.1.1 No such user here (at rcpt)" in page and "550 550" not in page
