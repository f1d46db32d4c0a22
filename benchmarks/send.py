"""Send benchmark: the whole pipeline (ledger included) vs a bare raw-socket SMTP client vs the naive way.

    .venv/bin/python benchmarks/send.py [--members 20000] [--naive 300] [--runs 3] [--profile FILE]

Uses Postfix's C ``smtp-sink`` on 127.0.0.1 when installed (``/usr/sbin/smtp-sink``), else the
aiosmtpd sink of the tests in a separate process. Prints messages/s for:
  pipeline  run_send(): pre-flight, CSV, render once per edition, freeze the audience in SQLite,
            personalise per member, N connections, one ledger commit per message
  bare      one raw socket, pipelined MAIL/RCPT/DATA, the same message bytes prepared in advance
  naive     stdlib EmailMessage per member + a new smtplib connection per message
``--runs N`` repeats pipeline and bare (each run in a fresh ledger) and prints every ratio;
``--profile FILE`` runs the pipeline of the last run under cProfile and prints the top functions.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import csv
import os
import pstats
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from newsletter.config import load_config  # noqa: E402
from newsletter.edges import send_parts  # noqa: E402
from newsletter.model import EditionKey  # noqa: E402
from newsletter.send.run import run_send  # noqa: E402
from newsletter.smtp.transaction import dot_stuff  # noqa: E402

SMTP_SINK = "/usr/sbin/smtp-sink"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sink(port: int) -> tuple[subprocess.Popen, str]:
    if os.path.exists(SMTP_SINK):
        user = ["-u", "nobody"] if os.getuid() == 0 else []  # it refuses to run as root without -u
        cmd = [SMTP_SINK, *user, f"127.0.0.1:{port}", "1000"]
        name = "Postfix smtp-sink"
    else:
        code = (
            f"import sys, time; sys.path.insert(0, {str(REPO / 'tests')!r}); from smtp_sink import SmtpSink; "
            f"SmtpSink(keep_data=False, port={port}).start(); time.sleep(1e9)"
        )
        cmd = [sys.executable, "-c", code]
        name = "aiosmtpd sink (separate process)"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, name
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the sink did not start")


def make_project(folder: Path, members: int, port: int) -> dict[str, str]:
    toml = (REPO / "newsletter.toml").read_text(encoding="utf-8")
    toml = toml.replace("[newsletter]\n", f'[newsletter]\ntemplates = "{REPO / "templates"}"\n', 1)
    (folder / "newsletter.toml").write_text(toml, encoding="utf-8")
    shutil.copytree(REPO / "issues" / "2022-03-laenderfokus", folder / "issues" / "2022-03-laenderfokus")
    with (folder / "subscribers.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "first_name", "last_name", "salutation", "company", "language", "segments"])
        for i in range(members):
            seg = ("poland", "usa", "poland|usa", "")[i % 4]
            w.writerow(
                [
                    f"member{i}@example.org",
                    f"Vorname{i}",
                    f"Name{i}",
                    ("Frau", "Herr", "")[i % 3],
                    f"Zulieferer {i} GmbH",
                    ("de", "en", "pl")[i % 3],
                    seg,
                ]
            )
    return {
        "NEWSLETTER_SMTP_HOST": "127.0.0.1",
        "NEWSLETTER_SMTP_PORT": str(port),
        "NEWSLETTER_SMTP_SECURITY": "none",
        "NEWSLETTER_DATABASE": f"sqlite:///{folder / 'state.db'}",
        "NEWSLETTER_SUBSCRIBERS": str(folder / "subscribers.csv"),
        "NEWSLETTER_SECRET": "benchmark-secret-0123456789abcdef",
        "NEWSLETTER_PUBLIC_URL": "https://news.example.org",
        "NEWSLETTER_OUTBOX": str(folder / "outbox"),
    }


def prepared_messages(config, issue: Path) -> list[tuple[str, str, bytes]]:
    """The pipeline's own message bytes for every member (what the bare client sends)."""
    from newsletter.audience import read_members
    from newsletter.content import load_issue
    from newsletter.mail.compose import MessageTemplate
    from newsletter.render.renderer import Renderer

    members = read_members(config.subscribers, config).members
    issue_obj = load_issue(issue, config)
    renderer = Renderer(config)
    templates = {}
    out = []
    for m in members:
        key = EditionKey.of(m)
        if key not in templates:
            templates[key] = MessageTemplate.for_edition(
                renderer.render(issue_obj, key.segments, key.language), config
            )
        message = templates[key].personalise(m)
        out.append((message.envelope_from, message.recipient, dot_stuff(message.data)))
    return out


def bare_client(port: int, messages: list[tuple[str, str, bytes]]) -> float:
    sock = socket.create_connection(("127.0.0.1", port))
    reader = sock.makefile("rb")

    def reply() -> int:
        while True:
            line = reader.readline()
            if line[3:4] != b"-":
                return int(line[:3])

    reply()
    sock.sendall(b"EHLO bench.example.org\r\n")
    reply()
    started = time.perf_counter()
    for sender, rcpt, payload in messages:
        sock.sendall(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode())
        codes = (reply(), reply(), reply())
        assert codes == (250, 250, 354), codes
        sock.sendall(payload)
        assert reply() == 250
    elapsed = time.perf_counter() - started
    sock.sendall(b"QUIT\r\n")
    sock.close()
    return len(messages) / elapsed


def naive(port: int, config, issue: Path, count: int) -> float:
    from newsletter.audience import read_members
    from newsletter.content import load_issue
    from newsletter.render.renderer import Renderer

    members = read_members(config.subscribers, config).members[:count]
    edition = Renderer(config).render(load_issue(issue, config), frozenset({"poland"}), "de")
    started = time.perf_counter()
    for m in members:
        msg = EmailMessage()
        msg["From"] = f"{config.sender_name} <{config.sender_address}>"
        msg["To"] = m.address
        msg["Subject"] = edition.subject
        msg.set_content(edition.text.replace("[[nl:first_name]]", m.first_name))
        msg.add_alternative(edition.html.replace("[[nl:first_name]]", m.first_name), subtype="html")
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.send_message(msg)
    return len(members) / (time.perf_counter() - started)


def one_run(port: int, members: int, profile: Path | None) -> tuple[float, float, float]:
    """One run in a fresh project: bare, pipeline, bare again; (pipeline, bare, end to end) msg/s."""
    folder = Path(tempfile.mkdtemp(prefix="bench-send-"))
    try:
        env = make_project(folder, members, port)
        config = load_config(folder, env)
        issue = folder / "issues" / "2022-03-laenderfokus"
        messages = prepared_messages(config, issue)
        bare_before = bare_client(port, messages)  # sampled before and after the pipeline: the box is shared
        profiler = cProfile.Profile() if profile else None
        started, cpu = time.perf_counter(), time.process_time()
        with profiler or contextlib.nullcontext():
            report = run_send(config, issue, ["all"], parts=send_parts(config))
        total, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert report.sent == members, report
        bare_after = bare_client(port, messages)
        if profiler is not None and profile is not None:
            profiler.dump_stats(profile)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        pipeline, bare = report.sent / report.elapsed, max(bare_before, bare_after)  # the better bare run
        size = sum(len(m[2]) for m in messages) / len(messages)
        print(
            f"pipeline  {pipeline:8.0f} msg/s  send loop ({report.sent} in {report.elapsed:.1f} s); "
            f"{report.sent / total:.0f} msg/s end to end incl. pre-flight, CSV, render, freeze ({total:.1f} s)"
        )
        print(
            f"bare      {bare:8.0f} msg/s  one raw socket, pipelined, same bytes (avg {size / 1024:.0f} KiB; "
            f"before/after the pipeline: {bare_before:.0f}/{bare_after:.0f})"
        )
        print(f"pipeline / bare  = {pipeline / bare:.0%}   (goal ≥ 50%)")
        print(
            f"pipeline CPU     = {cpu / report.sent * 1e6:.0f} µs per message, end to end (less load-dependent)"
        )
        return pipeline, bare, report.sent / total
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=20000)
    parser.add_argument("--naive", type=int, default=300)
    parser.add_argument(
        "--runs", type=int, default=1, help="repeat pipeline and bare, each in a fresh ledger"
    )
    parser.add_argument(
        "--profile", type=Path, metavar="FILE", help="cProfile the pipeline (last run) into FILE (pstats)"
    )
    args = parser.parse_args()
    port = free_port()
    proc, sink_name = start_sink(port)
    try:
        print(f"sink: {sink_name} on 127.0.0.1:{port}; {args.members} members; {os.cpu_count()} CPUs")
        ratios = []
        for run in range(1, args.runs + 1):
            if args.runs > 1:
                print(f"run {run}/{args.runs}")
            pipeline, bare, _ = one_run(port, args.members, args.profile if run == args.runs else None)
            ratios.append(pipeline / bare)
        if args.runs > 1:
            print(
                "pipeline / bare per run: "
                + ", ".join(f"{r:.0%}" for r in ratios)
                + f"; lowest {min(ratios):.0%}"
            )
        folder = Path(tempfile.mkdtemp(prefix="bench-naive-"))
        try:
            config = load_config(folder, make_project(folder, args.naive, port))
            slow = naive(port, config, folder / "issues" / "2022-03-laenderfokus", args.naive)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print(
            f"naive     {slow:8.0f} msg/s  EmailMessage + new connection per message ({args.naive} messages)"
        )
        print(f"pipeline / naive = {pipeline / slow:.1f}×   (goal ≥ 10×)")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    # A benchmark stopped with kill (or by a CI timeout) still stops its smtp-sink (the finally above).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
