"""Start N real ``newsletter`` processes that meet at a barrier before the racy part.

Python start-up and the pre-flight check take a second or more with a spread of hundreds of
milliseconds, while the races under test (creating the schema, check-then-insert of a schedule)
last a few milliseconds. Each process therefore runs the real command unchanged, except that one
named function of the library first runs normally and then waits for the barrier file: when all
N processes are parked there, the test creates ``go`` and they continue together.

    python tests/race_rig.py BARRIER_DIR newsletter.schedule.plans:_check_preflight -- schedule ISSUE …
"""

from __future__ import annotations

import functools
import importlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

RIG = Path(__file__).resolve()


def _park_after(target: str, barrier: Path) -> None:
    module_name, _, name = target.partition(":")
    module = importlib.import_module(module_name)
    original: Callable[..., Any] = getattr(module, name)

    @functools.wraps(original)
    def parked(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        (barrier / f"ready-{os.getpid()}").touch()
        deadline = time.monotonic() + 60
        while not (barrier / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.002)
        return result

    setattr(module, name, parked)


def start(
    count: int, barrier: Path, park_after: str, args: Sequence[str], env: dict[str, str], cwd: Path
) -> list[subprocess.Popen[str]]:
    barrier.mkdir(parents=True, exist_ok=True)
    full = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")} | env
    full["PYTHONPATH"] = os.pathsep.join([str(RIG.parent.parent), full.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    return [
        subprocess.Popen(
            [sys.executable, str(RIG), str(barrier), park_after, "--", *args],
            env=full,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(count)
    ]


def release_when_parked(procs: Sequence[subprocess.Popen[str]], barrier: Path, timeout: float = 120) -> int:
    """Wait until every process that is still alive is parked, then let all go; returns how many."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        parked = len(list(barrier.glob("ready-*")))
        alive = sum(1 for p in procs if p.poll() is None)
        if parked >= len(procs) or (parked and parked >= alive):
            break
        time.sleep(0.01)
    (barrier / "go").touch()
    return len(list(barrier.glob("ready-*")))


def finish(procs: Sequence[subprocess.Popen[str]], timeout: float = 180) -> list[tuple[int, str, str]]:
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=timeout)
        out.append((proc.returncode, stdout, stderr))
    return out


if __name__ == "__main__":
    barrier_dir, target, sep, *rest = sys.argv[1:]
    assert sep == "--", sys.argv
    _park_after(target, Path(barrier_dir))
    from newsletter.cli import main

    sys.argv = ["newsletter", *rest]
    main()
