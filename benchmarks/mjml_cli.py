"""npm's ``mjml`` CLI, the reference compiler that benchmarks/build.py compares ``newsletter build`` with.

    .venv/bin/python benchmarks/mjml_cli.py      # install it when missing (``make bench`` does this)

It lives outside the repository, in ``$NEWSLETTER_BENCH_CACHE`` (default ``~/.cache/newsletter-bench``),
installed once with ``npm install --prefix`` at the pinned version; the benchmark runs its binary
directly (``node_modules/.bin/mjml``), so npx's package resolution is not part of the figure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

VERSION = "4.18.0"


def cache() -> Path:
    default = Path.home() / ".cache" / "newsletter-bench"
    return Path(os.environ.get("NEWSLETTER_BENCH_CACHE") or default)


def binary() -> Path:
    return cache() / "node_modules" / ".bin" / "mjml"


def ensure(timeout: float = 600) -> tuple[Path | None, str]:
    """(the mjml binary, "") once installed; (None, why not) when Node/npm or the registry are missing."""
    if binary().exists():
        return binary(), ""
    npm = shutil.which("npm")
    if not npm or not shutil.which("node"):
        return None, "Node.js and npm are not on PATH (Debian: apt-get install nodejs npm)"
    cache().mkdir(parents=True, exist_ok=True)
    command = [
        npm,
        "install",
        "--prefix",
        str(cache()),
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        f"mjml@{VERSION}",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (subprocess.TimeoutExpired, OSError) as exc:
        return None, f"npm install mjml@{VERSION} failed ({type(exc).__name__})"
    if done.returncode != 0 or not binary().exists():
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1][:160]
        return None, f"npm install mjml@{VERSION} failed: {reason}"
    return binary(), ""


def main() -> None:
    found, reason = ensure()
    if found is None:
        print(f"mjml CLI not installed: {reason}; benchmarks/build.py will print n/a for it", file=sys.stderr)
        return  # the other benchmarks still run
    version = subprocess.run([str(found), "--version"], capture_output=True, text=True).stdout.split()
    print(f"mjml CLI: {found} ({' '.join(version)})")


if __name__ == "__main__":
    main()
