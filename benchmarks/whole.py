"""Whole-process timings for the benchmarks: the compared commands interleaved, best of N.

On a shared machine the load changes from second to second; running the commands in turn, each
repetition once, lets both sides meet the same load, and the best of N is the figure least
disturbed by it (every disturbance only adds time).

The processes run as on an installed machine: with compiled bytecode. Where PYTHONDONTWRITEBYTECODE
is set (some CI and sandbox shells), each start would compile every module of the project from
source again (≈ 20 ms for `newsletter build`), so the timed processes keep their bytecode in
``$NEWSLETTER_BENCH_CACHE/pycache`` instead (PYTHONPYCACHEPREFIX; nothing is written to the
repository), and the first, untimed round fills it.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def newsletter_command() -> list[str]:
    """``newsletter`` as people run it: the venv's console script, else ``python -m newsletter``."""
    script = Path(sys.executable).with_name("newsletter")
    return [str(script)] if script.exists() else [sys.executable, "-m", "newsletter"]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    if env.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
        default = Path.home() / ".cache" / "newsletter-bench"
        env["PYTHONPYCACHEPREFIX"] = str(Path(env.get("NEWSLETTER_BENCH_CACHE") or default) / "pycache")
    return env


def best_of(
    commands: Mapping[str, Sequence[str]], repeats: int, *, cwd: Path | None = None
) -> dict[str, float]:
    """The fastest wall time (s) of each command over ``repeats`` interleaved rounds, after one
    untimed round (bytecode, the file cache); each must exit 0."""
    best = dict.fromkeys(commands, math.inf)
    env = environment()
    for round_ in range(repeats + 1):
        for name, command in commands.items():
            started = time.perf_counter()
            subprocess.run(
                command, cwd=cwd, env=env, check=True, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            if round_:
                best[name] = min(best[name], time.perf_counter() - started)
    return best


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
