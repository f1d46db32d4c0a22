"""Time to build every edition of the example issue; for comparison one `npx mjml` of the same MJML.

    .venv/bin/python benchmarks/build.py [--repeats N] [--issue PATH] [--no-npx]

Prints figures; never asserts. The npx figure needs Node and the npm registry (first run installs mjml).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsletter.config import load_config  # noqa: E402
from newsletter.content import load_issue  # noqa: E402
from newsletter.model import ALL  # noqa: E402
from newsletter.render.renderer import Renderer, build_editions  # noqa: E402


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _timed(func, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return times


def _npx_mjml(source: str, timeout: float) -> str:
    npx = shutil.which("npx")
    if not npx:
        return "n/a (npx not on PATH)"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "edition.mjml"
        path.write_text(source, encoding="utf-8")
        command = [npx, "--yes", "mjml", str(path), "--stdout"]
        try:
            started = time.perf_counter()
            first = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=tmp)
            first_time = time.perf_counter() - started
            if first.returncode != 0 or "<html" not in first.stdout:
                reason = (first.stderr.strip().splitlines() or ["no output"])[-1][:120]
                return f"n/a (npx mjml failed: {reason})"
            started = time.perf_counter()
            subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=tmp, check=True)
            warm = time.perf_counter() - started
        except (subprocess.TimeoutExpired, subprocess.CalledProcessError, OSError) as exc:
            return f"n/a ({type(exc).__name__})"
        direct = _direct_mjml(path, timeout)
    return f"{_ms(warm)} per run (first run incl. install/cache: {_ms(first_time)}){direct}"


def _direct_mjml(path: Path, timeout: float) -> str:
    """The installed mjml CLI without npx's package resolution (Node start + compile)."""
    found = sorted(Path.home().glob(".npm/_npx/*/node_modules/.bin/mjml"))
    if not found:
        return ""
    try:
        started = time.perf_counter()
        subprocess.run(
            [str(found[0]), str(path), "--stdout"], capture_output=True, timeout=timeout, check=True
        )
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError, OSError):
        return ""
    return f"; mjml CLI without npx: {_ms(time.perf_counter() - started)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--issue", type=Path, default=ROOT / "issues" / "2022-03-laenderfokus")
    parser.add_argument("--no-npx", action="store_true")
    parser.add_argument("--npx-timeout", type=float, default=240)
    args = parser.parse_args()

    config = load_config(ROOT, {})
    started = time.perf_counter()
    renderer = Renderer(config)
    setup = time.perf_counter() - started
    issue = load_issue(args.issue, config)
    started = time.perf_counter()
    editions = build_editions(issue, config, renderer)  # first build: templates compile, Markdown parsed
    first = time.perf_counter() - started
    builds = _timed(lambda: build_editions(issue, config, renderer), args.repeats)
    loads = _timed(lambda: load_issue(args.issue, config), args.repeats)

    view = renderer.view(
        issue, frozenset({ALL}), "de", [v.by_language["de"] for v in issue.articles], "s", "p"
    )
    mjml_source = renderer.render_mjml(view)
    compiles = _timed(lambda: renderer.compile(mjml_source), args.repeats)

    print(f"issue: {args.issue.name}, {len(editions)} editions, largest HTML "
          f"{max(len(e.html.encode()) for e in editions) / 1024:.1f} KB")  # fmt: skip
    print(f"renderer setup (Jinja env, templates): {_ms(setup)}")
    print(
        f"load + validate the issue:             {_ms(statistics.median(loads))} (median of {args.repeats})"
    )
    print(f"first build in this process (cold):    {_ms(first)}")
    print(f"build all {len(editions)} editions (warm):          {_ms(statistics.median(builds))} "
          f"(median of {args.repeats}; min {_ms(min(builds))}, max {_ms(max(builds))})")  # fmt: skip
    print(f"  per edition:                         {_ms(statistics.median(builds) / len(editions))}")
    print(f"mjml-python, one edition (all.de):     {_ms(statistics.median(compiles))}")
    if not args.no_npx:
        print(f"npx mjml, same MJML (all.de):          {_npx_mjml(mjml_source, args.npx_timeout)}")


if __name__ == "__main__":
    main()
