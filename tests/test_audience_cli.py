"""The audience commands by their exact output and exit codes: subscribers check, suppress, suppressions."""

from __future__ import annotations

import csv
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from newsletter.audience import read_members
from newsletter.cli import main
from newsletter.config import Config
from newsletter.store.db import engine_for
from newsletter.store.suppressions import Suppressions

REPO = Path(__file__).resolve().parent.parent
CSV = Path(__file__).resolve().parent / "fixtures" / "csv"


@pytest.fixture
def run(project: Path, project_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(project)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=project_env, catch_exceptions=False)

    return invoke


def test_check_example_list_prints_a_summary_and_exits_0(run, project: Path) -> None:
    shutil.copy(REPO / "subscribers.example.csv", project / "members.csv")
    result = run("subscribers", "check", "members.csv")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "members.csv: 20 rows (UTF-8, delimiter ','): 19 members to mail",
        "  19 valid members, 0 of them suppressed · 1 unsubscribed in the file · 0 duplicates merged · "
        "0 rows rejected",
        "",
        "Members to mail per segment and language:",
        "  segment            de     en     pl   total",
        "  poland              4      2      3       9",
        "  usa                 6      4      1      11",
        "  (no segment)        2      1      1       4",
        "  all members         9      6      4      19",
        "  (a member in several segments counts in each of their segments' rows, once in 'all members')",
        "  Editions: general.de 2, general.en 1, general.pl 1, poland+usa.de 3, poland+usa.en 1, "
        "poland+usa.pl 1, poland.de 1, poland.en 1, poland.pl 2, usa.de 3, usa.en 3",
        "",
        "Unsubscribed in the file (never mailed): 1",
        "  members.csv:19: monika.krause@example.net",
        "",
        "Every row is valid.",
    ]


def test_check_lists_every_bad_row_on_stderr_and_exits_1(run, project: Path) -> None:
    shutil.copy(CSV / "segments-and-languages.csv", project / "subscribers.csv")
    result = run("subscribers", "check")  # the CSV from the configuration
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "subscribers.csv:5: column language: unknown language 'fr'; use one of de, en, pl (empty = de)",
        "subscribers.csv:5: column segments: unknown segment 'china'; known: poland, usa (several separated by |)",
        "subscribers.csv:6: column segments: unknown segments 'mexico', 'china'; known: poland, usa "
        "(several separated by |)",
        "subscribers.csv:6: column timezone: unknown time zone 'Europe/Chemnitz'; use an IANA name such as "
        "Europe/Berlin or America/New_York",
        "subscribers.csv:6: column status: unknown status 'maybe'; use subscribed or unsubscribed "
        "(empty = subscribed)",
    ]
    assert (
        result.stdout.splitlines()[0] == "subscribers.csv: 6 rows (UTF-8, delimiter ','): 4 members to mail"
    )
    assert result.stdout.splitlines()[-1] == (
        "2 rows rejected (5 reasons, listed on stderr as CSV:line: message); fix them in the member database "
        "and export again"
    )


def test_check_says_which_german_column_was_read_as_which(run, project: Path) -> None:
    shutil.copy(CSV / "german_headers.csv", project / "members.csv")
    result = run("subscribers", "check", "members.csv")
    assert result.exit_code == 1  # line 5 is rejected
    assert result.stdout.splitlines()[:2] == [
        "members.csv: 4 rows (UTF-8 with BOM, delimiter ';'): 3 members to mail",
        "  column 'E-Mail' read as email, 'Anrede' as salutation, 'Vorname' as first_name, "
        "'Nachname' as last_name, 'Firma' as company, 'Sprache' as language",
    ]
    assert result.stderr.splitlines() == [
        "members.csv:5: column E-Mail: 'not-an-address' is not a valid address: An email address must have an "
        "@-sign.",
        "members.csv:5: column Sprache: unknown language 'fr'; use one of de, en, pl (empty = de)",
    ]


def test_check_warns_of_letters_lost_in_a_cp1252_export_and_still_exits_0(run, project: Path) -> None:
    shutil.copy(CSV / "cp1252_polish_question_marks.csv", project / "members.csv")
    result = run("subscribers", "check", "members.csv")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[:2] == [
        "members.csv:2: warning: column first_name: '?ukasz' has '?' inside a word: Windows-1252 has no ł, ś, ż, "
        'ą, ę, ń, ź …, so the export probably replaced such a letter; export the file as "CSV UTF-8" instead',
        "members.csv:3: warning: column first_name: 'Ma?gorzata' has '?' inside a word: Windows-1252 has no ł, "
        'ś, ż, ą, ę, ń, ź …, so the export probably replaced such a letter; export the file as "CSV UTF-8" '
        "instead",
    ]
    assert len(result.stderr.splitlines()) == 6
    assert result.stdout.splitlines()[-6:] == [
        "6 name or company cells have '?' inside a word (warnings on stderr). A Windows-1252",
        '  export ("CSV (Trennzeichen-getrennt)") cannot hold Polish letters such as ł, ś, ż, ą, ę, ń, ź and',
        """  writes '?' instead. In Excel use File → Save as → "CSV UTF-8 (Comma delimited)" and check the new""",
        "  file. Warnings do not change the exit code.",
        "",
        "Every row is valid.",
    ]


def test_check_shows_duplicates_and_exits_0(run, project: Path) -> None:
    shutil.copy(CSV / "case-and-space-duplicates.csv", project / "dupes.csv")
    result = run("subscribers", "check", "dupes.csv")
    assert result.exit_code == 0
    assert (
        "Duplicates (merged into the first row): 2\n"
        "  dupes.csv:3: warning: duplicate of line 2 (eve@example.com): segments merged, the other fields of "
        "line 2 kept\n"
        "  dupes.csv:5: warning: duplicate of line 2 (eve@example.com): segments merged, the other fields of "
        "line 2 kept\n"
    ) in result.stdout


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("header-without-email", "members.csv:1: the header has no 'email' column (found 'e-mail-adresse', "
         "'vorname', 'nachname'); name the address column 'email'"),
        ("empty", "members.csv: the file is empty; it needs a header row with at least 'email'"),
        ("png_image_saved_as_csv", "members.csv: the file is a PNG image, not a CSV file; in Excel use "
         'File → Save as → "CSV UTF-8 (Comma delimited)" and check that file'),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_read_at_all_is_one_line_on_stderr_and_exit_2(
    run, project: Path, case: str, message: str
) -> None:
    """README exit codes: 1 = some row rejected; 2 = the file cannot be read at all (not "rows invalid")."""
    shutil.copy(CSV / f"{case}.csv", project / "members.csv")
    result = run("subscribers", "check", "members.csv")
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message + "\n")


def test_report_for_the_office_is_formula_safe_utf8_with_bom(run, project: Path) -> None:
    shutil.copy(CSV / "formula-injection.csv", project / "members.csv")
    result = run("subscribers", "check", "members.csv", "--report", "rejected.csv")
    assert result.exit_code == 1
    assert (
        result.stdout.splitlines()[-1]
        == "Report for the office written to rejected.csv: 4 rejected rows, 5 reasons"
    )
    raw = (project / "rejected.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(raw.decode("utf-8-sig").splitlines(keepends=True)))
    cells = [cell for row in table for cell in row]
    assert [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")] == []
    assert table[0] == ["line", "column", "message", "email", "first_name", "last_name", "company"]
    assert table[1][0:2] == ["2", "email"]
    assert table[1][3:] == ["not-an-address-1", '\'=HYPERLINK("http://evil.example","x")', "Muster", "'+1"]
    assert table[2][3:] == ["not-an-address-2", "'-2", "'@SUM(A1)", "'\t=1"]
    assert [row[:2] for row in table[3:5]] == [["4", "email"], ["4", "company"]]
    assert table[3][3] == "'=cmd|' /C calc'!A0@example.org" and table[3][6] == "'\r=1"
    assert table[5][3:] == ["'+49@example", "'@Alice", "Muster", "'-Minus GmbH"]


def test_report_into_a_missing_folder_is_one_line_not_a_traceback(run, project: Path) -> None:
    shutil.copy(CSV / "formula-injection.csv", project / "members.csv")
    result = run("subscribers", "check", "members.csv", "--report", "Berichte/abgelehnt.csv")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Berichte/abgelehnt.csv: cannot write the file (No such file or directory); check that the folder "
        "exists and the file is not open in Excel"
    )
    result = run("suppressions", "--out", "Berichte/gesperrt.csv")
    assert result.exit_code == 1
    assert result.stderr == (
        "Berichte/gesperrt.csv: cannot write the file (No such file or directory); check that the folder "
        "exists and the file is not open in Excel\n"
    )


def test_suppress_add_list_remove(run, project: Path) -> None:
    result = run("suppress", " EVE@Example.com ", "--reason", "unsubscribed", "--source", "mailto 2026-11-20")
    assert (result.exit_code, result.stdout) == (
        0,
        "suppressed eve@example.com (unsubscribed, source: mailto 2026-11-20); it will not be mailed again\n",
    )
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    again = run("suppress", "eve@example.com", "--reason", "bounced")
    assert again.exit_code == 0
    assert again.stdout == (
        f"eve@example.com was already suppressed (unsubscribed on {today}, source: mailto 2026-11-20); "
        "left as it was\n"
    )
    dash = run("suppress", "--reason", "bounced", "--source", "smtp 550 5.1.1", "--", "-dash@example.org")
    assert dash.exit_code == 0, dash.output
    listing = run("suppressions")
    lines = listing.stdout.splitlines()
    assert lines[0] == "address            reason        when (UTC)         source"
    assert lines[1].startswith("eve@example.com    unsubscribed  " + today)
    assert lines[1].endswith("   mailto 2026-11-20")
    assert lines[-1] == "2 suppressed addresses"
    as_csv = run("suppressions", "--csv").stdout.splitlines()
    assert as_csv[0] == "address,reason,when,source"
    assert as_csv[2].startswith("'-dash@example.org,bounced,")  # formula-safe for Excel
    run("suppressions", "--out", "suppressed.csv")
    assert (project / "suppressed.csv").read_bytes().startswith(b"\xef\xbb\xbfaddress,reason,when,source\r\n")

    removed = run("unsuppress", "Eve@example.COM")
    assert removed.stdout == (
        "removed eve@example.com (unsubscribed) from the suppression list\n"
        "note: this address had unsubscribed or complained; keep the member's new consent on file\n"
    )
    assert run("suppress", "--remove", "--", "-dash@example.org").stdout == (
        "removed -dash@example.org (bounced) from the suppression list\n"
    )
    assert run("unsuppress", "nobody@example.org").stdout == (
        "nobody@example.org is not on the suppression list; nothing to do\n"
    )
    assert run("suppressions").stdout == "The suppression list is empty.\n"


def test_suppress_validates_the_address_and_needs_a_reason(run) -> None:
    bad = run("suppress", "a@example.org, b@example.org", "--reason", "manual")
    assert (bad.exit_code, bad.stderr) == (
        1,
        "error: 'a@example.org, b@example.org' holds more than one address; put one address per row\n",
    )
    no_reason = run("suppress", "eve@example.com")
    assert no_reason.exit_code == 2
    assert "give --reason: unsubscribed, bounced, complained or manual" in no_reason.stderr
    wrong = run("suppress", "eve@example.com", "--reason", "spam")
    assert wrong.exit_code == 2


def test_suppression_beats_a_reimported_old_export(run, project: Path, config: Config) -> None:
    """FAULT-PLAN 24(f): the member unsubscribed; the office re-imports last year's CSV; still suppressed."""
    shutil.copy(REPO / "subscribers.example.csv", project / "subscribers.csv")
    assert (
        run(
            "suppress", "Anna.Schmidt@example.com", "--reason", "unsubscribed", "--source", "one-click"
        ).exit_code
        == 0
    )

    report = read_members(project / "subscribers.csv", config)  # the old export still lists her
    assert "anna.schmidt@example.com" in {m.address for m in report.members}
    store = Suppressions(engine_for(config.database_url))
    assert store.filter(m.address for m in report.members) == {"anna.schmidt@example.com"}

    result = run("subscribers", "check")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "subscribers.csv: 20 rows (UTF-8, delimiter ','): 18 members to mail"
    assert lines[1].startswith("  19 valid members, 1 of them suppressed · ")
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert "Suppressed in the state database (never mailed; suppression beats the file): 1" in lines
    assert f"  subscribers.csv:2: anna.schmidt@example.com: unsubscribed on {today} (one-click)" in lines
    assert "  all members         8      6      4      18" in lines


def test_check_dns_flag_is_accepted_and_bad_cells_never_reach_dns(run, project: Path) -> None:
    shutil.copy(CSV / "hostile-address-cells.csv", project / "members.csv")
    (project / "members.csv").write_text(
        "\n".join((project / "members.csv").read_text().splitlines()[:3]) + "\n", encoding="utf-8"
    )
    result = run("subscribers", "check", "members.csv", "--check-dns")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "members.csv:2: column email: 'a@example.org, b@example.org' holds more than one address; "
        "put one address per row",
        "members.csv:3: column email: 'alice@example.org)<bob@example.org>' holds more than one address; "
        "put one address per row",
    ]


def test_missing_member_list_names_what_to_do(run) -> None:
    result = run("subscribers", "check")
    assert result.exit_code == 2
    assert result.stderr == (
        "subscribers.csv: no such file; export the member list or set NEWSLETTER_SUBSCRIBERS\n"
    )


def test_suppress_a_mailto_unsubscribe_by_its_subject(run, config: Config) -> None:
    from newsletter.mail.tokens import make_token

    token = make_token("piotr.nowak@example.com", "poland", config)
    result = run("suppress", "--token", f"unsubscribe {token}", "--reason", "unsubscribed")
    assert (result.exit_code, result.stdout) == (
        0,
        "suppressed piotr.nowak@example.com (unsubscribed, source: mailto); it will not be mailed again\n",
    )
    bad = run("suppress", "--token", "unsubscribe " + token[:-8] + "AAAAAAAA", "--reason", "unsubscribed")
    assert bad.exit_code == 1
    assert bad.stderr == "error: this link is not valid or was altered\n"
    both = run("suppress", "eve@example.com", "--token", token, "--reason", "manual")
    assert both.exit_code == 2
    assert "give the ADDRESS or --token (the subject of a mailto: unsubscribe), one of them" in both.stderr
