"""A running ``newsletter scheduler`` reads NEWSLETTER_INBOX every [inbox] inbox_minutes, in its own
job pool, logged; a failing mailbox is logged and tried again at the next interval."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from delivery_rig import SLUG, config_for, copy_issue, sink_env, write_members
from inbox_rig import deliver, fill, rows, use_bounce_address, values_for
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)

from newsletter.edges import send_parts, suppressions
from newsletter.schedule.service import SchedulerService
from newsletter.send.run import run_send

HARD = "dsn-postfix-hard-5.1.1.eml"


def _wait(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@contextmanager
def _running(config) -> Iterator[SchedulerService]:
    service = SchedulerService(config, poll=0.2)
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        service.stop()
        thread.join(20)
        assert not thread.is_alive()


def _project(project, project_env, smtp_sink_factory, inbox: str):
    toml = project / "newsletter.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "\n[inbox]\ninbox_minutes = 0.01\n", encoding="utf-8")
    use_bounce_address(project, verp=True)
    write_members(project, 3)
    sink = smtp_sink_factory(keep_data=False)
    config = config_for(project, {**sink_env(project_env, sink), "NEWSLETTER_INBOX": inbox})
    assert run_send(config, copy_issue(project), ["all"], parts=send_parts(config)).exit_code == 0
    return config, rows(config, SLUG)


def test_the_scheduler_reads_the_inbox_every_interval(
    project, project_env, smtp_sink_factory, caplog
) -> None:
    maildir = project / "bounces"
    config, by_address = _project(project, project_env, smtp_sink_factory, str(maildir))
    deliver(maildir, fill(HARD, values_for(config, by_address["m0@example.org"])))
    caplog.set_level(logging.INFO, logger="newsletter.scheduler")
    with _running(config):
        _wait(lambda: suppressions(config).contains("m0@example.org"), "the first read")
        second = fill(HARD, values_for(config, by_address["m1@example.org"])).replace(
            b"4Q1x2y3z4@", b"second@"
        )
        deliver(maildir, second)  # arrives later: the next interval reads it
        _wait(lambda: suppressions(config).contains("m1@example.org"), "a later read")
    logged = [r.getMessage() for r in caplog.records if r.name == "newsletter.scheduler"]
    assert f"inbox: reading {maildir} every 0.01 minute(s)" in logged
    assert any(m.startswith("inbox: hard bounce\tm1@example.org\t5.1.1\t") for m in logged)
    assert any(m.startswith(f"inbox {maildir}: 1 mail(s) read, 1 processed") for m in logged)


def test_a_failing_mailbox_is_logged_and_tried_again(project, project_env, smtp_sink_factory, caplog) -> None:
    maildir = project / "bounces"
    maildir.mkdir()  # not a Maildir yet: every read fails
    config, by_address = _project(project, project_env, smtp_sink_factory, str(maildir))
    caplog.set_level(logging.INFO, logger="newsletter.scheduler")
    failed = f"inbox: NEWSLETTER_INBOX {maildir}: not a Maildir (no folder new/; symbolic links are not followed); trying again in 0.01 minute(s)"

    def failures() -> int:
        return sum(1 for r in caplog.records if r.getMessage() == failed and r.levelno == logging.ERROR)

    with _running(config):
        _wait(lambda: failures() >= 2, "two failed reads")
        deliver(maildir, fill(HARD, values_for(config, by_address["m2@example.org"])))  # now it is one
        _wait(lambda: suppressions(config).contains("m2@example.org"), "the read after the failures")
