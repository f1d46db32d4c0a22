"""Inbox benchmark: ``newsletter inbox --once`` over a Maildir of 10,000 mails, a whole process against a
real SQLite ledger.

    .venv/bin/python benchmarks/inbox.py [--messages 10000] [--keep]
    BENCH_PROFILE="-m cProfile -o /tmp/inbox.prof" .venv/bin/python benchmarks/inbox.py   # profile the first run

Set-up (not timed): a project with the example issue and ``verp = true``; a real ``newsletter send`` to
one member per mail into Postfix's ``smtp-sink`` (the aiosmtpd sink without it), so the ledger holds
real rows, Message-IDs and VERP addresses; then the Maildir, filled from tests/fixtures/inbox/ with
those rows' values in a realistic mix: mostly hard bounces in the shapes of Postfix, Exim and Exchange,
some soft bounces, delays, blocks, plain-text notices, complaints and mailto: unsubscribes, and
auto-replies and members' replies (which stay). Timed: the first run (everything new) and a second
run (nothing new: only the mails left for a person are read again). Printed: wall time, mails per
second, the process's CPU time and its peak RSS (``ru_maxrss`` of exactly that child).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "benchmarks")]

from inbox_rig import deliver, fill, own_id, rows, values_for  # noqa: E402
from send import free_port, make_project, start_sink  # noqa: E402

from newsletter.config import load_config  # noqa: E402

SLUG = "2022-03-laenderfokus"
PROFILE = os.environ.get("BENCH_PROFILE", "").split()  # e.g. "-m cProfile -o FILE" (the first run)
# (fixture, share of the mails): ≈ 85 % reports the inbox acts on, 15 % mail it leaves
MIX = [
    ("dsn-postfix-hard-5.1.1.eml", 30),
    ("dsn-exim-hard-rfc822-headers.eml", 15),
    ("dsn-exchange-hard-5.0.0-with-5.1.10.eml", 15),
    ("dsn-gmail-soft-4.2.2-over-quota.eml", 5),
    ("dsn-mailbox-full-5.2.2.eml", 4),
    ("dsn-delayed-4.4.1.eml", 3),
    ("dsn-outlook-blocked-5.7.1.eml", 3),
    ("notice-exchange-plain-text.eml", 2),
    ("notice-qmail-failure.eml", 2),
    ("arf-abuse-original-rcpt-to.eml", 3),
    ("mailto-unsubscribe-token-in-subject.eml", 3),
    ("auto-reply-auto-submitted.eml", 4),
    ("ooo-subject-de.eml", 3),
    ("reply-member-question.eml", 5),
    ("reply-member-html-quoting-the-newsletter.eml", 3),
]


def fixtures_for(count: int) -> list[str]:
    """``count`` fixture names in the MIX's proportions, interleaved as they would arrive."""
    total = sum(share for _, share in MIX)
    names = [
        name
        for i in range(count)
        for name, share in MIX
        if (i * share) // total != ((i + 1) * share) // total
    ]
    return names[:count]


def timed_inbox(env: dict[str, str], folder: Path, profile: list[str]) -> tuple[float, float, int, str]:
    """One ``newsletter inbox --once`` process: wall s, CPU s, peak RSS KiB, its summary line."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")} | env
    with open(folder / "inbox.out", "w+b") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, *profile, "-m", "newsletter", "inbox", "--once"], cwd=folder, env=full, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if proc.returncode:
        raise SystemExit(f"newsletter inbox exited {proc.returncode}:\n{text[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, text.splitlines()[-1]


def prepare(folder: Path, count: int) -> tuple[dict[str, str], Path, Counter[str]]:
    port = free_port()
    sink, sink_name = start_sink(port)
    try:
        env = make_project(folder, count, port)
        toml = folder / "newsletter.toml"
        text = toml.read_text(encoding="utf-8")
        extra = 'bounce_address = "bounces@amz-sachsen.example"\nverp = true\n'
        toml.write_text(text.replace("[newsletter]\n", f"[newsletter]\n{extra}", 1), encoding="utf-8")
        full = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")} | env
        started = time.perf_counter()
        sent = subprocess.run(
            [sys.executable, "-m", "newsletter", "send", SLUG, "--to", "all", "--yes"], cwd=folder, env=full,
            capture_output=True, text=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        if sent.returncode:
            raise SystemExit(f"the set-up send failed:\n{sent.stdout[-1000:]}{sent.stderr[-1000:]}")
        print(f"set-up: {count} members sent into {sink_name} in {time.perf_counter() - started:.1f} s")
    finally:
        sink.terminate()
        sink.wait()
    config = load_config(folder, env)
    members = sorted(rows(config, SLUG).values(), key=lambda r: r.id)
    maildir = folder / "bounces"
    mix: Counter[str] = Counter()
    started = time.perf_counter()
    for n, name in enumerate(fixtures_for(count)):
        row, other = members[n], members[(n + 1) % len(members)]
        raw = own_id(fill(name, values_for(config, row, other)), f"bench-{n}")
        deliver(maildir, raw, seen=n % 3 == 0)
        mix[name] += 1
    size = sum(p.stat().st_size for p in maildir.rglob("*") if p.is_file())
    print(f"set-up: {count} mails ({size / 2**20:.1f} MiB) written in {time.perf_counter() - started:.1f} s")
    return env | {"NEWSLETTER_INBOX": str(maildir)}, maildir, mix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary project and print its path")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-inbox-"))
    try:
        env, maildir, mix = prepare(folder, args.messages)
        print("mix: " + ", ".join(f"{n} {name.removesuffix('.eml')}" for name, n in mix.most_common()))
        for run in ("first run (all new)", "second run (nothing new)"):
            wall, cpu, rss, summary = timed_inbox(env, folder, [] if "second" in run else PROFILE)
            read = int(re.search(r": (\d+) mail\(s\) read", summary).group(1))  # type: ignore[union-attr]
            print(f"inbox --once, {run}: {read} mails in {wall:.2f} s = {read / wall:,.0f} messages/s; "
                  f"CPU {cpu:.2f} s; peak RSS {rss / 1024:.0f} MB")  # fmt: skip
            print(f"  {summary}")
        left = sum(1 for sub in ("new", "cur") for _ in (maildir / sub).iterdir())
        print(
            f"left in the Maildir for a person: {left}; state database {os.path.getsize(folder / 'state.db') / 2**20:.1f} MiB"
        )
    finally:
        if args.keep:
            print(f"kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
