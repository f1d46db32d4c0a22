"""The classifier (newsletter.reports, pure) over one fixture file per case (tests/fixtures/inbox/)."""

from __future__ import annotations

import pytest
from inbox_rig import CASES, FOLDER, fill

from newsletter.reports import Kind, classify
from newsletter.reports.classify import Phrases

VALUES = {
    "ADDRESS": "anna.schmidt@example.org",
    "OTHER": "jan.kowalski@example.com",
    "BOUNCE": "bounces@amz-sachsen.example",
    "VERP": "bounces+42-0123456789ab@amz-sachsen.example",
    "BAD_VERP": "bounces+42-000000000000@amz-sachsen.example",
    "MESSAGE_ID": "<feedc0ffee.2022-03-laenderfokus@amz-sachsen.example>",
    "TOKEN": "gAAAAAB" + "x" * 120,
}
PHRASES = Phrases(
    out_of_office=("Abwesenheitsnotiz", "Automatic reply", "Odpowiedź automatyczna"),
    bounce_notice=("Undeliverable", "failure notice", "Mail delivery failed"),
)


def test_every_fixture_file_has_a_case_and_the_readme_lists_it() -> None:
    files = sorted(p.name for p in FOLDER.glob("*.eml"))
    assert files == sorted(CASES)
    readme = (FOLDER / "README.md").read_text(encoding="utf-8")
    assert [name for name in files if f"`{name}`" not in readme] == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_classified_as_its_case(name: str) -> None:
    expect = CASES[name]
    report = classify(fill(name, VALUES), PHRASES)
    assert report.kind == expect.kind
    if expect.severities:
        assert tuple(r.severity for r in report.recipients) == expect.severities


def test_postfix_hard_bounce_names_recipient_status_diagnostic_original_and_verp() -> None:
    report = classify(fill("dsn-postfix-hard-5.1.1.eml", VALUES), PHRASES)
    (recipient,) = report.recipients
    assert recipient.address == "anna.schmidt@example.org" and recipient.status == "5.1.1"
    assert recipient.diagnostic.startswith("550 5.1.1 <anna.schmidt@example.org>: Recipient address rejected")
    assert report.original_message_ids == (VALUES["MESSAGE_ID"],)
    assert VALUES["VERP"] in report.verp_candidates
    assert report.key == "<20260302081407.4Q1x2y3z4@relay.amz-sachsen.example>"
    assert f"{report.date:%Y-%m-%d %H:%M}" == "2026-03-02 08:14"


def test_exchange_5_0_0_is_read_by_the_diagnostic_s_5_1_10() -> None:
    (recipient,) = classify(fill("dsn-exchange-hard-5.0.0-with-5.1.10.eml", VALUES), PHRASES).recipients
    assert (recipient.severity, recipient.status) == ("hard", "5.1.10")


def test_text_rfc822_headers_give_the_original_message_id() -> None:
    report = classify(fill("dsn-exim-hard-rfc822-headers.eml", VALUES), PHRASES)
    assert report.original_message_ids[0] == VALUES["MESSAGE_ID"]


def test_multi_recipient_dsn_lists_each_recipient() -> None:
    report = classify(fill("dsn-multi-recipient-hard-and-soft.eml", VALUES), PHRASES)
    assert [(r.address, r.severity, r.status) for r in report.recipients] == [
        ("anna.schmidt@example.org", "hard", "5.1.1"),
        ("jan.kowalski@example.com", "soft", "4.3.0"),
    ]


def test_complaints_name_the_member_and_the_original() -> None:
    for name in (
        "arf-abuse-original-rcpt-to.eml",
        "arf-abuse-to-of-the-original.eml",
        "arf-jmrp-rfc822-headers.eml",
    ):
        report = classify(fill(name, VALUES), PHRASES)
        assert [r.address for r in report.recipients] == ["anna.schmidt@example.org"], name
        assert report.original_message_ids == (VALUES["MESSAGE_ID"],), name
        assert VALUES["VERP"] in report.verp_candidates, name


def test_unsubscribe_token_from_subject_and_from_body() -> None:
    assert classify(fill("mailto-unsubscribe-token-in-subject.eml", VALUES)).token == VALUES["TOKEN"]
    assert classify(fill("mailto-unsubscribe-token-in-body.eml", VALUES)).token == VALUES["TOKEN"]


def test_a_reply_quoting_the_unsubscribe_link_is_a_person_s_mail() -> None:
    report = classify(fill("reply-member-html-quoting-the-newsletter.eml", VALUES), PHRASES)
    assert report.kind is Kind.PERSONAL and report.token == ""


def test_out_of_office_subjects_need_the_catalogue_s_phrases() -> None:
    raw = fill("ooo-subject-pl.eml", VALUES)
    assert classify(raw, PHRASES).kind is Kind.AUTO_REPLY
    assert classify(raw, Phrases()).kind is Kind.PERSONAL


def test_plain_text_notices_are_guesses_with_the_quoted_message_id() -> None:
    for name in ("notice-exchange-plain-text.eml", "notice-exim-plain-text.eml", "notice-qmail-failure.eml"):
        report = classify(fill(name, VALUES), PHRASES)
        assert [(r.address, r.severity) for r in report.recipients] == [
            ("anna.schmidt@example.org", "hard")
        ], name
        assert VALUES["MESSAGE_ID"] in report.original_message_ids, name


def test_a_mail_without_message_id_is_keyed_by_its_hash() -> None:
    raw = fill("reply-member-without-message-id.eml", VALUES)
    assert classify(raw).key.startswith("sha256:") and classify(raw).key == classify(raw).key


def test_garbage_never_raises() -> None:
    for raw in (
        b"",
        b"\x00\xff" * 100,
        b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\n--x",
    ):
        assert classify(raw).kind in (Kind.PERSONAL, Kind.DSN)


def _forged_report_quoting_ids(domain: str, ids: int, recipients: int) -> bytes:
    fields = "".join(
        f"\r\nFinal-Recipient: rfc822; member{n}@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        for n in range(recipients)
    )
    quoted = "".join(f"Message-ID: <x{n}@{domain}>\r\n" for n in range(ids))
    return (
        "From: mailer-daemon@forger.example\r\nTo: bounces@amz-sachsen.example\r\n"
        "Message-ID: <forged-many-ids@forger.example>\r\nSubject: Undelivered Mail\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        f"--b\r\nContent-Type: text/plain\r\n\r\n{quoted}\r\n"
        f"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; forger.example\r\n{fields}\r\n"
        "--b--\r\n"
    ).encode()


def test_a_forged_report_quoting_thousands_of_our_message_ids_costs_a_handful_of_lookups(
    project, project_env
) -> None:
    from datetime import UTC, datetime

    from delivery_rig import config_for
    from sqlalchemy import event

    from newsletter.edges import inbox_book
    from newsletter.inbox.decide import Context, decide

    config = config_for(project, project_env)
    report = classify(_forged_report_quoting_ids(config.mail_domain, 10_000, 20), PHRASES)
    assert report.kind == Kind.DSN and len(report.recipients) == 20
    book = inbox_book(config)
    book.known()  # the schema exists before counting
    statements: list[str] = []
    event.listen(book.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    plan = decide(report, Context(config, book, datetime.now(UTC)))
    assert plan.changes is None and "nobody suppressed" in plan.left_because
    by_message_id = [s for s in statements if "deliveries.message_id = " in s]
    assert len(by_message_id) <= 3  # once per report, not per recipient: the first few ids only
    assert len(statements) <= 3 + len(report.recipients)  # + the address look-up without VERP


def test_a_mail_with_a_message_id_longer_than_300_is_recorded_once_even_when_counts_are_not_told(
    project, project_env, monkeypatch
) -> None:
    from datetime import UTC, datetime

    from delivery_rig import config_for

    import newsletter.store.inbox as store
    from newsletter.edges import inbox_book
    from newsletter.store.inbox import Changes, Event

    real = store.insert_ignore
    monkeypatch.setattr(store, "insert_ignore", lambda *a: real(*a) and 0)  # a driver that tells no counts
    long_id = "<" + "x" * 400 + "@relay.example>"
    report = classify(f"Message-ID: {long_id}\r\nSubject: hallo\r\n\r\ntext\r\n".encode())
    assert len(report.key) <= 300
    book = inbox_book(config_for(project, project_env))

    def once(address: str) -> None:
        event = Event(
            report.key, 0, "dsn", "hard", address, None, None, "5.1.1", "suppressed", "", True, None
        )
        book.record(Changes((event,), (), ((address, "bounced", "dsn"),)), datetime.now(UTC))

    once("first@example.org")
    assert book.suppressed("first@example.org")  # acted the first time, though the count said 0
    assert report.key in book.known()
    once("second@example.org")
    assert not book.suppressed("second@example.org")  # recorded already: changes nothing
