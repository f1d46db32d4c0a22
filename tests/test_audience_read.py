"""Reading the subscriber CSV: encodings, delimiters, physical line numbers, files that cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.audience import read_members
from newsletter.config import Config
from newsletter.model import AudienceError, MemberFileError

CSV = Path(__file__).resolve().parent / "fixtures" / "csv"


def rows(config: Config, case: str) -> list[tuple[int, str, str, str, str, str, list[str]]]:
    report = read_members(CSV / f"{case}.csv", config)
    return [
        (m.line, m.address, m.first_name, m.last_name, m.company, m.language, sorted(m.segments))
        for m in report.members
    ]


EXCEL_MEMBERS = [
    (2, "joerg.mueller@example.com", "Jörg", "Müller", "Weißwasser Präzisionsteile GmbH", "de", ["poland"]),
    (4, "baerbel.koenig@example.org", "Bärbel", "König", "Öko-Zulieferer Sachsen GmbH", "de", ["usa"]),
    (5, "andrzej.wojcik@example.net", "André", "Straße", "Fa. Groß; Söhne & Co.", "pl", ["poland", "usa"]),
]


@pytest.mark.parametrize(
    ("case", "encoding"),
    [("excel-utf8-bom-semicolon", "utf-8-sig"), ("excel-cp1252-semicolon", "cp1252")],
)
def test_excel_exports_with_bom_or_cp1252_and_semicolons(config: Config, case: str, encoding: str) -> None:
    report = read_members(CSV / f"{case}.csv", config)
    assert (report.encoding, report.delimiter, report.rows) == (encoding, ";", 3)
    assert report.header[0] == "email"  # no BOM left in the first column name
    assert rows(config, case) == EXCEL_MEMBERS
    assert not report.rejected


LOST = (
    "has '?' inside a word: Windows-1252 has no ł, ś, ż, ą, ę, ń, ź …, so the export probably replaced "
    'such a letter; export the file as "CSV UTF-8" instead'
)


def test_cp1252_question_marks_inside_words_are_warned_at_row_and_column(config: Config) -> None:
    path = CSV / "cp1252_polish_question_marks.csv"
    report = read_members(path, config)
    assert report.encoding == "cp1252"
    assert [str(p) for p in report.warnings] == [
        f"{path}:2: warning: column first_name: '?ukasz' {LOST}",
        f"{path}:3: warning: column first_name: 'Ma?gorzata' {LOST}",
        f"{path}:3: warning: column last_name: '?urawska' {LOST}",
        f"{path}:3: warning: column company: 'Zak?ady Metalowe ?ód? S.A.' {LOST}",
        f"{path}:5: warning: column first_name: 'Pawe?' {LOST}",
        f"{path}:5: warning: column last_name: 'Kra?' {LOST}",
    ]  # a '?' on its own (line 4's company, line 5's) is a question mark
    assert not report.rejected and len(report.members) == 4  # warnings only: the rows are still mailed


def test_an_ascii_file_may_be_a_cp1252_export_and_is_warned_too(config: Config) -> None:
    path = CSV / "ascii_export_with_question_marks.csv"
    report = read_members(path, config)
    assert [str(p) for p in report.warnings] == [f"{path}:2: warning: column last_name: 'Wi?niewski' {LOST}"]


def test_a_question_mark_in_a_utf8_file_is_what_was_written(config: Config) -> None:
    report = read_members(CSV / "utf8_question_mark_in_a_name.csv", config)
    assert report.encoding == "utf-8" and not report.warnings
    assert [(m.first_name, m.last_name) for m in report.members] == [("?ukasz", "Łódź")]


def test_blank_lines_and_header_names_in_any_case_with_spaces(config: Config) -> None:
    report = read_members(CSV / "blank-lines-and-header-case.csv", config)
    assert report.header == ("EMAIL", "First_Name", "Language")
    assert [(m.line, m.address, m.first_name, m.language) for m in report.members] == [
        (4, "anna@example.com", "Anna", "de"),
        (7, "ben@example.com", "Ben", "en"),
    ]
    assert report.rows == 2  # the blank line and the ';;' line are no rows


def test_quoted_newline_keeps_the_line_numbers_after_it_right(config: Config) -> None:
    path = CSV / "quoted-newline.csv"
    report = read_members(path, config)
    assert [str(p) for p in report.rejected] == [
        f"{path}:2: column notes: 'kommt zum\\nTreffen' contains a line break (CR/LF), NUL or another "
        "control character, which could inject mail headers; remove it",
        f"{path}:4: column company: 'Zwei\\nZeilen\\nGmbH' contains a line break (CR/LF), NUL or another "
        "control character, which could inject mail headers; remove it",
    ]
    assert [(m.line, m.address, m.company) for m in report.members] == [
        (7, "carl@example.com", "Einfach AG"),
        (8, "dora@example.com", 'Anführung "Zeichen" GmbH'),
    ]


@pytest.mark.parametrize("case", ["empty", "only-blank-lines"])
def test_empty_file_is_refused(config: Config, case: str) -> None:
    path = CSV / f"{case}.csv"
    with pytest.raises(AudienceError) as caught:
        read_members(path, config)
    assert str(caught.value) == f"{path}: the file is empty; it needs a header row with at least 'email'"


def test_header_without_email_is_refused(config: Config) -> None:
    path = CSV / "header-without-email.csv"
    with pytest.raises(AudienceError) as caught:
        read_members(path, config)
    assert str(caught.value) == (
        f"{path}:1: the header has no 'email' column (found 'e-mail-adresse', 'vorname', 'nachname'); "
        "name the address column 'email'"
    )


def test_header_naming_a_column_twice_is_refused(config: Config) -> None:
    path = CSV / "header-names-email-twice.csv"
    with pytest.raises(MemberFileError) as caught:
        read_members(path, config)
    assert (
        str(caught.value)
        == f"{path}:1: the header names column 'email' twice ('email' and 'Email'); keep one"
    )


def test_german_headers_are_read_as_the_contract_columns(config: Config) -> None:
    path = CSV / "german_headers.csv"
    report = read_members(path, config)
    assert report.header == (
        "E-Mail", "Anrede", "Vorname", "Nachname", "Firma", "Sprache", "segments", "Mitgliedsnummer"
    )  # fmt: skip
    assert report.read_as == (
        ("E-Mail", "email"),
        ("Anrede", "salutation"),
        ("Vorname", "first_name"),
        ("Nachname", "last_name"),
        ("Firma", "company"),
        ("Sprache", "language"),
    )
    assert [
        (m.line, m.address, m.salutation, m.first_name, m.last_name, m.company, m.language, dict(m.extra))
        for m in report.members
    ] == [
        (2, "anna.schmidt@example.com", "Frau", "Anna", "Schmidt", "Schmidt Präzisionsteile GmbH", "de",
         {"mitgliedsnummer": "1001"}),
        (3, "piotr.nowak@example.com", "Pan", "Piotr", "Nowak", "Nowak Sp. z o.o.", "pl", {"mitgliedsnummer": "1002"}),
        (4, "john.miller@example.com", "Mr", "John", "Miller", "Miller Mobility Inc.", "en",
         {"mitgliedsnummer": "1003"}),
    ]  # fmt: skip
    assert [str(p) for p in report.rejected] == [  # a problem names the column as the file does
        f"{path}:5: column E-Mail: 'not-an-address' is not a valid address: An email address must have an @-sign.",
        f"{path}:5: column Sprache: unknown language 'fr'; use one of de, en, pl (empty = de)",
    ]


def test_lower_case_mail_and_german_names_are_aliases_too(config: Config) -> None:
    report = read_members(CSV / "german_headers_lowercase_mail.csv", config)
    assert report.read_as == (
        ("mail", "email"), ("vorname", "first_name"), ("nachname", "last_name"), ("sprache", "language")
    )  # fmt: skip
    assert [(m.address, m.first_name, m.last_name, m.language) for m in report.members] == [
        ("eve@example.org", "Eve", "Muster", "en")
    ]


def test_email_and_its_german_alias_together_name_the_column_twice(config: Config) -> None:
    path = CSV / "header_email_and_e_mail.csv"
    with pytest.raises(MemberFileError) as caught:
        read_members(path, config)
    assert (
        str(caught.value)
        == f"{path}:1: the header names column 'email' twice ('email' and 'E-Mail'); keep one"
    )


def test_excel_sep_line_names_the_delimiter_and_is_not_the_header(config: Config) -> None:
    path = CSV / "excel-sep-line.csv"
    report = read_members(path, config)
    assert (report.delimiter, report.header) == (";", ("email", "first_name", "company"))
    assert [(m.line, m.address, m.company) for m in report.members] == [
        (3, "anna@example.com", "Muster, Sohn & Co")
    ]
    assert [str(p) for p in report.rejected] == [
        f"{path}:4: column email: 'not-an-address' is not a valid address: An email address must have an @-sign."
    ]


def test_bytes_neither_utf8_nor_cp1252_are_refused_with_the_offset(config: Config) -> None:
    path = CSV / "invalid-bytes.csv"
    assert path.read_bytes()[56] == 0x81  # undefined in Windows-1252
    with pytest.raises(AudienceError) as caught:
        read_members(path, config)
    assert str(caught.value) == (
        f'{path}:3: byte 0x81 at byte offset 56 is neither UTF-8 nor Windows-1252; save the file as "CSV UTF-8" '
        "and try again"
    )


def test_utf8_file_with_a_stray_cp1252_byte_is_refused_not_garbled(config: Config) -> None:
    path = CSV / "mixed-utf8-and-cp1252.csv"
    with pytest.raises(AudienceError) as caught:
        read_members(path, config)
    assert str(caught.value) == (
        f"{path}:3: invalid UTF-8 byte 0xF6 at byte offset 57, though the file is UTF-8 before it; "
        'save the whole file again as "CSV UTF-8"'
    )


def test_excel_unicode_text_utf16_is_refused_not_read_as_cp1252(config: Config) -> None:
    path = CSV / "excel-unicode-text-utf16.csv"
    with pytest.raises(AudienceError) as caught:
        read_members(path, config)
    assert str(caught.value) == (
        f"{path}:1: byte 0xFF at byte offset 0 starts a UTF-16 file, which is neither UTF-8 nor "
        'Windows-1252; save the file as "CSV UTF-8" and try again'
    )


def test_a_quote_never_closed_is_refused_not_swallowing_the_rows_after_it(config: Config) -> None:
    path = CSV / "unclosed-quote.csv"
    with pytest.raises(AudienceError) as caught:
        read_members(path, config)
    assert str(caught.value) == (
        f"{path}:2: a value in double quotes starting on this line is never closed, so the rest of the "
        'file would be read as part of it; add the missing "'
    )


@pytest.mark.parametrize("undefined", [0x81, 0x8D, 0x8F, 0x90, 0x9D])
def test_every_byte_undefined_in_cp1252_is_refused(config: Config, tmp_path: Path, undefined: int) -> None:
    path = tmp_path / "members.csv"
    path.write_bytes(b"email,first_name\r\nanna@example.com,M\xfcller " + bytes([undefined]) + b"\r\n")
    with pytest.raises(AudienceError, match=rf":2: byte 0x{undefined:02X} at byte offset 42 is neither"):
        read_members(path, config)


def test_utf8_split_across_read_chunks_is_still_utf8(config: Config, tmp_path: Path, monkeypatch) -> None:
    import newsletter.audience.csvfile as csvfile

    monkeypatch.setattr(csvfile, "_CHUNK", 7)  # every multi-byte character risks a split
    path = tmp_path / "members.csv"
    path.write_text("email,first_name\nanna@example.com,Jörg Grüße Łódź\n", encoding="utf-8")
    [member] = read_members(path, config).members
    assert member.first_name == "Jörg Grüße Łódź"


@pytest.mark.parametrize(
    ("case", "kind"),
    [
        ("png_image_saved_as_csv", "a PNG image"),
        ("excel_workbook_saved_as_csv", "a zip archive (an Excel .xlsx or LibreOffice .ods workbook)"),
    ],
)
def test_a_png_or_a_workbook_is_refused_as_not_a_csv_file(config: Config, case: str, kind: str) -> None:
    path = CSV / f"{case}.csv"
    with pytest.raises(MemberFileError) as caught:
        read_members(path, config)
    assert str(caught.value) == (
        f"{path}: the file is {kind}, not a CSV file; in Excel use File → Save as → "
        '"CSV UTF-8 (Comma delimited)" and check that file'
    )
    assert caught.value.exit_code == 2


def test_missing_file_names_what_to_do(config: Config, tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(AudienceError) as caught:
        read_members(path, config)
    assert str(caught.value) == f"{path}: no such file; export the member list or set NEWSLETTER_SUBSCRIBERS"


def test_a_stray_quote_inside_a_line_is_read_leniently(config: Config, tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    path.write_text('email,company\nanna@example.com,"Muster" GmbH\nben@example.com,"B"', encoding="utf-8")
    report = read_members(path, config)
    assert [(m.line, m.company) for m in report.members] == [(2, "Muster GmbH"), (3, "B")]
    assert report.ok
