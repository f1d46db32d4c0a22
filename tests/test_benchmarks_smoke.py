"""The benchmarks run (tiny sizes) and print their figures: they must not rot between releases.

No timing is asserted here; `make bench` prints the real figures.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"

CASES = {
    "build.py": (["--repeats", "1", "--no-mjml-cli"], "build all 9 editions (warm)"),
    "startup.py": (["--repeats", "1"], "ratio --help / import click"),
    "audience.py": (["--rows", "400", "--repeat", "1"], "ratio library / bare loop"),
    "compose.py": (["50"], "compose.MessageTemplate.personalise"),
    "send.py": (["--members", "120", "--naive", "5"], "pipeline / bare"),
    "rigs.py": (["--repeats", "1"], "postfix stop"),
    "desk_files.py": (["--repeats", "2"], "import the press release .docx"),
    "inbox.py": (["--messages", "60"], "messages/s; CPU"),
}


@pytest.mark.parametrize("script", sorted(CASES))
def test_benchmark_runs_and_prints_its_figures(script: str) -> None:
    args, expected = CASES[script]
    result = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert expected in result.stdout, result.stdout
