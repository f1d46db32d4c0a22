"""Test furniture for the subscription tests: a project with members, the real serve app under
uvicorn, a real SMTP sink as the relay, and helpers that read links out of the mails it received."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from compliance_rig import serve_app
from delivery_rig import SECRET, copy_issue, sink_env, write_members
from smtp_sink import Received, SmtpSink

from newsletter.audience.signups import consent_hash
from newsletter.config import Config, load_config
from newsletter.web.public import create_app

PUBLIC = "https://news.example.org"


@dataclass
class Service:
    project: Path
    env: dict[str, str]
    config: Config
    url: str  # where the test reaches serve (uvicorn on 127.0.0.1)
    sink: SmtpSink

    def local(self, link: str) -> str:
        """A link from a mail (under NEWSLETTER_PUBLIC_URL) as the test reaches the service."""
        assert link.startswith(PUBLIC + "/"), link
        return self.url + link[len(PUBLIC) :]

    def sign_up(self, client: httpx.Client, email: str, **fields: object) -> httpx.Response:
        data: dict[str, object] = {
            "email": email,
            "salutation": "Frau",
            "first_name": "Anna",
            "last_name": "Nowak",
            "company": "Partner Sp. z o.o.",
            "language": "pl",
            "segments": ["usa"],
            "consent": "yes",
            "consent_language": "pl",
            "website": "",
        }
        data.update(fields)
        if "consent_hash" not in fields:  # what the form shows: the hash of the text in consent_language
            shown = self.config.consent.text(self.config.language_chain(str(data["consent_language"])))
            data["consent_hash"] = consent_hash(shown[1]) if shown else ""
        return client.post(f"{self.url}/subscribe?lang=pl", data=data)  # type: ignore[arg-type]


def with_consent_limits(project: Path, per_ip_hour: int, record_ip: bool = False) -> None:
    toml = project / "newsletter.toml"
    text = toml.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^per_ip_hour = \d+", f"per_ip_hour = {per_ip_hour}", text)
    text = re.sub(r"(?m)^record_ip = \w+", f"record_ip = {'true' if record_ip else 'false'}", text)
    toml.write_text(text, encoding="utf-8")


@contextmanager
def subscription_service(
    project: Path, project_env: dict[str, str], sink: SmtpSink, *, members: int = 3, per_ip_hour: int = 100_000,
    record_ip: bool = False,
) -> Iterator[Service]:  # fmt: skip
    write_members(project, members)
    copy_issue(project)
    with_consent_limits(project, per_ip_hour, record_ip)
    env = sink_env(project_env, sink, NEWSLETTER_PUBLIC_URL=PUBLIC, NEWSLETTER_SECRET=SECRET)
    config = load_config(project, env)
    with serve_app(create_app(config)) as url:
        yield Service(project, env, config, url, sink)


_LINK = re.compile(r"https://news\.example\.org/[A-Za-z0-9_/?=.&%-]+")


def text_part(received: Received) -> str:
    message = received.message()
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def link_in(received: Received, path: str) -> str:
    """The first link under ``PUBLIC + path`` in the message's text part."""
    for link in _LINK.findall(text_part(received)):
        if link.startswith(PUBLIC + path):
            return link
    raise AssertionError(f"no {path} link in the mail:\n{text_part(received)}")
