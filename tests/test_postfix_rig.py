"""The Postfix rig itself (tests/postfix_rig.py): Postfix accepts, the final destination refuses, and
Postfix's own RFC 3464 DSNs reach the original envelope sender's Maildir."""

from __future__ import annotations

import smtplib
import socket
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import postfix_rig
import pytest
from rig_process import group_members, wait_until

pytestmark = pytest.mark.mailserver
postfix, postfix_factory = postfix_rig.postfix, postfix_rig.postfix_factory
GONE = ("gone-3@member.example", "gone-7@member.example")


def original(n: int, to: str, body: str = "Hallo") -> bytes:
    return (
        f"From: AMZ <newsletter@amz-sachsen.example>\r\nTo: {to}\r\nSubject: Newsletter {n}\r\n"
        f"Message-ID: <issue-{n}@amz-sachsen.example>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0100\r\n\r\n{body} {n}\r\n"
    ).encode()


BIG = "Hallo" + ("\r\n" + "x" * 76) * 800  # 60 kB: over Postfix's bounce_size_limit (50 kB)


def member(n: int) -> str:
    return f"gone-{n}@member.example" if n in (3, 7) else f"member-{n}@member.example"


def parsed(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[return-value]


def test_ten_messages_two_unknown_recipients_bounce_to_their_envelope_senders(postfix_factory):
    rig = postfix_factory(rejected=GONE)
    with smtplib.SMTP(rig.host, rig.port, timeout=10) as conn:
        for n in range(1, 11):
            raw = original(n, member(n), BIG if n == 7 else "Hallo")
            refused = conn.sendmail(f"bounces+t{n}@amz-sachsen.example", [member(n)], raw)
            assert refused == {}  # Postfix accepts all ten; the refusal comes later, by mail
    delivered = rig.final.wait_for(8)
    dsns = rig.wait_for_bounces(2)
    rig.wait_for_empty_queue()
    assert sorted(r for m in rig.final.messages for r in m.rcpt_tos) == sorted(
        member(n) for n in range(1, 11) if n not in (3, 7)
    )
    assert len(delivered) == len(rig.final.messages) == 8
    assert sorted(d.recipients for d in dsns) == [
        ("bounces+t3@amz-sachsen.example",),
        ("bounces+t7@amz-sachsen.example",),
    ]
    for dsn in dsns:
        n = int(dsn.recipients[0].split("+t")[1].split("@")[0])  # the VERP address names the original
        assert dsn.envelope_from == ""  # Postfix's null sender: a bounce is never bounced
        report = parsed(dsn.raw)
        assert report.get_content_type() == "multipart/report"
        assert report.get_param("report-type") == "delivery-status"
        assert report["From"] == "Mail Delivery System <MAILER-DAEMON@postfix-rig.test>"
        notice, status, returned = report.iter_parts()
        assert notice.get_content_type() == "text/plain"
        assert status.get_content_type() == "message/delivery-status"
        per_message, per_recipient = status.get_payload()
        assert per_message["Reporting-MTA"] == "dns; postfix-rig.test"
        assert per_recipient["Final-Recipient"] == f"rfc822; gone-{n}@member.example"
        assert (per_recipient["Action"], per_recipient["Status"]) == ("failed", "5.1.1")
        assert per_recipient["Diagnostic-Code"].startswith(f"smtp; 550 5.1.1 <gone-{n}@member.example>")
        if n == 3:  # the whole original comes back
            assert returned.get_content_type() == "message/rfc822"
            assert returned.get_payload()[0]["Message-ID"] == f"<issue-{n}@amz-sachsen.example>"
        else:  # a big one: only its headers
            assert returned.get_content_type() == "text/rfc822-headers"
            assert f"\r\nMessage-ID: <issue-{n}@amz-sachsen.example>\r\n" in returned.get_content()


def test_a_deferred_message_is_delivered_by_flush(postfix):
    postfix.final.script.rcpt = {"full@member.example": "452 4.2.2 Mailbox full, try later"}
    with smtplib.SMTP(postfix.host, postfix.port, timeout=10) as conn:
        conn.sendmail(
            "bounces+t1@amz-sachsen.example", ["full@member.example"], original(1, "full@member.example")
        )
    wait_until(lambda: postfix.final.stats.replies["452"], 10, "the 452 at the final destination")
    assert [m["recipients"] for m in postfix.queue()][0][0]["address"] == "full@member.example"
    postfix.final.script.rcpt = {}
    postfix.flush()
    (delivered,) = postfix.final.wait_for(1)
    assert delivered.rcpt_tos == ("full@member.example",)
    postfix.wait_for_empty_queue()
    assert postfix.bounces() == []


def test_mail_deferred_past_its_lifetime_bounces_with_the_transient_status(postfix_factory):
    rig = postfix_factory(lifetime=1)
    rig.final.script.rcpt = {"full@member.example": "452 4.2.2 Mailbox full, try later"}
    with smtplib.SMTP(rig.host, rig.port, timeout=10) as conn:
        conn.sendmail(
            "bounces+t1@amz-sachsen.example", ["full@member.example"], original(1, "full@member.example")
        )
    (dsn,) = rig.wait_for_bounces(1, timeout=30)
    per_recipient = parsed(dsn.raw).get_payload()[1].get_payload()[1]
    assert (per_recipient["Action"], per_recipient["Status"]) == ("failed", "4.2.2")
    assert rig.final.messages == []


def test_stop_ends_every_postfix_process_and_removes_its_folders(postfix):
    base, pgid = postfix.base, postfix._server._proc.pid  # type: ignore[union-attr]
    assert base is not None and (base / "queue" / "pid" / "master.pid").exists()
    assert len(group_members(pgid)) >= 4  # watchdog, master, qmgr, pickup (and smtpd once connected)
    postfix.stop()
    assert group_members(pgid) == []
    assert not base.exists()
    assert "daemon started -- version 3" in (postfix.folder / "postfix.log").read_text()
    with pytest.raises(OSError):
        socket.create_connection((postfix.host, postfix.port), timeout=2)
