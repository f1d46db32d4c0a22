"""The embedded dev sink: Maildir outbox, read_outbox, the dev-smtp command."""

from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from newsletter.config import Config
from newsletter.mail.compose import MessageTemplate
from newsletter.model import Edition, Member, RefusedError
from newsletter.smtp.devsink import read_outbox, start_dev_sink

EDITION = Edition(
    "2022-03",
    frozenset({"poland"}),
    "de",
    "Grüße aus Chemnitz",
    "",
    "<p>[[nl:salutation]]</p>",
    "[[nl:salutation]]\n",
    (),
)


def _plain(n: int) -> bytes:
    return f"From: a@example.org\r\nTo: b{n}@example.org\r\nSubject: plain {n}\r\n\r\nbody {n}\r\n".encode()


def test_stores_in_maildir_and_reads_newest_first(config: Config) -> None:
    composed = MessageTemplate.for_edition(EDITION, config).personalise(
        Member("anna@example.org", 2, "de", frozenset({"poland"}), "Anna", "Muster", "Frau")
    )
    with start_dev_sink(config, port=0) as sink, smtplib.SMTP(sink.host, sink.port, timeout=5) as conn:
        conn.sendmail("a@example.org", ["b0@example.org", "c@example.org"], _plain(0))
        time.sleep(0.02)  # distinct modification times order the outbox
        conn.sendmail(composed.envelope_from, [composed.recipient], composed.data)
    assert sorted(os.listdir(config.outbox)) == ["cur", "new", "tmp"]
    newest, oldest = read_outbox(config.outbox)
    assert newest.subject == "Grüße aus Chemnitz" and newest.recipients == ("anna@example.org",)
    assert newest.envelope_from == config.sender_address and newest.text.startswith(
        "Sehr geehrte Frau Muster,"
    )
    assert "<p>Sehr geehrte Frau Muster,</p>" in newest.html and newest.raw.endswith(composed.data)
    assert oldest.recipients == ("b0@example.org", "c@example.org") and oldest.text == "body 0\n"
    assert newest.received_at >= oldest.received_at and newest.received_at.tzinfo is not None
    assert ("Subject", "plain 0") in oldest.headers and oldest.id == oldest.key
    assert [m.key for m in read_outbox(config.outbox, limit=1)] == [newest.key]
    assert read_outbox(config.outbox.parent / "missing") == []


def test_a_bounce_with_the_null_sender_is_stored_with_an_empty_return_path(config: Config) -> None:
    with start_dev_sink(config, port=0) as sink, smtplib.SMTP(sink.host, sink.port, timeout=5) as conn:
        conn.sendmail("<>", ["bounces+t1@amz.example"], _plain(1))
    (stored,) = read_outbox(config.outbox)
    assert stored.raw.startswith(b"Return-Path: <>\r\nX-Original-To: bounces+t1@amz.example\r\n")
    assert stored.envelope_from == "" and stored.recipients == ("bounces+t1@amz.example",)


def test_concurrent_reader_sees_only_whole_messages(config: Config) -> None:
    with start_dev_sink(config, port=0) as sink:

        def send() -> None:
            with smtplib.SMTP(sink.host, sink.port, timeout=5) as conn:
                for n in range(60):
                    conn.sendmail(
                        "a@example.org", [f"b{n}@example.org"], _plain(n) + (b"x" * 70 + b"\r\n") * 300
                    )

        sender = threading.Thread(target=send)
        sender.start()
        reads = 0
        while sender.is_alive():
            messages = read_outbox(config.outbox)
            assert all(m.subject.startswith("plain ") and m.raw.endswith(b"x\r\n") for m in messages)
            reads += 1
        sender.join()
    assert len(read_outbox(config.outbox)) == 60


def test_port_in_use_is_refused_with_a_hint(config: Config) -> None:
    with start_dev_sink(config, port=0) as sink, pytest.raises(RefusedError, match="another dev-smtp"):
        start_dev_sink(config, port=sink.port)


def test_dev_smtp_command_runs_until_sigterm(project: Path, project_env: dict[str, str]) -> None:
    env = {**os.environ, **project_env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "dev-smtp", "--port", "0"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+)", first).group(1))
        assert str(project / "outbox") in proc.stdout.readline()
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as conn:
            conn.sendmail("a@example.org", ["b@example.org"], _plain(1))
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopped (1 message(s) stored this run)" in out
    assert [m.subject for m in read_outbox(project / "outbox")] == ["plain 1"]
