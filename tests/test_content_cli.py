"""`newsletter new`, `build` and `check`: exact output and exit codes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import enter_project

from newsletter.cli import main
from newsletter.cli.content import SALUTATION_NOTE

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "content"


@pytest.fixture
def cli(project: Path, project_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    enter_project(monkeypatch, project, project_env)
    return CliRunner()


def test_build_writes_every_edition(cli: CliRunner, example_issue: Path, project: Path) -> None:
    result = cli.invoke(main, ["build", "issues/2022-03-laenderfokus", "--out", "out"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "fallback: delegation in pl uses the en file (usa.pl, all.pl)",
        "fallback: tada in pl uses the en file (usa.pl, all.pl)",
        "wrote 9 editions (18 files) and 1 image(s) to out/",
    ]
    names = sorted(p.name for p in (project / "out").iterdir() if p.is_file())
    assert names == sorted(f"{s}.{lang}.{ext}" for s in ("poland", "usa", "all") for lang in ("de", "en", "pl")
                           for ext in ("html", "txt"))  # fmt: skip
    assert (project / "out" / "images" / "sachsen-schlesien.png").is_file()
    poland = (project / "out" / "poland.de.html").read_text(encoding="utf-8")
    assert "schlesischen Cluster" in poland and "TADA" not in poland


def test_build_accepts_a_slug_and_defaults_to_out(cli: CliRunner, example_issue: Path, project: Path) -> None:
    result = cli.invoke(main, ["build", "2022-03-laenderfokus"])
    assert result.exit_code == 0, result.output
    assert (project / "out" / "all.de.txt").is_file()


def test_build_with_content_errors(cli: CliRunner, project: Path) -> None:
    shutil.copytree(FIXTURES / "many-problems", project / "issues" / "many-problems")
    result = cli.invoke(main, ["build", "issues/many-problems"])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 7
    assert lines[0] == "issues/many-problems/articles/a.de.md:3: unknown key 'teasr' (did you mean 'teaser'?)"
    assert lines[-1] == (
        "issues/many-problems/issue.md:7: article 'ghost' has no file; create issues/many-problems/articles/ghost.de.md"
    )
    assert not (project / "out").exists()


def test_check_clean_with_warnings(cli: CliRunner, example_issue: Path) -> None:
    result = cli.invoke(main, ["check", "2022-03-laenderfokus"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "0 error(s), 2 warning(s): ready to send"


def test_check_with_errors(cli: CliRunner, project: Path) -> None:
    shutil.copytree(FIXTURES / "unknown-segment", project / "issues" / "unknown-segment")
    result = cli.invoke(main, ["check", "unknown-segment"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "issues/unknown-segment/articles/a.de.md:5: unknown segment 'mexico' (known: poland, usa)",
        "1 error(s), 0 warning(s)",
    ]


def test_new_creates_a_stub_that_passes_check(cli: CliRunner, project: Path) -> None:
    result = cli.invoke(main, ["new", "2022-04-fruehjahr"])
    assert result.exit_code == 0, result.output
    assert (project / "issues" / "2022-04-fruehjahr" / "articles" / "erster-artikel.de.md").is_file()
    check = cli.invoke(main, ["check", "2022-04-fruehjahr"])
    assert check.exit_code == 0, check.output
    assert check.stdout == "ok: no problems found\n"
    again = cli.invoke(main, ["new", "2022-04-fruehjahr"])
    assert again.exit_code == 2
    assert again.stderr == "error: issues/2022-04-fruehjahr already exists; edit it or choose another slug\n"


def test_new_stub_with_quotes_in_the_newsletter_name(cli: CliRunner, project: Path) -> None:
    toml = project / "newsletter.toml"
    text = toml.read_text(encoding="utf-8").replace(
        'name = "AMZ-Newsletter"', 'name = "Newsletter des Vereins \\"Freunde\\""'
    )
    toml.write_text(text, encoding="utf-8")
    assert cli.invoke(main, ["new", "2022-04-fruehjahr"]).exit_code == 0
    check = cli.invoke(main, ["check", "2022-04-fruehjahr"])
    assert check.stdout == "ok: no problems found\n", check.output
    issue = (project / "issues" / "2022-04-fruehjahr" / "issue.md").read_text(encoding="utf-8")
    assert 'title: "Newsletter des Vereins \\"Freunde\\" – neue Ausgabe"' in issue


def test_new_from_an_issue_copies_its_structure(cli: CliRunner, example_issue: Path, project: Path) -> None:
    result = cli.invoke(main, ["new", "2022-05-mai", "--from", "2022-03-laenderfokus"])
    assert result.exit_code == 0, result.output
    copy = project / "issues" / "2022-05-mai"
    assert sorted(p.name for p in (copy / "articles").iterdir()) == sorted(
        p.name for p in (example_issue / "articles").iterdir()
    )
    assert "segments: [usa]" in (copy / "articles" / "tada.de.md").read_text(encoding="utf-8")
    assert "Vorgeschichte" not in (copy / "articles" / "tada.de.md").read_text(encoding="utf-8")
    assert cli.invoke(main, ["check", "2022-05-mai"]).exit_code == 0


def test_new_from_an_issue_saved_with_bom_and_crlf(cli: CliRunner, project: Path) -> None:
    """Windows editors' files (BOM, CRLF) get their texts emptied and the date renewed too."""
    old = project / "issues" / "2022-01-alt"
    (old / "articles").mkdir(parents=True)
    (old / "issue.md").write_bytes(
        "\ufeff---\r\ntitle: Alt\r\ndate: 2022-01-05\r\narticles: [a]\r\n---\r\nAlter Text\r\n".encode()
    )
    (old / "articles" / "a.de.md").write_bytes(
        "\ufeff---\r\ntitle: Artikel\r\nsegments: [usa]\r\n---\r\nAlter Artikel\r\n".encode()
    )
    result = cli.invoke(main, ["new", "2022-02-neu", "--from", "2022-01-alt"])
    assert result.exit_code == 0, result.output
    copy = project / "issues" / "2022-02-neu"
    today = date.today().isoformat()
    assert (copy / "issue.md").read_text(encoding="utf-8") == (
        f"---\ntitle: Alt\ndate: {today}\narticles: [a]\n{SALUTATION_NOTE}\n---\nNeuer Text.\n"
    )
    assert (copy / "articles" / "a.de.md").read_text(encoding="utf-8") == (
        "---\ntitle: Artikel\nsegments: [usa]\n---\nNeuer Text.\n"
    )


def test_new_from_an_issue_with_a_windows_1252_text_is_refused_and_leaves_nothing(
    cli: CliRunner, project: Path
) -> None:
    old = project / "issues" / "2022-01-alt"
    (old / "articles").mkdir(parents=True)
    (old / "issue.md").write_text(
        "---\ntitle: Alt\ndate: 2022-01-05\narticles: [a]\n---\nText\n", encoding="utf-8"
    )
    (old / "articles" / "a.de.md").write_bytes("---\ntitle: Grüße\n---\nAlter Text\n".encode("cp1252"))
    for _ in range(2):  # the second try says the same: no half-copied folder is left behind
        result = cli.invoke(main, ["new", "2022-02-neu", "--from", "2022-01-alt"])
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == (
            "error: 2022-01-alt/articles/a.de.md: not UTF-8 (saved as Windows-1252?); save it as UTF-8 in the "
            "editor and try again; nothing was created\n"
        )
        assert not (project / "issues" / "2022-02-neu").exists()


def test_new_from_an_issue_empties_a_text_without_front_matter(cli: CliRunner, project: Path) -> None:
    old = project / "issues" / "2022-01-alt"
    (old / "articles").mkdir(parents=True)
    (old / "issue.md").write_text(
        "---\ntitle: Alt\ndate: 2022-01-05\narticles: [a]\n---\nText\n", encoding="utf-8"
    )
    (old / "issue.pl.md").write_text("Stary wstęp całego numeru.\n", encoding="utf-8")
    (old / "articles" / "a.de.md").write_text("---\ntitle: A\n---\nAlter Text\n", encoding="utf-8")
    result = cli.invoke(main, ["new", "2022-02-neu", "--from", "2022-01-alt"])
    assert result.exit_code == 0, result.output
    assert (project / "issues" / "2022-02-neu" / "issue.pl.md").read_text(encoding="utf-8") == "Neuer Text.\n"


def test_build_copies_an_article_image_kept_outside_images(cli: CliRunner, project: Path) -> None:
    """The built HTML refers to bilder/foto.png: it must be next to it, not only images/."""
    issue = project / "issues" / "x"
    (issue / "articles").mkdir(parents=True)
    (issue / "bilder").mkdir()
    (issue / "bilder" / "foto.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (issue / "issue.md").write_text(
        "---\ntitle: T\ndate: 2022-04-01\narticles: [a]\n---\nHallo.\n", encoding="utf-8"
    )
    (issue / "articles" / "a.de.md").write_text(
        "---\ntitle: A\nimage: bilder/foto.png\nimage_alt: Ein Foto\n---\nText.\n", encoding="utf-8"
    )
    result = cli.invoke(main, ["build", "x", "--out", "out"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "wrote 3 editions (6 files) and 1 image(s) to out/"
    assert 'src="bilder/foto.png"' in (project / "out" / "all.de.html").read_text(encoding="utf-8")
    assert (project / "out" / "bilder" / "foto.png").read_bytes() == b"\x89PNG\r\n\x1a\n"


def test_build_into_an_unwritable_folder_is_one_line(
    cli: CliRunner, example_issue: Path, project: Path
) -> None:
    (project / "out").write_text("a file where the folder should be", encoding="utf-8")
    result = cli.invoke(main, ["build", "2022-03-laenderfokus", "--out", "out/editions"])
    assert result.exit_code == 1
    assert result.stderr == (
        "out/editions: cannot write the editions (Not a directory); choose another folder with --out\n"
    )


def test_new_rejects_a_bad_slug(cli: CliRunner) -> None:
    result = cli.invoke(main, ["new", "Mein Heft"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: 'Mein Heft' is not a good folder name")


def test_python_dash_m_build(project: Path, project_env: dict[str, str], example_issue: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")} | project_env
    done = subprocess.run(
        [sys.executable, "-m", "newsletter", "build", "2022-03-laenderfokus", "--out", "site"],
        cwd=project, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (project / "site" / "usa.pl.txt").read_text(encoding="utf-8").count("[[nl:unsubscribe_url]]") == 1
