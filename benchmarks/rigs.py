"""Start and stop times of the real-server test rigs: tests/imap_rig.py (Dovecot) and tests/postfix_rig.py.

    .venv/bin/python benchmarks/rigs.py [--repeats N]

Each rig is started (until it greets on its port) and stopped (until no process of it is left) N times
in turn; the figures are the median and the range in seconds. Needs root and Debian's dovecot-imapd and
postfix, which `make test` installs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from imap_rig import ImapRig  # noqa: E402
from postfix_rig import PostfixRig  # noqa: E402


def timed(rig_class: type[ImapRig] | type[PostfixRig], folder: Path) -> tuple[float, float]:
    rig = rig_class(folder)
    started = time.perf_counter()
    rig.start()
    running = time.perf_counter()
    rig.stop()
    return running - started, time.perf_counter() - running


def line(name: str, seconds: list[float]) -> str:
    return f"{name:<14} median {statistics.median(seconds):.3f} s  (min {min(seconds):.3f}, max {max(seconds):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    repeats = parser.parse_args().repeats
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-rigs-") as tmp:
        for n in range(repeats):
            for name, rig_class in (("dovecot", ImapRig), ("postfix", PostfixRig)):
                start, stop = timed(rig_class, Path(tmp) / f"{name}-{n}")
                figures.setdefault(f"{name} start", []).append(start)
                figures.setdefault(f"{name} stop", []).append(stop)
    print(f"real-server rigs, {repeats} start/stop each:")
    for name, seconds in figures.items():
        print(line(name, seconds))


if __name__ == "__main__":
    main()
