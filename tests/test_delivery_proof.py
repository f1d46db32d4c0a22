"""Proofs personalised as a member of the list: ``send ISSUE --test ADDRESS --as MEMBER_EMAIL``
(issue 10, item 15). A real CLI process against the aiosmtpd sink; the ledger stays untouched."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import shutil

import pytest
from delivery_rig import SLUG, config_for, copy_issue, run_cli, sink_env, states
from preview_rig import MEMBERS_CSV
from smtp_sink import smtp_sink_factory  # noqa: F401  (fixture)

from newsletter.edges import transport
from newsletter.model import Member
from newsletter.send.run import placeholder_member, send_test


@pytest.fixture
def issue(project):
    shutil.copy(MEMBERS_CSV, project / "subscribers.csv")  # the example list: Piotr Nowak is line 7
    return copy_issue(project)


def _text(received) -> str:
    return received.message().get_body(preferencelist=("plain",)).get_content()


def greeting(text: str) -> str:
    """The salutation line: the first line of text after the header block's ==== rule."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("===="))
    return next(line for line in lines[start + 1 :] if line.strip())


def test_proof_as_piotr_greets_him_as_the_example_list_would(project, project_env, issue, smtp_sink_factory):
    sink = smtp_sink_factory()
    env = sink_env(project_env, sink)
    result = run_cli(["send", SLUG, "--test", "a@x.example", "--as", "Piotr.Nowak@example.com"], env, project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith(
        "sent [TEST] to a@x.example as piotr.nowak@example.com (Piotr Nowak, poland.pl):"
    )
    (received,) = sink.messages
    assert received.rcpt_tos == ("a@x.example",)
    message = received.message()
    assert message["Subject"].startswith("[TEST] ") and message["To"].addresses[0].addr_spec == "a@x.example"
    text = _text(received)
    assert greeting(text) == "Szanowny Panie,"  # Pan Piotr Nowak, Polish, poland edition
    assert "Szanowni Państwo" not in text and "Erika" not in text
    assert "piotr.nowak@example.com" not in received.data.decode(
        "utf-8", "replace"
    )  # links are the recipient's
    assert states(config_for(project, env)) == {}  # no ledger row


def test_proof_as_a_member_takes_language_and_segments_unless_given(
    project, project_env, issue, smtp_sink_factory
):
    sink = smtp_sink_factory()
    env = sink_env(project_env, sink)
    args = ["send", SLUG, "--test", "a@x.example", "--as", "piotr.nowak@example.com", "--language", "de"]
    result = run_cli(args, env, project)
    assert result.returncode == 0, result.stderr
    assert "(Piotr Nowak, poland.de)" in result.stdout
    assert greeting(_text(sink.messages[0])) == "Sehr geehrter Herr Nowak,"  # "Pan" is male in German too


def test_proof_as_an_unknown_member_exits_2_with_one_line(project, project_env, issue, smtp_sink_factory):
    sink = smtp_sink_factory()
    env = sink_env(project_env, sink)
    result = run_cli(["send", SLUG, "--test", "a@x.example", "--as", "nobody@example.com"], env, project)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: --as nobody@example.com: no member with this address in subscribers.csv; "
        "use an address of the member list, or leave --as out for the sample member Erika Mustermann"
    ]
    alone = run_cli(["send", SLUG, "--to", "all", "--as", "piotr.nowak@example.com", "--yes"], env, project)
    assert alone.returncode == 2 and alone.stderr.startswith("error: --as only personalises a proof")
    assert not sink.messages and states(config_for(project, env)) == {}


def test_proof_without_as_keeps_the_sample_member(project, project_env, issue, smtp_sink_factory):
    sink = smtp_sink_factory()
    env = sink_env(project_env, sink)
    result = run_cli(["send", SLUG, "--test", "a@x.example", "--language", "pl"], env, project)
    assert result.returncode == 0, result.stderr
    assert greeting(_text(sink.messages[0])) == "Szanowni Państwo,"


def test_send_test_as_member_is_sent_to_the_proof_address(project, project_env, issue, smtp_sink_factory):
    """The library call the preview uses: the member's names, the recipient's address."""
    sink = smtp_sink_factory()
    config = config_for(project, sink_env(project_env, sink))
    anna = Member(
        address="anna.schmidt@example.com", line=2, language="de", segments=frozenset({"poland"}),
        first_name="Anna", last_name="Schmidt", salutation="Frau", company="Muster Zulieferteile GmbH",
    )  # fmt: skip
    (result,) = send_test(
        config, issue, ["poland"], "de", ["kollegin@example.org"], member=anna, transport=transport(config)
    )
    assert result.accepted
    assert greeting(_text(sink.messages[0])) == "Sehr geehrte Frau Schmidt,"
    assert placeholder_member("p@x.example", "de", frozenset()).first_name == "Erika"
