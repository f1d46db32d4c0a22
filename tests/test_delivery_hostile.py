"""FAULT-PLAN #17 and #18 end to end: hostile names, subjects and address cells in, a real
aiosmtpd server out — 0 Bcc headers, one RCPT per message, every bad row named, none silently lost."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

from email import message_from_bytes
from email.policy import default
from pathlib import Path

from delivery_rig import SLUG, copy_issue, run_cli, sink_env
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)

REQUIRED = ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "List-Id")
REQUIRED += ("List-Unsubscribe", "List-Unsubscribe-Post")

# (CSV line the record starts on, record); line 1 is the header.
HOSTILE_CSV = (
    "email,first_name,last_name,language,segments\r\n"
    "clean1@example.org,Anna,Schmidt,de,poland\r\n"  # 2
    'alice1@example.org,"Alice\r\nBcc: x@evil.example",Muster,de,poland\r\n'  # 3 (spans 2 lines)
    "eve1@example.org,Eve =?UTF-8?Q?=0A?=Bcc: x@evil.example,Muster,en,poland\r\n"  # 5
    '"alice@example.org, bob@example.org",Al,Ice,de,poland\r\n'  # 6
    '"alice@example.org)<bob@example.org>",Al,Ice,de,poland\r\n'  # 7
    '" EVE@Example.com ",Eve,Trim,en,poland\r\n'  # 8
    "Eve@example.com,Eve,Case,en,usa\r\n"  # 9: duplicate of 8, merged
    "eve@example.com,Eve,Lower,en,poland\r\n"  # 10: duplicate of 8, merged
    "ünï@exämple.de,Ü,Nï,de,poland\r\n"  # 11: SMTPUTF8 local part
    "clean2@example.org,Jan,Kowalski,pl,poland|usa\r\n"  # 12
)


def test_hostile_rows_are_named_and_nothing_injected_reaches_the_server(
    project: Path, project_env: dict[str, str], smtp_sink_factory
) -> None:
    sink = smtp_sink_factory()
    copy_issue(project)
    (project / "subscribers.csv").write_text(HOSTILE_CSV, encoding="utf-8")
    env = sink_env(project_env, sink)

    result = run_cli(["send", SLUG, "--to", "all", "--yes"], env, project)

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout + result.stderr
    csv = "subscribers.csv"
    for line in (3, 5, 6, 7, 11):  # every injected or unusable row named with its line …
        assert f"{csv}:{line}: " in out, (line, out)
    for line in (2, 8, 12):  # … and no valid one
        assert f"{csv}:{line}: " not in out, (line, out)

    received = sink.received_by_address()
    assert set(received) == {"clean1@example.org", "eve@example.com", "clean2@example.org"}
    assert all(n == 1 for n in received.values())  # the three spellings of eve: one mail
    assert "bob@example.org" not in received
    for message in sink.messages:
        assert len(message.rcpt_tos) == 1 and message.rcpt_commands == 1
        parsed = message_from_bytes(message.data, policy=default)
        assert "Bcc" not in parsed and b"\nBcc:" not in message.data.split(b"\r\n\r\n", 1)[0]
        for header in REQUIRED:
            assert parsed[header], header
    eve = next(m for m in sink.messages if [a.lower() for a in m.rcpt_tos] == ["eve@example.com"])
    # The merged member keeps the first row's fields and gets the articles of both segments.
    list_id = message_from_bytes(eve.data, policy=default)["List-Id"]
    assert "poland" in list_id and "usa" in list_id, list_id
    assert b"Trim" in eve.data and b"Lower" not in eve.data


def test_a_subject_with_an_encoded_newline_is_refused_before_the_first_message(
    project: Path, project_env: dict[str, str], smtp_sink_factory
) -> None:
    sink = smtp_sink_factory()
    issue = copy_issue(project)
    text = (issue / "issue.md").read_text(encoding="utf-8")
    text = text.replace("subject:", 'subject: "Hallo =?UTF-8?Q?=0A?=Bcc: x@evil.example"\nold_subject:', 1)
    (issue / "issue.md").write_text(text, encoding="utf-8")
    (project / "subscribers.csv").write_text("email,segments\nclean1@example.org,poland\n", encoding="utf-8")

    result = run_cli(["send", SLUG, "--to", "all", "--yes"], sink_env(project_env, sink), project)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "subject" in result.stderr.lower()
    assert sink.messages == []
