"""Reading stays bounded (issue 10, item 12): a giant line is never held whole, and rejected rows are not
all kept in memory, yet every one of them is listed. The large figures are in benchmarks/audience.py;
these files are generated here, never committed."""

from __future__ import annotations

import csv
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from newsletter.audience import read_members, write_report
from newsletter.config import Config
from newsletter.limits import LINE_MAX
from newsletter.model import MemberFileError

ROOT = Path(__file__).resolve().parent.parent


def peak_of(fn, *args):  # type: ignore[no-untyped-def]
    """(result, peak bytes allocated by Python while it ran)."""
    tracemalloc.start()
    try:
        result = fn(*args)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_line_longer_than_any_member_row_is_rejected_and_the_rows_after_it_read(
    config: Config, tmp_path: Path
) -> None:
    path = tmp_path / "members.csv"
    path.write_text(
        "email;first_name;company\r\n"
        f"anna@example.com;Anna;{'x' * 300_000}\r\n"
        "ben@example.com;Ben;Kraus AG\r\n",
        encoding="utf-8",
    )
    report = read_members(path, config)
    assert [str(p) for p in report.rejected] == [
        f"{path}:2: the line is 300,022 characters long, far more than a member row (at most 65,536): only its "
        "start was read; check that the export holds only the member list"
    ]
    assert [(m.line, m.address) for m in report.members] == [(3, "ben@example.com")]


def test_a_giant_line_is_never_held_whole(config: Config, tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("email;first_name;company\nanna@example.com;Anna;")
        for _ in range(20):
            f.write("x" * 1_000_000)
        f.write("\nben@example.com;Ben;Kraus AG\n")
    report, peak = peak_of(read_members, path, config)
    assert [m.line for m in report.members] == [3] and report.rejected_rows == 1
    assert peak < 4_000_000, (
        f"{peak:,} bytes for a 20 MB line"
    )  # the 1 MiB detection chunk, decoded, and a cut line


def test_a_header_line_longer_than_any_header_refuses_the_file(config: Config, tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    path.write_text("email;" + "x" * 100_000 + "\nanna@example.com\n", encoding="utf-8")
    with pytest.raises(MemberFileError) as caught:
        read_members(path, config)
    assert str(caught.value) == (
        f"{path}:1: the header line is 100,006 characters long, which no header is; check that this is the "
        'member list, exported as "CSV UTF-8"'
    )


@pytest.mark.parametrize("length", [LINE_MAX - 1, 2 * LINE_MAX - 1])  # "\r" last in a read, "\n" in the next
def test_crlf_split_by_the_read_limit_is_one_line_end(config: Config, tmp_path: Path, length: int) -> None:
    path = tmp_path / "members.csv"
    row = "anna@example.com,Anna,"
    path.write_bytes(
        (f"email,first_name,notes\r\n{row}{'n' * (length - len(row))}\r\nben@example.com,Ben,\r\n").encode()
    )
    report = read_members(path, config)
    assert [(m.line, m.address) for m in report.members][-1] == (3, "ben@example.com")
    assert report.rejected_rows == (0 if length < LINE_MAX else 1)


def test_a_quote_closed_in_the_part_of_a_line_not_read_does_not_swallow_the_next_rows(
    config: Config, tmp_path: Path
) -> None:
    path = tmp_path / "members.csv"
    path.write_text(
        f'email,company,first_name\nanna@example.com,"{"x" * 200_000}",Anna\nben@example.com,Kraus AG,Ben\n',
        encoding="utf-8",
    )
    report = read_members(path, config)
    assert [(m.line, m.address) for m in report.members] == [(3, "ben@example.com")]
    assert [r.line for r in report.rejected] == [2]


def rejected_rows_file(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as f:
        f.write("email;first_name;last_name;company;language\n")
        f.writelines(
            f"member{i}(at)example.com;Małgorzata;Wiśniewska;Firma {i} GmbH;de\n" for i in range(rows)
        )
    return path


def test_rejected_rows_are_not_all_held_in_memory(
    config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: 17.5 MB for 20,000 rejected rows, 35 MB for 40,000 (and 2.3 GB RSS for a 200 MB file)."""
    import newsletter.audience.csvfile as csvfile

    monkeypatch.setattr(csvfile, "_CHUNK", 1 << 16)  # the encoding check's chunk, so both files exceed it
    _, small = peak_of(read_members, rejected_rows_file(tmp_path / "small.csv", 5_000), config)
    _, large = peak_of(read_members, rejected_rows_file(tmp_path / "large.csv", 20_000), config)
    assert large < small * 1.1 and large < 4_000_000, f"{small:,} → {large:,} bytes"


def test_every_rejected_row_is_still_listed_in_order_and_in_the_report(
    config: Config, tmp_path: Path
) -> None:
    rows = 30_000
    path = rejected_rows_file(tmp_path / "members.csv", rows)
    report = read_members(path, config)
    assert (len(report.rejected), report.rejected_rows, len(report.members)) == (rows, rows, 0)
    lines = [p.line for p in report.rejected]
    assert lines == list(range(2, rows + 2))  # all of them, in file order, and again on a second pass
    assert [r.line for r in report.rejections] == lines
    assert str(next(iter(report.rejected))) == (
        f"{path}:2: column email: 'member0(at)example.com' is not a valid address: An email address must have "
        "an @-sign."
    )
    assert write_report(report, tmp_path / "report.csv") == rows
    with (tmp_path / "report.csv").open(encoding="utf-8-sig", newline="") as f:
        table = list(csv.reader(f, delimiter=";"))
    assert len(table) == rows + 1
    assert table[-1][0] == str(rows + 1) and table[-1][3:6] == [
        "member29999(at)example.com",
        "Małgorzata",
        "Wiśniewska",
    ]


def test_the_memory_benchmark_runs_and_prints_its_figures() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "audience.py"), "--rows", "300", "--repeat", "1",
         "--memory", "--large-rows", "2000", "--large-mb", "1"],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2,000 rows" in result.stdout and "in a single line" in result.stdout
    rejected = next(line for line in result.stdout.splitlines() if "rows rejected, --report" in line)
    rows = rejected.split("all ")[1].split(" rows")[0]
    assert f"listed on stderr {rows}, in the report {rows}" in rejected


def test_a_quote_never_closed_in_a_long_file_is_refused_at_its_line_not_read_to_the_end(
    config: Config, tmp_path: Path
) -> None:
    path = tmp_path / "members.csv"
    rows = "".join(f"member{i}@example.com,Firma {i}\n" for i in range(20_000))
    path.write_text(f'email,company\nanna@example.com,"Lange GmbH\n{rows}', encoding="utf-8")
    with pytest.raises(MemberFileError) as caught:
        read_members(path, config)
    assert str(caught.value) == (
        f"{path}:2: the record starting on this line runs on for more than 131,072 characters: a value in "
        'double quotes is probably never closed; add the missing "'
    )
