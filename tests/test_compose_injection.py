"""Header injection (CVE-2024-6923 on this Python): refused by compose, proven at a real SMTP sink."""

from __future__ import annotations

import dataclasses
import smtplib

import pytest
import smtp_sink as rig
from smtp_sink import SmtpSink

from newsletter.config import Config
from newsletter.mail.compose import MessageTemplate
from newsletter.mail.headers import HeaderInjection, check_header_value
from newsletter.model import Edition, Member

smtp_sink = rig.smtp_sink

EDITION = Edition(
    "2022-03", frozenset({"usa"}), "en", "Hello", "", "<p>[[nl:salutation]]</p>", "[[nl:salutation]]\n", ()
)
MEMBER = Member("alice@example.org", 3, "en", frozenset({"usa"}), "Alice", "Doe", "Ms")
HOSTILE = [
    "Eve =?UTF-8?Q?=0A?=Bcc: x@evil.example",
    "Eve =?utf-8?q?=0D=0A?=Bcc: x@evil.example",
    "Eve =?UTF-8?B?Cg==?=Bcc: x@evil.example",
    "Eve =?UTF-8?Q?_=00?=",
    "Eve =?UTF-8?X?abc?=",
    "Alice\r\nBcc: x@evil.example",
    "Alice\nBcc: x@evil.example",
    "Hello\n",
    "Hello\r",
    "nul\x00byte",
    "line\u2028separator",
    "vertical\x0btab",
]
SAFE_NAMES = [
    'Eve "the" O\'Brien',
    "Zoë Łukasiewicz",
    "=?UTF-8?Q?Harmless?= Name",
    "Bcc: not a header",
    "Tab\tName",
]
REQUIRED = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_refused_everywhere(config: Config, value: str) -> None:
    with pytest.raises(HeaderInjection):
        check_header_value(value, "Subject")
    with pytest.raises(HeaderInjection):
        MessageTemplate.for_edition(dataclasses.replace(EDITION, subject=value), config)
    template = MessageTemplate.for_edition(EDITION, config)
    for name_field in ("first_name", "last_name"):
        with pytest.raises(HeaderInjection, match="line 3: To name"):
            template.personalise(dataclasses.replace(MEMBER, **{name_field: value}))


@pytest.mark.parametrize(
    "address",
    [
        "alice@example.org, bob@example.org",
        "alice@example.org)<bob@example.org>",
        "alice@example.org\r\nBcc: b@x.y",
        "<alice@example.org>",
        "alice",
        "a@b@example.org",
        " alice@example.org",
    ],
)
def test_one_plain_recipient_only(config: Config, address: str) -> None:
    with pytest.raises(HeaderInjection):
        MessageTemplate.for_edition(EDITION, config).personalise(dataclasses.replace(MEMBER, address=address))


def test_sender_and_prefix_checked_once_per_edition(config: Config) -> None:
    with pytest.raises(HeaderInjection, match="From name"):
        MessageTemplate.for_edition(
            EDITION, dataclasses.replace(config, sender_name="AMZ\nBcc: x@evil.example")
        )
    with pytest.raises(HeaderInjection, match="Subject"):
        MessageTemplate.for_edition(EDITION, config, subject_prefix="[TEST]\n")


def test_at_a_real_sink_no_bcc_one_rcpt_all_headers(config: Config, smtp_sink: SmtpSink) -> None:
    config = dataclasses.replace(config, public_url="https://news.example.org")
    subjects = ["Hello", "Grüße aus Chemnitz", "=?UTF-8?Q?Hi?= there", "x" * 300]
    sent = refused = 0
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as conn:
        for subject in subjects + HOSTILE:
            try:
                template = MessageTemplate.for_edition(dataclasses.replace(EDITION, subject=subject), config)
            except HeaderInjection:
                refused += 1
                continue
            for i, name in enumerate(SAFE_NAMES + HOSTILE):
                member = dataclasses.replace(MEMBER, address=f"m{sent}-{i}@example.org", first_name=name)
                try:
                    message = template.personalise(member)
                except HeaderInjection:
                    refused += 1
                    continue
                conn.sendmail(message.envelope_from, [message.recipient], message.data)
                sent += 1
    assert sent == len(subjects) * len(SAFE_NAMES) and refused == len(HOSTILE) * (1 + len(subjects))
    received = smtp_sink.wait_for(sent)
    for record in received:
        msg = record.message()
        assert record.rcpt_commands == 1 and len(record.rcpt_tos) == 1
        assert msg.get_all("Bcc") is None and b"\nBcc:" not in record.data and not msg.defects
        assert all(len(msg.get_all(name) or []) == 1 for name in REQUIRED)
        assert [a.addr_spec for a in msg["To"].addresses] == list(record.rcpt_tos)
        assert msg.get_content_type() == "multipart/alternative"
    assert {r.message()["Subject"] for r in received} == set(subjects)
