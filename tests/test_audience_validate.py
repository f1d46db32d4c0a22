"""Validating member rows: hostile addresses, header injection, segments, languages, duplicates."""

from __future__ import annotations

from pathlib import Path

from newsletter.audience import read_members
from newsletter.config import Config

CSV = Path(__file__).resolve().parent / "fixtures" / "csv"
INJECTION = "which could inject mail headers"


def test_header_injection_in_names_is_rejected_with_row_and_column(config: Config) -> None:
    path = CSV / "header-injection-in-names.csv"
    report = read_members(path, config)
    assert [str(p) for p in report.rejected] == [
        f"{path}:2: column first_name: 'Eve =?UTF-8?Q?=0A?=Bcc: x@evil.example' contains an RFC 2047 encoded "
        f"word (=?…?=), which could hide a line break and inject mail headers; write the text plainly",
        f"{path}:3: column first_name: 'Alice\\r\\nBcc: x@evil.example' contains a line break (CR/LF), NUL or "
        f"another control character, {INJECTION}; remove it",
        f"{path}:5: column first_name: 'Nul\\x00Byte' contains a line break (CR/LF), NUL or another control "
        f"character, {INJECTION}; remove it",
        f"{path}:6: column last_name: '=?utf-8?b?Cg==?=Bcc: x@evil.example' contains an RFC 2047 encoded word "
        f"(=?…?=), which could hide a line break and inject mail headers; write the text plainly",
    ]
    assert [(m.line, m.address) for m in report.members] == [(7, "bob@example.org")]
    assert report.rejected_rows == 4


def test_hostile_address_cells_are_rejected_never_split(config: Config) -> None:
    path = CSV / "hostile-address-cells.csv"
    report = read_members(path, config)
    assert [str(p) for p in report.rejected] == [
        f"{path}:2: column email: 'a@example.org, b@example.org' holds more than one address; "
        "put one address per row",
        f"{path}:3: column email: 'alice@example.org)<bob@example.org>' holds more than one address; "
        "put one address per row",
        f"{path}:4: column email: 'Alice Muster <alice@example.org>' has a display name, quotes or angle "
        "brackets; give the bare address only",
        f"{path}:5: column email: '\"Alice\" <alice@example.org>' has a display name, quotes or angle "
        "brackets; give the bare address only",
        f"{path}:6: column email: '' is empty; every row needs an address",
        f"{path}:7: column email: 'not-an-address' is not a valid address: An email address must have an @-sign.",
    ]
    assert [m.address for m in report.members] == ["carol@example.org"]


def test_idn_domain_is_accepted_in_ascii_and_smtputf8_local_part_rejected(config: Config) -> None:
    path = CSV / "idn-and-smtputf8.csv"
    report = read_members(path, config)
    assert [(m.line, m.address) for m in report.members] == [(2, "max@xn--bcher-kva.de")]
    assert [str(p) for p in report.rejected] == [
        f"{path}:3: column email: 'ünï@exämple.de' has non-ASCII characters before the @; that needs SMTPUTF8, "
        "which the relay may not support, so ask the member for an ASCII address"
    ]
    assert [str(p) for p in report.duplicates] == [
        f"{path}:4: warning: duplicate of line 2 (max@xn--bcher-kva.de): segments merged, "
        "the other fields of line 2 kept"
    ]


def test_case_and_space_duplicates_merge_into_the_first_row(config: Config) -> None:
    path = CSV / "case-and-space-duplicates.csv"
    report = read_members(path, config)
    assert [(m.line, m.address, m.first_name, m.language, sorted(m.segments)) for m in report.members] == [
        (2, "eve@example.com", "Eve", "en", ["poland", "usa"]),
        (4, "dave@example.org", "Dave", "de", []),
    ]
    assert [str(p) for p in report.duplicates] == [
        f"{path}:3: warning: duplicate of line 2 (eve@example.com): segments merged, the other fields of line 2 kept",
        f"{path}:5: warning: duplicate of line 2 (eve@example.com): segments merged, the other fields of line 2 kept",
    ]
    assert not report.rejected


def test_segments_languages_time_zones_and_status(config: Config) -> None:
    path = CSV / "segments-and-languages.csv"
    report = read_members(path, config)
    assert [(m.line, m.language, sorted(m.segments), m.timezone) for m in report.members] == [
        (2, "de", ["poland", "usa"], "Europe/Warsaw"),  # DE, Poland|USA, europe/warsaw
        (3, "de", ["poland", "usa"], None),  # empty language = default; "poland;usa" in quotes
        (4, "en", ["poland", "usa"], "America/New_York"),  # "usa, poland"
        (7, "pl", [], None),
    ]
    assert [str(p) for p in report.rejected] == [
        f"{path}:5: column language: unknown language 'fr'; use one of de, en, pl (empty = de)",
        f"{path}:5: column segments: unknown segment 'china'; known: poland, usa (several separated by |)",
        f"{path}:6: column segments: unknown segments 'mexico', 'china'; known: poland, usa (several separated by |)",
        f"{path}:6: column timezone: unknown time zone 'Europe/Chemnitz'; use an IANA name such as Europe/Berlin "
        "or America/New_York",
        f"{path}:6: column status: unknown status 'maybe'; use subscribed or unsubscribed (empty = subscribed)",
    ]
    assert report.rejected_rows == 2
    assert dict(report.per_segment) == {"poland": 3, "usa": 3, "general": 1}
    assert dict(report.per_language) == {"de": 2, "en": 1, "pl": 1}
    assert dict(report.per_segment_language) == {
        ("poland", "de"): 2,
        ("usa", "de"): 2,
        ("poland", "en"): 1,
        ("usa", "en"): 1,
        ("general", "pl"): 1,
    }
    assert dict(report.counts.per_edition) == {"poland+usa.de": 2, "poland+usa.en": 1, "general.pl": 1}


def test_unsubscribed_rows_are_counted_never_mailed_and_win_over_a_duplicate(config: Config) -> None:
    path = CSV / "unsubscribed.csv"
    report = read_members(path, config)
    assert [m.address for m in report.members] == ["ben@example.com"]
    assert [(m.line, m.address, sorted(m.segments), m.subscribed) for m in report.unsubscribed] == [
        (2, "anna@example.com", ["poland", "usa"], False)
    ]
    assert report.unsubscribed_count == 1
    assert [str(p) for p in report.duplicates] == [
        f"{path}:4: warning: duplicate of line 2 (anna@example.com): segments merged, the other fields of "
        "line 2 kept; line 2 says unsubscribed, so not mailed"
    ]
    assert report.counts.total == 1


def test_a_duplicate_names_the_line_that_says_unsubscribed(config: Config) -> None:
    """The warning is printed at the later line: it must not read as if that line were the unsubscribed one."""
    path = CSV / "duplicate_unsubscribed_in_the_later_row.csv"
    report = read_members(path, config)
    assert [m.address for m in report.members] == ["ben@example.com"]
    assert [(m.line, m.address, sorted(m.segments)) for m in report.unsubscribed] == [
        (2, "anna@example.com", ["poland", "usa"])
    ]
    merged = "segments merged, the other fields of line 2 kept"
    assert [str(p) for p in report.duplicates] == [
        f"{path}:4: warning: duplicate of line 2 (anna@example.com): {merged}; line 4 says unsubscribed, so not mailed",
        f"{path}:5: warning: duplicate of line 2 (anna@example.com): {merged}; line 4 says unsubscribed, so not mailed",
    ]


def test_an_unsubscribed_row_rejected_for_another_column_still_unsubscribes(config: Config) -> None:
    """Line 3 says unsubscribed but has a typo in its time zone: Anna must not be mailed from line 2."""
    path = CSV / "unsubscribed-in-a-rejected-row.csv"
    report = read_members(path, config)
    assert [m.address for m in report.members] == ["ben@example.com"]
    assert [(m.line, m.address, m.subscribed) for m in report.unsubscribed] == [
        (2, "anna@example.com", False)
    ]
    assert [str(p) for p in report.rejected] == [
        f"{path}:3: column timezone: unknown time zone 'Europe/Berlinn' (did you mean 'Europe/Berlin'?); use an "
        "IANA name such as Europe/Berlin or America/New_York"
    ]


def test_a_time_zone_typo_gets_a_did_you_mean(config: Config) -> None:
    path = CSV / "timezone_typo_los_angles.csv"
    report = read_members(path, config)
    iana = "use an IANA name such as Europe/Berlin or America/New_York"
    assert [str(p) for p in report.rejected] == [
        f"{path}:2: column timezone: unknown time zone 'America/Los_Angles' (did you mean 'America/Los_Angeles'?); "
        + iana,
        f"{path}:3: column timezone: unknown time zone 'Mars/Olympus'; {iana}",  # nothing close: no guess
    ]
    assert [(m.line, m.timezone) for m in report.members] == [(4, "America/Los_Angeles")]


def test_extra_columns_are_kept_and_a_row_too_wide_is_rejected(config: Config) -> None:
    path = CSV / "extra-columns-and-row-width.csv"
    report = read_members(path, config)
    assert [(m.line, dict(m.extra)) for m in report.members] == [
        (2, {"member_no": "1001", "region": "Chemnitz"}),
        (3, {"member_no": "1002", "region": ""}),  # a short row: missing cells are empty
        (4, {"member_no": "1003", "region": "Zwickau"}),  # a trailing empty cell is fine
    ]
    assert [str(p) for p in report.rejected] == [
        f"{path}:5: the row has 5 cells but the header has 4 columns: 'Dora, Müller' (column first_name) "
        "probably contains ',' and must be in double quotes"
    ]
    assert list(report.rejections)[0].cells == ("dora@example.com", "Dora", " Müller", "1004", "Leipzig")


def test_an_unquoted_semicolon_in_a_value_is_named_not_reported_as_shifted_columns(config: Config) -> None:
    """Excel writes every column, so the extra cell is empty: the tell is the shifted values after it."""
    path = CSV / "unquoted_semicolon_in_company.csv"
    report = read_members(path, config)
    tail = "probably contains ';' and must be in double quotes"
    assert [str(p) for p in report.rejected] == [
        f"{path}:2: the row has 9 cells but the header has 8 columns: 'Lange GmbH; Co. KG' (column company) {tail}",
        f"{path}:4: the row has 9 cells but the header has 8 columns: 'Berg & Söhne;Werkzeugbau' (column company) "
        f"{tail}",
        f"{path}:5: the row has 9 cells but the header has 8 columns: 'Lange GmbH; Co. KG' (column company) {tail}",
    ]
    assert [m.address for m in report.members] == ["ben.kraus@example.com"]
    assert list(report.rejections)[0].cells == (
        "anna.lange@example.com", "Anna", "Lange", "Lange GmbH", " Co. KG", "de", "poland", "", ""
    )  # fmt: skip


def test_a_row_wider_than_the_header_with_no_value_to_join_says_so(config: Config) -> None:
    path = CSV / "row_wider_than_header_no_value_to_join.csv"
    report = read_members(path, config)
    assert [str(p) for p in report.rejected] == [
        f"{path}:2: the row has 4 cells but the header has 3 columns; a value containing ',' must be in double "
        "quotes"
    ]
    assert [m.address for m in report.members] == ["frank@example.com"]


def test_example_member_list_is_clean(config: Config) -> None:
    report = read_members(Path(__file__).resolve().parent.parent / "subscribers.example.csv", config)
    assert not report.rejected and not report.duplicates
    assert (report.rows, len(report.members), report.unsubscribed_count) == (20, 19, 1)
    assert set(report.per_segment) == {"poland", "usa", "general"}
    assert set(report.per_language) == {"de", "en", "pl"}
    assert all(m.address.endswith(("@example.com", "@example.org", "@example.net")) for m in report.members)
