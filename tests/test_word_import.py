"""`newsletter import FILE.docx`: Word files made at test time with python-docx (tests/docx_rig.py)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest
from click.testing import CliRunner
from conftest import SEEDS, enter_project
from docx_rig import (
    add_footnote,
    add_html_chunk,
    add_link,
    add_linked_picture,
    add_picture,
    png,
    press_release_docx,
    save,
)

from newsletter.cli import main
from newsletter.render.markdown import to_html

ISSUE = "2022-05-import"


@pytest.fixture
def cli(project: Path, project_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    enter_project(monkeypatch, project, project_env)
    runner = CliRunner()
    assert runner.invoke(main, ["new", ISSUE]).exit_code == 0
    return runner


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_press_release_keeps_headings_bold_contact_lines_and_the_link(
    cli: CliRunner, project: Path
) -> None:
    (project / "pm.docx").write_bytes(press_release_docx(SEEDS))
    result = cli.invoke(main, ["import", "pm.docx", "--issue", ISSUE])
    assert result.exit_code == 0, result.output
    article = f"issues/{ISSUE}/articles/medieninformation.de.md"
    assert (
        result.stdout.split("\n")[0]
        == f"imported pm.docx as {article} and added it to the issue's article list"
    )
    assert (
        f"{article}:36: warning: insecure link http://www.smwa.sachsen.de" in result.stdout
    )  # check's own rules
    text = (project / article).read_text(encoding="utf-8")
    assert text.startswith("---\ntitle: Medieninformation\n---\n")
    assert "## Minister Dulig: „Internationalisierung von Spitzenclustern erfolgreich“\n" in text
    assert "### AMZ goes international\n" in text and "#### Hintergrund\n" in text
    assert "**Ihr Ansprechpartner**\\\nJens Jungmann\n" in text
    assert "**Durchwahl**\\\nTelefon +49 351 564 80600\\\nTelefax +49 351 564 80680\n" in text
    assert "presse@smwa.sachsen.de\\*\n" in text
    html = to_html(text.split("---\n", 2)[2])
    assert "<strong>Ihr Ansprechpartner</strong><br>\nJens Jungmann" in html
    assert '<a href="http://www.smwa.sachsen.de">www.smwa.sachsen.de</a>' in html
    assert "  - medieninformation\n" in (project / "issues" / ISSUE / "issue.md").read_text(encoding="utf-8")
    check = cli.invoke(main, ["check", ISSUE])
    assert check.exit_code == 0 and " error" not in check.stdout.replace("0 error(s)", ""), check.stdout


def _hostile() -> bytes:
    document = docx.Document()
    document.add_heading("Einladung zum Sommerfest", 1)
    paragraph = document.add_paragraph("Hier ")
    add_link(paragraph, "anmelden", "javascript:alert(document.cookie)")
    paragraph.add_run(" oder ")
    add_link(paragraph, "per Mail", "mailto:fest@amz.example")
    add_linked_picture(document, "https://tracker.example/pixel.png?id=42")
    add_picture(document, png(padding=50 * 1024 * 1024), description="Riesiges Foto")
    add_picture(document, png(rgb=(10, 200, 10)), description="Grüner Punkt")
    add_picture(document, png(rgb=(10, 10, 200)), description=None)
    add_html_chunk(document, '<script>alert("chunk")</script><iframe src="https://evil.example"></iframe>')
    note = document.add_paragraph("Getränke frei.")
    document.add_comment(note.runs, text="Stimmt das?", author="Lektorat")
    document.add_paragraph("<script>alert('typed')</script> & *Sterne*")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Beginn", "18:00"
    table.cell(1, 0).text, table.cell(1, 1).text = "Ort", "Chemnitz"
    return save(document)


def test_a_hostile_word_file_brings_nothing_harmful_and_says_what_it_left_out(
    cli: CliRunner, project: Path
) -> None:
    (project / "fest.docx").write_bytes(_hostile())
    result = cli.invoke(main, ["import", "fest.docx", "--issue", ISSUE])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        f"imported fest.docx as issues/{ISSUE}/articles/einladung-zum-sommerfest.de.md"
    )
    left_out = [line for line in lines if line.startswith("left out: ")]
    assert left_out == [
        "left out: 1 comment(s) of the reviewers",
        "left out: picture 2 (larger than 5 MB: make the picture smaller (e.g. 1600 pixels wide) and try again)",
        "left out: embedded HTML (w:altChunk)",
        "left out: a picture linked from https://tracker.example/pixel.png?id=42 (not inside the file): "
        "insert the picture itself in Word",
        "left out: the target of the link 'anmelden' (javascript:alert(document.cookie)): "
        "only http, https, mailto and tel links are kept",
    ]
    assert [line for line in lines if line.startswith("check: ")][0] == (
        "check: 1 table(s) became text, one line per row (cells separated by ·)")  # fmt: skip
    issue = project / "issues" / ISSUE
    files = _tree(issue)
    assert max(len(data) for data in files.values()) < 5 * 1024 * 1024
    everything = b"\n".join(files.values())
    for harmful in (b"javascript:", b"tracker.example", b'alert("chunk")', b"evil.example", b"<iframe"):
        assert harmful not in everything
    text = (issue / "articles" / "einladung-zum-sommerfest.de.md").read_text(encoding="utf-8")
    assert "Hier anmelden oder [per Mail](mailto:fest@amz.example)\n" in text
    assert "\\<script>alert('typed')\\</script> \\& \\*Sterne\\*\n" in text
    assert "Beginn · 18:00\\\nOrt · Chemnitz\n" in text
    pictures = sorted(p for p in files if p.startswith("images/einladung"))
    assert len(pictures) == 2
    assert f"![Grüner Punkt]({pictures[0]})" in text or f"![Grüner Punkt]({pictures[1]})" in text
    assert any(line.startswith("check: picture 4 (images/einladung-zum-sommerfest-") and
               "has no description in Word" in line for line in lines)  # fmt: skip
    html = to_html(text.split("---\n", 2)[2])
    assert "<script" not in html and "&lt;script&gt;alert('typed')&lt;/script&gt; &amp; *Sterne*" in html


def _zip(parts: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return out.getvalue()


@pytest.mark.parametrize(("case", "data", "message"), [
    ("picture.docx", png(), "not a Word document (.docx); save it from Word as .docx and try again"),
    ("junk.docx", _zip({"notes.txt": "kein Word"}), "a zip file without a Word document in it; save it from Word as .docx"),
    ("broken.docx", _zip({"word/document.xml": "kein xml <<<"}), "cannot be read as a Word document "
     "(syntax error: line 1, column 0); open it in Word and save it again as .docx"),
    ("empty.docx", b"", "the file is empty (.docx); save it from Word as .docx and try again"),
    ("old.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64),
     "an old Word 97–2003 .doc file; open it in Word and save it as .docx"),
])  # fmt: skip
def test_a_file_that_is_no_docx_exits_2_with_one_line(
    cli: CliRunner, project: Path, case: str, data: bytes, message: str
) -> None:
    (project / case).write_bytes(data)
    before = _tree(project / "issues")
    result = cli.invoke(main, ["import", case, "--issue", ISSUE])
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"{case}: {message}\n")
    assert _tree(project / "issues") == before


def test_a_missing_file_exits_2(cli: CliRunner) -> None:
    result = cli.invoke(main, ["import", "nirgends.docx", "--issue", ISSUE])
    assert (result.exit_code, result.stderr) == (
        2,
        "nirgends.docx: cannot be read (No such file or directory)\n",
    )


def test_an_existing_article_is_never_overwritten(cli: CliRunner, project: Path) -> None:
    (project / "pm.docx").write_bytes(press_release_docx(SEEDS))
    before = _tree(project / "issues")
    result = cli.invoke(main, ["import", "pm.docx", "--issue", ISSUE, "--name", "erster-artikel"])
    assert result.exit_code == 1
    assert result.stderr == ("error: articles/erster-artikel.de.md exists already; nothing was imported "
                             "(choose another name with --name)\n")  # fmt: skip
    assert _tree(project / "issues") == before


def test_a_translation_is_imported_next_to_the_listed_article(cli: CliRunner, project: Path) -> None:
    document = docx.Document()
    document.add_heading("Pierwszy artykuł: „Śląsk“", 1)
    document.add_paragraph("Zażółć gęślą jaźń.")
    (project / "pl.docx").write_bytes(save(document))
    result = cli.invoke(
        main, ["import", "pl.docx", "--issue", ISSUE, "--name", "erster-artikel", "--lang", "pl"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == f"imported pl.docx as issues/{ISSUE}/articles/erster-artikel.pl.md\n"
    text = (project / "issues" / ISSUE / "articles" / "erster-artikel.pl.md").read_text(encoding="utf-8")
    assert text == '---\ntitle: "Pierwszy artykuł: „Śląsk“"\n---\nZażółć gęślą jaźń.\n'
    assert (project / "issues" / ISSUE / "issue.md").read_text(encoding="utf-8").count("erster-artikel") == 1


def test_an_unsafe_name_or_unknown_language_is_refused(cli: CliRunner, project: Path) -> None:
    (project / "pm.docx").write_bytes(press_release_docx(SEEDS))
    before = _tree(project)
    bad_name = cli.invoke(main, ["import", "pm.docx", "--issue", ISSUE, "--name", "../x"])
    assert bad_name.exit_code == 1 and "article name '../x' must be a file stem" in bad_name.stderr
    bad_lang = cli.invoke(main, ["import", "pm.docx", "--issue", ISSUE, "--lang", "fr"])
    assert bad_lang.stderr == "error: unknown language 'fr' (configured: de, en, pl)\n"
    assert _tree(project) == before


def test_an_issue_that_does_not_exist_exits_2(cli: CliRunner, project: Path) -> None:
    (project / "pm.docx").write_bytes(press_release_docx(SEEDS))
    result = cli.invoke(main, ["import", "pm.docx", "--issue", "2099-01-nirgends"])
    assert (result.exit_code, result.stderr) == (2, "2099-01-nirgends: no issue.md there; name an existing issue "
                                                    "or start one with `newsletter new SLUG`\n")  # fmt: skip
    assert not (project / "issues" / "2099-01-nirgends").exists()


def test_a_footnote_is_listed_with_its_text(cli: CliRunner, project: Path) -> None:
    document = docx.Document()
    document.add_heading("Förderung", 1)
    add_footnote(document.add_paragraph("Das BMBF fördert das Projekt."), "Quelle: Pressemitteilung des BMBF")
    (project / "note.docx").write_bytes(save(document))
    result = cli.invoke(main, ["import", "note.docx", "--issue", ISSUE])
    assert result.exit_code == 0, result.output
    assert "left out: footnote 1: „Quelle: Pressemitteilung des BMBF“" in result.stdout.splitlines()
    text = (project / "issues" / ISSUE / "articles" / "foerderung.de.md").read_text(encoding="utf-8")
    assert text == "---\ntitle: Förderung\n---\nDas BMBF fördert das Projekt.\n"


def _pictures(count: int) -> bytes:
    document = docx.Document()
    document.add_heading("Bildergalerie", 1)
    for n in range(count):  # different colours: python-docx stores the same picture once
        add_picture(document, png(rgb=(n, 100, 200)), description=f"Bild {n + 1}")
    return save(document)


def test_pictures_beyond_the_count_or_the_total_size_are_left_out(
    cli: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsletter import limits

    (project / "galerie.docx").write_bytes(_pictures(4))
    monkeypatch.setattr(limits, "WORD_PICTURES_MAX", 2)
    result = cli.invoke(main, ["import", "galerie.docx", "--issue", ISSUE])
    assert result.exit_code == 0, result.output
    too_many = "more than 2 pictures or 50 MB of pictures in one file: import the rest in a second file"
    left_out = [line for line in result.stdout.splitlines() if line.startswith("left out: ")]
    assert left_out == [f"left out: picture 3 ({too_many})", f"left out: picture 4 ({too_many})"]
    assert len(list((project / "issues" / ISSUE / "images").iterdir())) == 2

    monkeypatch.setattr(limits, "WORD_PICTURES_MAX", 200)
    monkeypatch.setattr(limits, "WORD_PICTURES_MAX_BYTES", len(png()) + 10)
    result = cli.invoke(main, ["import", "galerie.docx", "--issue", ISSUE, "--name", "zweite"])
    assert result.exit_code == 0, result.output
    left_out = [line for line in result.stdout.splitlines() if line.startswith("left out: ")]
    assert [line.split(" (")[0] for line in left_out] == [f"left out: picture {n}" for n in (2, 3, 4)]
    assert all("of pictures in one file" in line for line in left_out)


def test_a_file_whose_parts_unpack_to_more_than_the_total_exits_2(
    cli: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsletter import limits

    data = _pictures(3)
    (project / "galerie.docx").write_bytes(data)
    unpacked = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(data)).infolist())
    monkeypatch.setattr(limits, "WORD_TOTAL_MAX_BYTES", unpacked - 1)
    before = _tree(project / "issues")
    result = cli.invoke(main, ["import", "galerie.docx", "--issue", ISSUE])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith("galerie.docx: its parts unpack to more than ")
    assert (
        result.stderr.endswith(" MB in all; this is no ordinary Word file\n")
        and result.stderr.count("\n") == 1
    )
    assert _tree(project / "issues") == before
