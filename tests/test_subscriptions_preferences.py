"""The preference page /p/<token>: from a mail's footer link to the member's next edition, and a
change made during a running send, which counts from the member's next message."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import csv
from html.parser import HTMLParser

import httpx
from compliance_rig import serve_app
from delivery_rig import SECRET, SLUG, copy_issue, run_cli, sink_env, write_members
from smtp_sink import smtp_sink, smtp_sink_factory  # noqa: F401  (fixtures)
from sqlalchemy import select
from subscription_rig import PUBLIC, link_in, subscription_service

from newsletter.config import load_config
from newsletter.edges import send_parts
from newsletter.mail import tokens
from newsletter.send.run import run_send
from newsletter.store.db import engine_for
from newsletter.store.suppressions import Suppressions
from newsletter.store.tables import deliveries
from newsletter.web.public import create_app

ANNA = "anna.schmidt@member.example"


class Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action"), "fields": {}})
        elif tag == "input" and self.forms and a.get("type") == "hidden":
            self.forms[-1]["fields"][a.get("name")] = a.get("value")


def forms_of(page: str) -> list[dict]:
    parser = Forms()
    parser.feed(page)
    return parser.forms


def write_anna(project, segments: str = "poland|usa", language: str = "de") -> None:  # noqa: ANN001
    with (project / "subscribers.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "first_name", "last_name", "salutation", "language", "segments"])
        w.writerow([ANNA, "Anna", "Schmidt", "Frau", language, segments])


def edition_of(config, address: str, issue: str = SLUG) -> str:  # noqa: ANN001
    with engine_for(config.database_url).connect() as conn:
        return conn.execute(
            select(deliveries.c.edition).where(deliveries.c.issue == issue, deliveries.c.address == address)
        ).scalar_one()


def test_from_the_mails_preference_link_to_poland_in_polish_for_the_next_issue(
    project, project_env, smtp_sink
):
    with subscription_service(project, project_env, smtp_sink) as svc, httpx.Client() as client:
        write_anna(project)
        sent = run_cli(["send", SLUG, "--to", "poland", "--yes"], svc.env, project)
        assert sent.returncode == 0, sent.stderr
        (mail,) = smtp_sink.wait_for(1)
        assert edition_of(svc.config, ANNA) == "poland+usa.de"
        link = link_in(mail, "/p/")
        html_part = mail.message().get_body(preferencelist=("html",)).get_content()
        footer = html_part[html_part.index("Newsletter abbestellen") :]
        assert f'href="{link}"' in footer and "Einstellungen ändern</a>" in footer  # beside "unsubscribe"
        page = client.get(svc.local(link))
        assert page.status_code == 200 and "Ihre Newsletter-Einstellungen" in page.text
        assert 'value="poland" checked' in page.text and 'value="usa" checked' in page.text
        save, _leave = forms_of(page.text)
        base = svc.local(link).split("?")[0]
        saved = client.post(base, data={**save["fields"], "language": "pl", "segments": ["poland"]})
        assert saved.status_code == 200 and "Gespeichert" in saved.text
        again = client.get(svc.local(link))
        assert 'value="poland" checked' in again.text and 'value="usa" checked' not in again.text
        assert 'value="pl" checked' in again.text

        copy_issue(project, "2022-04-naechste")
        plan = run_cli(["send", "2022-04-naechste", "--to", "poland", "--dry-run"], svc.env, project)
    assert plan.returncode == 0, plan.stderr
    assert f"{ANNA}\tpoland.pl\twould send" in plan.stdout.splitlines()
    check = run_cli(["subscribers", "check"], svc.env, project)
    assert f"subscribers.csv:2: {ANNA}: language de, segments poland|usa → language pl, segments poland" in (
        check.stdout
    )


def test_the_form_token_is_needed_and_bound_to_the_link(project, project_env, smtp_sink):
    with subscription_service(project, project_env, smtp_sink) as svc, httpx.Client() as client:
        write_anna(project)
        mine = tokens.seal("preferences", [ANNA], svc.config)
        other = tokens.seal("preferences", ["m0@example.org"], svc.config)
        (save, _) = forms_of(client.get(f"{svc.url}/p/{mine}").text)
        (foreign, _) = forms_of(client.get(f"{svc.url}/p/{other}").text)
        change = {"language": "en", "segments": ["usa"]}
        without = client.post(f"{svc.url}/p/{mine}", data=change)
        swapped = client.post(f"{svc.url}/p/{mine}", data={**foreign["fields"], **change})
        unsubscribe_token = tokens.make_token(ANNA, "poland", svc.config)
        wrong_kind = client.get(f"{svc.url}/p/{unsubscribe_token}")
        assert without.status_code == swapped.status_code == wrong_kind.status_code == 400
        assert svc_choice(svc.config) is None
        ok = client.post(f"{svc.url}/p/{mine}", data={**save["fields"], **change})
        assert ok.status_code == 200 and "Location" not in ok.headers
    assert svc_choice(svc.config) is not None


def svc_choice(config):  # noqa: ANN001, ANN201
    from newsletter.edges import subscriptions

    return subscriptions(config).choice(ANNA)


def test_unsubscribe_from_all_on_the_page_suppresses(project, project_env, smtp_sink):
    with subscription_service(project, project_env, smtp_sink) as svc, httpx.Client() as client:
        write_anna(project)
        token = tokens.seal("preferences", [ANNA], svc.config)
        (_, leave) = forms_of(client.get(f"{svc.url}/p/{token}").text)
        done = client.post(f"{svc.url}/p/{token}", data=leave["fields"])
        assert done.status_code == 200 and "Abgemeldet" in done.text
        after = client.get(f"{svc.url}/p/{token}")
        assert "ist abgemeldet" in after.text
    entry = Suppressions(engine_for(svc.config.database_url)).get(ANNA)
    assert entry is not None and entry.reason == "unsubscribed" and entry.source == "preference page"


def test_a_change_during_a_running_send_counts_from_the_next_message(project, project_env, smtp_sink_factory):
    addresses = write_members(project, 30, segments=lambda i: "poland|usa", start=0)
    copy_issue(project)
    sink = smtp_sink_factory(delays={"DATA": 0.05})  # slow: the send is still running when we change
    env = sink_env(project_env, sink, NEWSLETTER_PUBLIC_URL=PUBLIC, NEWSLETTER_SECRET=SECRET,
                   NEWSLETTER_CONNECTIONS="1")  # fmt: skip
    config = load_config(project, env)
    late, leaving = addresses[-1], addresses[-2]  # m29 (language pl), m28 (en)
    changed: list[int] = []
    with serve_app(create_app(config)) as url, httpx.Client() as client:

        def choose(address: str, **change: object) -> None:
            token = tokens.seal("preferences", [address], config)
            (save, _) = forms_of(client.get(f"{url}/p/{token}").text)
            assert client.post(f"{url}/p/{token}", data={**save["fields"], **change}).status_code == 200

        def progress(p):  # noqa: ANN001, ANN202
            if p.sent == 3 and not changed:
                changed.append(len(sink.messages))
                choose(late, language="de", segments=["poland"])
                choose(leaving, language="en", segments=["usa"])  # no longer in this send's segments

        report = run_send(config, SLUG, ["poland"], progress=progress, parts=send_parts(config))
    assert changed and changed[0] < 5
    received = {m.rcpt_tos[0]: m for m in sink.messages}
    assert late in received and leaving not in received
    assert received[late].message()["Content-Language"] == "de"
    assert received[addresses[0]].message()["Content-Language"] == "de"  # m0 was de all along
    assert received[addresses[1]].message()["Content-Language"] == "en"
    assert edition_of(config, late) == "poland.de"
    assert edition_of(config, addresses[2]) == "poland+usa.pl"
    assert report.outcomes["suppressed"] == 1 and report.outcomes["sent"] == 29
