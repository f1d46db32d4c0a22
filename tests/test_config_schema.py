"""newsletter.toml and the environment are checked like front matter: every problem at once, each as
``newsletter.toml:LINE: message``, exit 2 before a command does anything (issue 10, item 23).

One fixture per case under tests/fixtures/config/, copied in as the project's newsletter.toml and
run through a real CLI command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import smtp_sink as rig
from click.testing import CliRunner

from newsletter.cli import main
from newsletter.config import load_config
from newsletter.config.toml_lines import key_lines

CASES = Path(__file__).resolve().parent / "fixtures" / "config"
REPO = Path(__file__).resolve().parent.parent
smtp_sink = rig.smtp_sink

EXPECTED = {
    "typo_max_atempts": [
        "newsletter.toml:9: unknown key max_atempts in [sending]; did you mean max_attempts?"
    ],
    "typo_table_sendng": ["newsletter.toml:7: unknown table [sendng]; did you mean [sending]?"],
    "negative_rate": [
        "newsletter.toml:8: [sending] rate must be more than 0 messages per second (leave rate out for no limit), not -1"
    ],
    "negative_connections": ["newsletter.toml:8: [sending] connections must be between 1 and 100, not -3"],
    "zero_max_attempts": [
        "newsletter.toml:8: [sending] max_attempts must be at least 1 (1 = no retries), not 0"
    ],
    "zero_per_connection": ["newsletter.toml:8: [sending] per_connection must be at least 1, not 0"],
    "string_connections": [
        'newsletter.toml:8: [sending] connections must be a whole number, e.g. connections = 4; not the string "four"'
    ],
    "number_retry_backoff": [
        "newsletter.toml:8: [sending] retry_backoff must be a list of numbers, "
        "e.g. retry_backoff = [60, 300, 900, 3600]; not 60"
    ],
    "string_timeout": [
        'newsletter.toml:8: [sending] timeout must be a number, e.g. timeout = 30; not the string "30s"'
    ],
    "string_staleness_hours": [
        "newsletter.toml:8: [scheduler] staleness_hours must be a number, e.g. staleness_hours = 6; "
        'not the string "six"'
    ],
    "segment_without_id": ['newsletter.toml:11: [[segments]] entry 2 has no id; add id = "poland"'],
    "string_false_resend_unknown": [
        "newsletter.toml:8: [sending] resend_unknown must be true or false without quotes, "
        'e.g. resend_unknown = false; not the string "false"'
    ],
    "string_false_require_approval": [
        "newsletter.toml:6: [newsletter] require_approval must be true or false without quotes, "
        'e.g. require_approval = false; not the string "false"'
    ],
    "inline_segments": [
        "newsletter.toml:3: [[segments]] entry 1: names.fr: fr is not in [newsletter] languages (de, en)",
        "newsletter.toml:4: unknown key name in [[segments]] entry 2; did you mean names?",
        'newsletter.toml:4: [[segments]] entry 2 has no id; add id = "poland"',
    ],
    "key_in_the_wrong_table": [
        "newsletter.toml:6: unknown key connections in [newsletter]; it belongs in [sending]"
    ],
    "duplicate_segment_id": [
        'newsletter.toml:12: [[segments]] entry 2: id "Poland" is already the id of entry 1'
    ],
    "newsletter_timezone": [
        "newsletter.toml:6: [newsletter] timezone: unknown time zone 'Europe/Berlinn' (did you mean 'Europe/Berlin'?)"
    ],
    "unterminated_string": ["newsletter.toml:3: illegal character '\\n' (column 23)"],
    "many_problems_at_once": [
        "newsletter.toml:6: [newsletter] default_language fr is not in languages (de, en, pl)",
        "newsletter.toml:7: [newsletter] require_approval must be true or false without quotes, "
        'e.g. require_approval = false; not the string "no"',
        "newsletter.toml:10: [fallback] pl: cz is not in [newsletter] languages (de, en, pl)",
        'newsletter.toml:13: [[segments]] entry 1: id must not be "all" (the tool uses it for every member '
        '/ no segment), not the string "all"',
        "newsletter.toml:14: [[segments]] entry 1: names.de must be text in quotes, not 1",
        "newsletter.toml:18: [[segments]] entry 2: timezone: unknown time zone 'Mars/Olympus_Mons'",
        "newsletter.toml:22: unknown key impresum in [footer.de]; did you mean impressum?",
        'newsletter.toml:25: [sending] retry_backoff element 2 must be a number, not the string "300"',
        "newsletter.toml:25: [sending] retry_backoff element 3 must be at least 0 seconds, not -5",
        "newsletter.toml:26: [sending] connections must be a whole number, e.g. connections = 4; not 4.5",
        "newsletter.toml:27: [sending] rate must be a number, e.g. rate = 10; not inf",
        "newsletter.toml:29: unknown table [schedulr]; did you mean [scheduler]?",
    ],
}


def test_every_fixture_has_its_expected_messages() -> None:
    assert {p.stem for p in CASES.glob("*.toml")} == set(EXPECTED)


@pytest.fixture
def cli(project: Path, project_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(project)
    for name in [k for k in os.environ if k.startswith("NEWSLETTER_")]:
        monkeypatch.delenv(name)
    runner = CliRunner()
    return lambda *args, env=None: runner.invoke(main, list(args), env={**project_env, **(env or {})})


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_bad_newsletter_toml_is_refused_with_every_line(case: str, cli, project: Path) -> None:
    shutil.copy(CASES / f"{case}.toml", project / "newsletter.toml")
    result = cli("check", "no-such-issue")
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == EXPECTED[case]
    assert result.stdout == ""


def test_string_false_resend_unknown_sends_nothing(
    project: Path, project_env: dict[str, str], smtp_sink
) -> None:
    """The reported damage: resend_unknown = "false" was read as true. Now `send` refuses first,
    as a real process against a real SMTP server: nothing is mailed, no state database is made."""
    shutil.copytree(REPO / "issues" / "2022-03-laenderfokus", project / "issues" / "2022-03-laenderfokus")
    shutil.copy(REPO / "subscribers.example.csv", project / "subscribers.csv")
    text = (project / "newsletter.toml").read_text(encoding="utf-8")
    (project / "newsletter.toml").write_text(
        text.replace("resend_unknown = false", 'resend_unknown = "false"'), encoding="utf-8"
    )
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("resend_unknown"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env.update(project_env, NEWSLETTER_SMTP_HOST=smtp_sink.host, NEWSLETTER_SMTP_PORT=str(smtp_sink.port),
               NEWSLETTER_SMTP_SECURITY="none", NEWSLETTER_SECRET="config-test-secret")  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "newsletter", "send", "2022-03-laenderfokus", "--to", "all", "--yes"],
                            cwd=project, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        f"newsletter.toml:{line}: [sending] resend_unknown must be true or false without quotes, "
        'e.g. resend_unknown = false; not the string "false"'
    ]
    assert smtp_sink.messages == [] and not (project / "state.db").exists()


def test_environment_values_are_checked_with_their_names(cli) -> None:
    bad = {
        "NEWSLETTER_RATE": "-1",
        "NEWSLETTER_CONNECTIONS": "four",
        "NEWSLETTER_SMTP_TIMEOUT": "30s",
        "NEWSLETTER_SMTP_PORT": "99999",
        "NEWSLETTER_SMTP_SECURITY": "ssl",
    }
    result = cli("check", "no-such-issue", env=bad)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: NEWSLETTER_SMTP_PORT must be between 1 and 65535, not '99999'",
        "error: NEWSLETTER_SMTP_TIMEOUT must be a number, not '30s'",
        "error: NEWSLETTER_CONNECTIONS must be a whole number, not 'four'",
        "error: NEWSLETTER_RATE must be more than 0 messages per second (leave it empty for no limit), not '-1'",
        "error: NEWSLETTER_SMTP_SECURITY must be one of starttls, tls, none, not 'ssl'",
    ]


def test_values_from_dotenv_name_its_line_next_to_the_file_problems(cli, project: Path) -> None:
    (project / ".env").write_text(
        "# relay\nNEWSLETTER_SMTP_PORT=587\nexport NEWSLETTER_CONNECTIONS=0\n", encoding="utf-8"
    )
    shutil.copy(CASES / "typo_max_atempts.toml", project / "newsletter.toml")
    result = cli("check", "no-such-issue")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "newsletter.toml:9: unknown key max_atempts in [sending]; did you mean max_attempts?",
        ".env:3: NEWSLETTER_CONNECTIONS must be between 1 and 100, not '0'",
    ]


def test_real_booleans_and_the_timezone_key_are_accepted(project: Path, project_env: dict[str, str]) -> None:
    toml = project / "newsletter.toml"
    text = toml.read_text(encoding="utf-8")
    text = text.replace("resend_unknown = false", "resend_unknown = true")
    text = text.replace("require_approval = false", "require_approval = true")
    text = text.replace('timezone = "Europe/Berlin"', 'timezone = "America/Chicago"', 1)
    toml.write_text(text + "\n[dkim]\nselector = 'nl'\ndomain = 'example.org'\nprivate_key = 'k.pem'\n")
    config = load_config(project, project_env)
    assert config.smtp.resend_unknown is True and config.require_approval is True
    assert config.dkim is not None and config.dkim.private_key == project / "k.pem"
    assert config.timezone == "America/Chicago"


def test_the_shipped_newsletter_toml_passes_with_its_defaults(project_env: dict[str, str]) -> None:
    config = load_config(REPO, project_env)
    assert (config.smtp.connections, config.smtp.per_connection, config.smtp.max_attempts) == (4, 90, 5)
    assert config.smtp.retry_backoff == (60.0, 300.0, 900.0, 3600.0) and config.smtp.rate is None
    assert config.smtp.resend_unknown is False and config.staleness_hours == 6 and config.dkim is None


def test_key_lines_find_tables_entries_inline_tables_and_elements() -> None:
    text = (
        'a = """\nfake = 1\n"""  # not a key\n'  # 1-3
        "b.c = [1,\n  # comment\n  2, {x = 1, 'y.z' = 'q'}]\n"  # 4-6
        "[[f]]\nn = 1\n[[f]]\n[[f.v]]\nm = 2\n[[f.v]]\n"  # 7-12
        '[f.w]\n"k 1" = 1979-05-27 07:32:00 # when\n'  # 13-14
    )
    lines = key_lines(text)
    assert ("fake",) not in lines and lines[("a",)] == 1
    assert lines[("b", "c", 1)] == 6 and lines[("b", "c", 2, "y.z")] == 6
    assert (lines[("f", 0)], lines[("f", 0, "n")], lines[("f", 1)]) == (7, 8, 9)
    assert (lines[("f", 1, "v", 0, "m")], lines[("f", 1, "v", 1)]) == (11, 12)
    assert lines[("f", 1, "w", "k 1")] == 14


def test_check_outside_the_project_says_where_it_looked(tmp_path: Path) -> None:
    """Item 20: `check` of a folder outside the project, from another directory."""
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(REPO / "issues" / "2022-03-laenderfokus", elsewhere / "issue")
    cwd = tmp_path / "somewhere" / "else"
    cwd.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    result = subprocess.run([sys.executable, "-m", "newsletter", "check", str(elsewhere / "issue")], cwd=cwd,
                            env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    searched = ", ".join(str(folder) for folder in (cwd, *cwd.parents))
    assert result.stderr.splitlines() == [
        f"error: no newsletter.toml in {cwd} or any folder above it (looked in {searched}); run newsletter in "
        "the project folder (the one holding newsletter.toml), or set NEWSLETTER_CONFIG to that file"
    ]

    # With NEWSLETTER_CONFIG naming the project's file, the same command works from there.
    project = tmp_path / "project"
    project.mkdir()
    toml = (REPO / "newsletter.toml").read_text(encoding="utf-8")
    toml = toml.replace("[newsletter]\n", f'[newsletter]\ntemplates = "{REPO / "templates"}"\n', 1)
    (project / "newsletter.toml").write_text(toml, encoding="utf-8")
    env["NEWSLETTER_CONFIG"] = str(project / "newsletter.toml")
    ok = subprocess.run([sys.executable, "-m", "newsletter", "check", str(elsewhere / "issue")], cwd=cwd,
                        env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run([sys.executable, "-m", "newsletter", "check", "x"], cwd=cwd, capture_output=True, text=True,
                             env={**env, "NEWSLETTER_CONFIG": str(tmp_path / "nope.toml")}, timeout=60)  # fmt: skip
    assert missing.returncode == 2
    assert missing.stderr == (
        f"error: NEWSLETTER_CONFIG names {tmp_path / 'nope.toml'}, which does not exist; "
        "set it to the project's newsletter.toml\n"
    )


def test_the_readme_documents_every_key_of_the_schema() -> None:
    """The key table in the README (Operator's guide) and config.schema.SCHEMA list the same keys."""
    from newsletter.config.schema import SCHEMA, Table

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| table | key | value | default |") :].split("\n\n", 1)[0]
    documented: set[tuple[str, str]] = set()
    current = ""
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        if cells[0]:
            current = cells[0].split("`")[1].strip("[]").split(".")[0]
        documented |= {(current, key) for key in cells[1].replace("`", "").split(", ")}
    schema = set()
    for name, spec in SCHEMA.items():
        each = spec if isinstance(spec, Table) else getattr(spec, "each", None)
        keys = each.keys if isinstance(each, Table) else {"one key per language": None}
        schema |= {(name, key) for key in keys}
    assert documented == schema
