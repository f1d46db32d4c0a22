"""Start-up: ``newsletter --help`` as a whole process against ``python -c "import click"``, same run.

    .venv/bin/python benchmarks/startup.py [--repeats N]

The goal is --help within 2.5× of importing click alone: the command list comes from a table in
``newsletter/cli/__init__.py``, so listing the commands imports none of them. A command's own
``--help`` imports its module (and the config and model it uses) and is shown for comparison.
Prints figures (best of N, the commands interleaved); never asserts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from whole import best_of, ms, newsletter_command

ROOT = Path(__file__).resolve().parent.parent
GOAL = 2.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    newsletter = newsletter_command()
    commands = {
        "newsletter --help": [*newsletter, "--help"],
        'python -c "import click"': [sys.executable, "-c", "import click"],
        'python -c "pass" (the interpreter alone)': [sys.executable, "-c", "pass"],
        "newsletter build --help": [*newsletter, "build", "--help"],
        "newsletter subscribers check --help": [*newsletter, "subscribers", "check", "--help"],
        "newsletter send --help": [*newsletter, "send", "--help"],
    }
    best = best_of(commands, args.repeats, cwd=ROOT)
    print(f"start-up, whole processes (best of {args.repeats}, interleaved):")
    for name, seconds in best.items():
        print(f"  {name:<42} {ms(seconds):>10}")
    ratio = best["newsletter --help"] / best['python -c "import click"']
    print(f"  ratio --help / import click                {ratio:10.2f}   goal ≤ {GOAL}")


if __name__ == "__main__":
    main()
