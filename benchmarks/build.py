"""Time to build every edition of the example issue, in this process and as a whole `newsletter build`.

    .venv/bin/python benchmarks/build.py [--repeats N] [--issue PATH] [--no-mjml-cli]

The goal: `newsletter build` of the example issue as a whole process (interpreter start, imports,
loading, rendering and writing every edition) under 50 % of one compile of the same MJML (the
all.de edition) by npm's mjml CLI, the reference compiler (Node start + compile; installed into a
cache outside the repository when missing, see mjml_cli.py; its binary is run directly, not via
npx). Both are timed as whole processes, interleaved, best of --repeats. Prints figures; never asserts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import mjml_cli
from whole import best_of, ms, newsletter_command

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GOAL = 0.5

from newsletter.config import load_config  # noqa: E402
from newsletter.content import load_issue  # noqa: E402
from newsletter.model import ALL  # noqa: E402
from newsletter.render.renderer import Renderer, build_editions  # noqa: E402


def _timed(func, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return times


def _whole_processes(issue: Path, mjml_source: str, repeats: int) -> list[str]:
    """`newsletter build` of the issue as a whole process against one mjml CLI compile of one edition."""
    mjml, reason = mjml_cli.ensure()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "edition.mjml"
        source.write_text(mjml_source, encoding="utf-8")
        commands = {"build": [*newsletter_command(), "build", str(issue), "--out", str(Path(tmp) / "out")]}
        if mjml is not None:
            commands["mjml"] = [str(mjml), str(source), "-o", str(Path(tmp) / "edition.html")]
        best = best_of(commands, repeats, cwd=ROOT)
    lines = [f"newsletter build, whole process:       {ms(best['build'])} (best of {repeats}, interleaved)"]
    if mjml is None:
        return [*lines, f"mjml CLI {mjml_cli.VERSION}:                        n/a ({reason})"]
    ratio = best["build"] / best["mjml"]
    return [
        *lines,
        f"mjml CLI {mjml_cli.VERSION} (Node), all.de once:    {ms(best['mjml'])} (best of {repeats}, interleaved)",
        f"ratio build / mjml CLI:                {ratio:.2f}   goal < {GOAL}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--issue", type=Path, default=ROOT / "issues" / "2022-03-laenderfokus")
    parser.add_argument("--no-mjml-cli", "--no-npx", dest="no_mjml_cli", action="store_true",
                        help="skip the whole-process comparison with the mjml CLI")  # fmt: skip
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
    print(f"renderer setup (Jinja env, templates): {ms(setup)}")
    print(f"load + validate the issue:             {ms(statistics.median(loads))} (median of {args.repeats})")
    print(f"first build in this process (cold):    {ms(first)}")
    print(f"build all {len(editions)} editions (warm):          {ms(statistics.median(builds))} "
          f"(median of {args.repeats}; min {ms(min(builds))}, max {ms(max(builds))})")  # fmt: skip
    print(f"  per edition:                         {ms(statistics.median(builds) / len(editions))}")
    print(f"mjml-python, one edition (all.de):     {ms(statistics.median(compiles))}")
    if not args.no_mjml_cli:
        for line in _whole_processes(args.issue, mjml_source, args.repeats):
            print(line)


if __name__ == "__main__":
    main()
