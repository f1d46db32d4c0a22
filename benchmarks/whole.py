"""Whole-process timings for the benchmarks: the compared commands interleaved, best of N.

On a shared machine the load changes from second to second; running the commands in turn, each
repetition once, lets both sides meet the same load, and the best of N is the figure least
disturbed by it (every disturbance only adds time).
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def newsletter_command() -> list[str]:
    """``newsletter`` as people run it: the venv's console script, else ``python -m newsletter``."""
    script = Path(sys.executable).with_name("newsletter")
    return [str(script)] if script.exists() else [sys.executable, "-m", "newsletter"]


def best_of(
    commands: Mapping[str, Sequence[str]], repeats: int, *, cwd: Path | None = None
) -> dict[str, float]:
    """The fastest wall time (s) of each command over ``repeats`` interleaved rounds; each must exit 0."""
    best = dict.fromkeys(commands, math.inf)
    for _ in range(repeats):
        for name, command in commands.items():
            started = time.perf_counter()
            subprocess.run(
                command, cwd=cwd, check=True, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
