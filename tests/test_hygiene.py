"""The suite itself: it tests the project it imports, and an unhandled exception anywhere fails it."""

from __future__ import annotations

import re
import tomllib

from conftest import REPO

TESTS = REPO / "tests"


def test_no_test_skips_itself_when_the_project_cannot_be_imported() -> None:
    """An importorskip of a project module turned 23 tests into skips when one module moved."""
    pattern = re.compile(r"""importorskip\(\s*(?:f?["'])newsletter\b""")
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for path in sorted(TESTS.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == [], "import the project directly; a broken import must fail, not skip"


def test_unhandled_exceptions_in_threads_and_finalizers_fail_the_suite() -> None:
    options = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"][
        "ini_options"
    ]
    assert {
        "error::pytest.PytestUnhandledThreadExceptionWarning",
        "error::pytest.PytestUnraisableExceptionWarning",
    } <= set(options["filterwarnings"])
