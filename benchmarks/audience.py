"""Benchmark: `subscribers check` on a generated 100,000-row member list vs a bare email-validator loop.

    .venv/bin/python benchmarks/audience.py [--rows N] [--repeat N] [--domains N]

Prints, for one generated file (German-Excel style: UTF-8 with BOM, ``;``, umlauts, a few
duplicates and bad rows):
- the library call ``read_members`` (in this process) and a bare ``validate_email`` loop over the
  same address cells, timed alternately (best of --repeat), and their ratio (goal ≤ 1.5).
  read_members validates each mail domain once, so the number of distinct domains matters:
  --domains 5000 by default; --domains 1000000 makes nearly every domain unique (the worst case);
- the whole CLI ``newsletter subscribers check FILE`` in a subprocess (interpreter start, imports
  and the suppression lookup included) and its peak RSS from ``getrusage(RUSAGE_CHILDREN)``
  (goal ≤ 200 MB), against the bare loop (goal ≤ 1.5×). The bare loop runs in this process with
  email-validator imported and the cells in a list, so that ratio charges the CLI with its whole
  start-up and the CSV reading; a second line compares it with the bare loop as a whole process
  too (interpreter start, ``import email_validator``, the csv module reading the same file).

With --memory it also reports the peak RSS of ``subscribers check`` (each in its own measuring
process) on --large-rows rows of the same kind (default 1,000,000), on a --large-mb MB file whose
every row is rejected (with ``--report``: every rejected row must reach stderr and the report),
and on a file whose one member row is a single --large-mb MB line (default 200 MB each).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsletter.audience import read_members  # noqa: E402
from newsletter.config import load_config  # noqa: E402

FIRST = [
    "Anna",
    "Jörg",
    "Bärbel",
    "Łukasz",
    "Agnieszka",
    "John",
    "Emily",
    "Thomas",
    "Małgorzata",
    "Uwe",
    "Sabine",
]
LAST = [
    "Müller",
    "Schröder",
    "Nowak",
    "Wiśniewski",
    "Miller",
    "Johnson",
    "König",
    "Groß",
    "Lewandowski",
    "Weiß",
]
COMPANY = ["Präzisionsguss GmbH", "Kabelsysteme AG", "Sp. z o.o.", "Mobility Partners Inc.", "Söhne & Co. KG"]
SEGMENTS = ["poland", "usa", "poland|usa", "", "", "USA"]
LANGUAGES = ["de", "de", "de", "en", "pl", ""]
ZONES = ["", "", "", "", "Europe/Berlin", "Europe/Warsaw", "America/New_York"]


def generate(path: Path, rows: int, domains: int = 5000, seed: int = 2022) -> list[str]:
    """Write the member list; return the address cells in file order (what the bare loop validates)."""
    rng = random.Random(seed)
    cells: list[str] = []
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        f.write(
            "email;salutation;first_name;last_name;company;language;segments;timezone;status;member_no\r\n"
        )
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            roll = rng.random()
            if roll < 0.005 and i > 10:  # a case/space duplicate of an earlier member
                address = " " + cells[rng.randrange(i - 10)].strip().upper() + " "
            elif roll < 0.007:  # a bad cell
                address = f"member{i}@example.com, other{i}@example.org"
            else:
                address = f"member.{i}.{rng.randrange(10**6)}@company{rng.randrange(domains)}.example.com"
            cells.append(address)
            company = f'"{last} {rng.choice(COMPANY)}"'
            status = "unsubscribed" if rng.random() < 0.01 else ""
            f.write(
                f"{address};{rng.choice(['Frau', 'Herr', 'Ms', 'Mr', 'Pani', 'Pan'])};{first};{last};{company};"
                f"{rng.choice(LANGUAGES)};{rng.choice(SEGMENTS)};{rng.choice(ZONES)};{status};{100000 + i}\r\n"
            )
    return cells


def bare_loop(cells: list[str]) -> int:
    valid = 0
    for cell in cells:
        try:
            validate_email(cell.strip(), check_deliverability=False)
            valid += 1
        except EmailNotValidError:
            pass
    return valid


# The bare loop as a whole process: the same cells read from the file by the csv module.
_BARE_PROCESS = """\
import csv, sys
from email_validator import EmailNotValidError, validate_email
valid = 0
with open(sys.argv[1], encoding="utf-8-sig", newline="") as f:
    rows = csv.reader(f, delimiter=";")
    next(rows)
    for row in rows:
        try:
            validate_email(row[0].strip(), check_deliverability=False)
            valid += 1
        except EmailNotValidError:
            pass
"""


def timed(fn, *args):  # type: ignore[no-untyped-def]
    """(CPU seconds, wall seconds, result): CPU time is what other load on a shared machine disturbs least."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn(*args)
    return time.process_time() - cpu, time.perf_counter() - wall, result


def run_cli(path: Path, tmp: Path) -> tuple[float, float, int, float]:
    """(CPU seconds, wall seconds, exit code, peak RSS in MB) of `newsletter subscribers check` in a subprocess."""
    code, peak, wall, cpu, _ = measured(path, tmp)
    return cpu, wall, code, peak


# Runs one command and reports its exit code, peak RSS (KiB) and CPU seconds: RUSAGE_CHILDREN of a
# process with that one child, so the figures are that command's alone, however often we measure.
_MEASURE = """\
import resource, subprocess, sys
with open(sys.argv[1], "wb") as out, open(sys.argv[2], "wb") as err:
    code = subprocess.run(sys.argv[3:], stdout=out, stderr=err).returncode
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(code, usage.ru_maxrss, usage.ru_utime + usage.ru_stime)
"""


def run_bare_process(path: Path, tmp: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of the bare loop as a whole process."""
    _, _, wall, cpu, _ = measured(path, tmp, command=[sys.executable, "-c", _BARE_PROCESS, str(path)])
    return cpu, wall


def measured(
    path: Path, tmp: Path, *extra: str, command: list[str] | None = None
) -> tuple[int, float, float, float, int]:
    """(exit code, peak RSS in MB, wall seconds, CPU seconds, stderr lines) of `subscribers check`."""
    env = dict(os.environ, NEWSLETTER_DATABASE=f"sqlite:///{tmp / 'state.db'}")
    out, err = tmp / "stdout.txt", tmp / "stderr.txt"
    command = command or [sys.executable, "-m", "newsletter", "subscribers", "check", str(path), *extra]
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(out), str(err), *command],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    code, kilobytes, cpu = proc.stdout.split()
    return int(code), int(kilobytes) / 1024, time.perf_counter() - start, float(cpu), count_lines(err)


def peak_rss(path: Path, tmp: Path, *extra: str) -> tuple[int, float, float, int]:
    """(exit code, peak RSS in MB, wall seconds, stderr lines) of `subscribers check`, measured alone."""
    code, peak, wall, _, lines = measured(path, tmp, *extra)
    return code, peak, wall, lines


def count_lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines


def generate_rejected(path: Path, megabytes: int) -> int:
    """A member list of about ``megabytes`` MB in which every row is rejected; returns the row count."""
    rows, size, limit = 0, 0, megabytes * 1_000_000
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("email;first_name;last_name;company;language;segments\r\n")
        while size < limit:
            block = "".join(
                f"member{rows + i}(at)company{(rows + i) % 5000}.example.com;Małgorzata;Wiśniewska;"
                f"Präzisionsguss GmbH;de;poland\r\n"
                for i in range(10_000)
            )
            f.write(block)
            rows, size = rows + 10_000, size + len(block.encode())
    return rows


def generate_single_line(path: Path, megabytes: int) -> None:
    """A header and one member row whose company cell makes it a single ``megabytes`` MB line."""
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("email;first_name;company\r\nanna@example.com;Anna;")
        for _ in range(megabytes):
            f.write("x" * 1_000_000)
        f.write("\r\nben@example.com;Ben;Kraus AG\r\n")


def memory(args: argparse.Namespace, tmp: Path) -> None:
    print("peak RSS of `subscribers check` (each in its own process):")
    path = tmp / "large.csv"
    generate(path, args.large_rows, args.domains)
    code, peak, wall, _ = peak_rss(path, tmp)
    size = path.stat().st_size / 1e6
    print(f"  {f'{args.large_rows:,} rows ({size:.0f} MB)':<44} {peak:8.1f} MB   {wall:6.1f} s   exit {code}")
    rows = generate_rejected(path, args.large_mb)
    code, peak, wall, errors = peak_rss(path, tmp, "--report", str(tmp / "report.csv"))
    reported = count_lines(tmp / "report.csv") - 1
    print(
        f"  {f'{args.large_mb} MB, all {rows:,} rows rejected, --report':<44} {peak:8.1f} MB   {wall:6.1f} s   "
        f"exit {code}; "
        f"listed on stderr {errors:,}, in the report {reported:,}"
    )
    generate_single_line(path, args.large_mb)
    code, peak, wall, errors = peak_rss(path, tmp)
    print(
        f"  {f'{args.large_mb} MB in a single line':<44} {peak:8.1f} MB   {wall:6.1f} s   exit {code}; "
        f"stderr: {(tmp / 'stderr.txt').read_text(encoding='utf-8')[:300].strip()!r}"
    )
    path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--domains", type=int, default=5000, help="distinct mail domains in the list")
    parser.add_argument("--memory", action="store_true", help="also measure the large files (a few minutes)")
    parser.add_argument("--large-rows", type=int, default=1_000_000)
    parser.add_argument("--large-mb", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        path = tmp / "members.csv"
        cells = generate(path, args.rows, args.domains)
        size_mb = path.stat().st_size / 1e6
        figures = measure(path, tmp, cells, args.repeat)
    print(
        f"audience benchmark: {args.rows:,} rows, up to {args.domains:,} mail domains, {size_mb:.1f} MB "
        f"(UTF-8 with BOM, ';'), best of {args.repeat}"
    )
    show(figures, args.rows)
    if args.memory:
        with tempfile.TemporaryDirectory() as folder:
            memory(args, Path(folder))


def measure(path: Path, tmp: Path, cells: list[str], repeat: int) -> dict:  # type: ignore[type-arg]
    """Best (CPU, wall) of each way, the four alternated so that all see the same machine load."""
    config = load_config(ROOT, {})
    library, bare, process, cli = [], [], [], []
    for _ in range(repeat):
        cli.append(run_cli(path, tmp))
        process.append(run_bare_process(path, tmp))
        cpu, wall, report = timed(read_members, path, config)
        library.append((cpu, wall))
        found = (len(report.members), report.unsubscribed_count, len(report.duplicates), report.rejected_rows)
        del report  # the next run starts without the last one's members in memory
        cpu, wall, valid = timed(bare_loop, cells)
        bare.append((cpu, wall))
    return {"library": min(library), "bare": min(bare), "process": min(process), "cli": min(cli),
            "found": found, "valid": valid}  # fmt: skip


def show(f: dict, rows: int) -> None:  # type: ignore[type-arg]
    (lib, base, process), (cli_cpu, cli_wall, code, peak_mb) = (
        (f["library"], f["bare"], f["process"]),
        f["cli"],
    )
    print(
        "  members {:,}, unsubscribed {:,}, duplicates {:,}, rejected rows {:,}; ".format(*f["found"])
        + f"bare loop valid {f['valid']:,}"
    )
    print("                                      CPU s    wall s   µs/row (CPU)")
    for name, (cpu, wall) in (
        ("read_members (library)", lib),
        ("bare email-validator loop", base),
        ("bare loop, whole process", process),
    ):
        print(f"  {name:<32} {cpu:8.2f}  {wall:8.2f}   {cpu / rows * 1e6:8.1f}")
    print(f"  {'CLI subscribers check':<32} {cli_cpu:8.2f}  {cli_wall:8.2f}   {cli_cpu / rows * 1e6:8.1f}"
          f"   (whole process, exit {code})")  # fmt: skip
    print(
        f"  ratio library / bare loop        {lib[0] / base[0]:8.2f}  (CPU; wall {lib[1] / base[1]:.2f})   goal ≤ 1.5"
    )
    print(
        f"  ratio CLI / bare loop            {cli_cpu / base[0]:8.2f}  (CPU; wall {cli_wall / base[1]:.2f})   goal ≤ 1.5"
    )
    print(
        f"  ratio CLI / bare loop, both whole processes {cli_cpu / process[0]:5.2f}  "
        f"(CPU; wall {cli_wall / process[1]:.2f})"
    )
    print(f"  CLI peak RSS                     {peak_mb:8.1f} MB                 goal ≤ 200 MB")


if __name__ == "__main__":
    main()
