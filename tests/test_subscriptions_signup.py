"""Double opt-in sign-up against the real serve app (uvicorn) and a real SMTP sink as the relay."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import hashlib

import httpx
import pytest
from compliance_rig import wait_until
from delivery_rig import SLUG, run_cli
from smtp_sink import smtp_sink, smtp_sink_factory  # noqa: F401  (fixtures)
from sqlalchemy import func, select
from subscription_rig import link_in, subscription_service, text_part

from newsletter.store.db import engine_for
from newsletter.store.tables import changes, consents, signups

NEW = "anna.nowak@partner-silesia.example"


def rows(config, table):  # noqa: ANN001, ANN201
    with engine_for(config.database_url).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table))]


def count(config, table) -> int:  # noqa: ANN001
    with engine_for(config.database_url).connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_sign_up_mail_get_changes_nothing_post_confirms_then_the_send_lists_the_new_member(
    project, project_env, smtp_sink
):
    with subscription_service(project, project_env, smtp_sink) as svc, httpx.Client() as client:
        form = client.get(f"{svc.url}/subscribe?lang=pl")
        assert form.status_code == 200
        assert 'name="consent"' in form.text and "Fokus na USA" in form.text
        answer = svc.sign_up(client, NEW, segments=["usa"], language="pl")
        assert answer.status_code == 200
        assert "Prosimy potwierdzić zapis" in answer.text
        (mail,) = smtp_sink.wait_for(1)
        message = mail.message()
        assert mail.rcpt_tos == (NEW,)
        assert message["Subject"] == "Potwierdź zapis na AMZ-Newsletter"
        assert message["Message-ID"].endswith("@amz-sachsen.example>")
        assert "[TEST]" not in message["Subject"] and message["List-Unsubscribe"] is None
        body = text_part(mail)
        assert body.startswith("Szanowna Pani,")  # personalised: the Polish form for "Frau"
        assert message["To"] == f"Anna Nowak <{NEW}>"
        assert "Musterstraße 1 · 09111 Chemnitz" in body  # the Impressum
        link = link_in(mail, "/confirm/")

        page = client.get(svc.local(link))  # what a mail scanner does
        assert page.status_code == 200
        assert "Tak, potwierdzam zapis" in page.text and "a…@partner-silesia.example" in page.text
        assert count(svc.config, consents) == 0 and count(svc.config, signups) == 0

        done = client.post(svc.local(link), data={"confirm": "yes"})
        assert done.status_code == 200 and "Zapis potwierdzony" in done.text
        again = client.post(svc.local(link), data={"confirm": "yes"})  # a replay changes nothing
        assert again.status_code == 200 and count(svc.config, consents) == 1

    (consent,) = rows(svc.config, consents)
    shown = svc.config.consent.texts["pl"]
    assert consent["text_hash"] == hashlib.sha256(shown.encode()).hexdigest()
    assert consent["text_language"] == "pl" and consent["language"] == "pl"
    assert consent["segments"] == "usa" and consent["source"] == "form" and consent["ip"] is None
    assert consent["requested_at"] <= consent["confirmed_at"]
    assert [c["kind"] for c in rows(svc.config, changes)] == ["signup"]

    result = run_cli(["send", f"issues/{SLUG}", "--to", "usa", "--dry-run"], svc.env, project)
    assert result.returncode == 0, result.stderr
    assert f"{NEW}\tusa.pl\twould send" in result.stdout.splitlines()


def test_the_answer_is_the_same_for_a_known_a_new_and_a_limited_address(project, project_env, smtp_sink):
    with subscription_service(project, project_env, smtp_sink) as svc, httpx.Client() as client:
        first = svc.sign_up(client, "m0@example.org")  # a member of the CSV
        second = svc.sign_up(client, "nobody.yet@example.net")  # unknown
        third = svc.sign_up(client, "m0@example.org")  # within 24 h: no second mail
        assert first.status_code == second.status_code == third.status_code == 200
        assert first.text == second.text == third.text
        smtp_sink.wait_for(2)
        assert wait_until(lambda: len(smtp_sink.messages) >= 2, 5)
    assert sorted(smtp_sink.received_by_address()) == ["m0@example.org", "nobody.yet@example.net"]


def test_a_hundred_sign_ups_for_one_address_in_a_minute_send_one_mail(project, project_env, smtp_sink):
    with subscription_service(project, project_env, smtp_sink) as svc, httpx.Client() as client:
        answers = {svc.sign_up(client, "eve@example.org").status_code for _ in range(100)}
        assert answers == {200}
        smtp_sink.wait_for(1)
        probe = svc.sign_up(client, "probe@example.org")  # a later address still gets its mail
        assert probe.status_code == 200
        smtp_sink.wait_for(2)
    assert smtp_sink.received_by_address() == {"eve@example.org": 1, "probe@example.org": 1}


def test_a_thousand_sign_ups_from_one_address_are_limited_per_hour(project, project_env, smtp_sink):
    with (
        subscription_service(project, project_env, smtp_sink, per_ip_hour=20) as svc,
        httpx.Client() as client,
    ):
        codes = [svc.sign_up(client, f"bulk{i}@example.org").status_code for i in range(1000)]
        smtp_sink.wait_for(20)
    assert codes[:20] == [200] * 20
    assert codes[20:] == [429] * 980
    assert len(smtp_sink.received_by_address()) == 20


def test_the_honeypot_gets_the_same_page_and_no_mail(project, project_env, smtp_sink):
    with subscription_service(project, project_env, smtp_sink) as svc, httpx.Client() as client:
        robot = svc.sign_up(client, "robot@example.org", website="http://spam.example")
        human = svc.sign_up(client, "human@example.org")
        assert robot.status_code == human.status_code == 200 and robot.text == human.text
        smtp_sink.wait_for(1)
    assert list(smtp_sink.received_by_address()) == ["human@example.org"]


@pytest.mark.parametrize(
    ("email", "why"),
    [
        ("ünï@example.de", "SMTPUTF8"),
        ("alice@example.org, bob@example.org", ""),
        ("no-at-sign", ""),
    ],
)
def test_bad_addresses_are_refused_with_the_member_lists_reason(project, project_env, smtp_sink, email, why):
    from newsletter.audience.address import InvalidAddress, check_address

    with pytest.raises(InvalidAddress) as expected:
        check_address(email)
    with subscription_service(project, project_env, smtp_sink) as svc, httpx.Client() as client:
        answer = svc.sign_up(client, email)
    assert answer.status_code == 400
    assert expected.value.reason.replace("'", "&#x27;") in answer.text
    assert why in expected.value.reason
    assert smtp_sink.messages == []


def test_an_internationalised_domain_is_accepted(project, project_env, smtp_sink):
    with subscription_service(project, project_env, smtp_sink) as svc, httpx.Client() as client:
        assert svc.sign_up(client, "anna@bücher.example").status_code == 200
        (mail,) = smtp_sink.wait_for(1)
    assert mail.rcpt_tos == ("anna@xn--bcher-kva.example",)


def test_without_consent_or_with_an_unknown_segment_nothing_is_sent(project, project_env, smtp_sink):
    with subscription_service(project, project_env, smtp_sink) as svc, httpx.Client() as client:
        no_consent = svc.sign_up(client, "a@example.org", consent="")
        bad_segment = svc.sign_up(client, "b@example.org", segments=["mars"])
    assert no_consent.status_code == bad_segment.status_code == 400
    assert "Prosimy zaznaczyć zgodę" in no_consent.text
    assert 'value="a@example.org"' in no_consent.text  # what was typed is kept
    assert smtp_sink.messages == []


def test_a_large_body_is_refused_before_it_is_read(project, project_env, smtp_sink):
    with subscription_service(project, project_env, smtp_sink) as svc, httpx.Client() as client:
        answer = client.post(f"{svc.url}/subscribe", content=b"email=" + b"a" * 100_000,
                             headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert answer.status_code == 413 and smtp_sink.messages == []


def test_record_ip_keeps_the_network_only(project, project_env, smtp_sink):
    with (
        subscription_service(project, project_env, smtp_sink, record_ip=True) as svc,
        httpx.Client() as client,
    ):
        svc.sign_up(client, NEW)
        (mail,) = smtp_sink.wait_for(1)
        client.post(svc.local(link_in(mail, "/confirm/")), data={"confirm": "yes"})
    (consent,) = rows(svc.config, consents)
    assert consent["ip"] == "127.0.0.0/24"


def test_a_member_who_signs_up_gets_the_consented_choice_and_per_zone_schedules_include_sign_ups(
    project, project_env, smtp_sink
):
    from newsletter.schedule.plans import members_in_zone

    with subscription_service(project, project_env, smtp_sink) as svc, httpx.Client() as client:
        for address, segments in (
            ("m0@example.org", ["usa"]),
            (NEW, ["poland"]),
        ):  # m0: poland, de in the CSV
            before = len(smtp_sink.messages)
            svc.sign_up(client, address, segments=segments, language="en")
            mail = smtp_sink.wait_for(before + 1)[-1]
            assert (
                client.post(svc.local(link_in(mail, "/confirm/")), data={"confirm": "yes"}).status_code == 200
            )
    plan = run_cli(["send", f"issues/{SLUG}", "--to", "all", "--dry-run"], svc.env, project)
    assert "m0@example.org\tusa.en\twould send" in plan.stdout.splitlines()
    assert f"{NEW}\tpoland.en\twould send" in plan.stdout.splitlines()
    warsaw = members_in_zone(
        svc.config, "poland", "Europe/Warsaw", "Europe/Warsaw", frozenset({"Europe/Warsaw"})
    )
    assert NEW in warsaw and "m0@example.org" not in warsaw


def _store(tmp_path):  # noqa: ANN001, ANN202
    from sqlalchemy import create_engine

    from newsletter.store.subscriptions import Subscriptions
    from newsletter.store.tables import metadata

    engine = create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    metadata.create_all(engine)
    return engine, Subscriptions(engine)


def _request(address: str, requested_at):  # noqa: ANN001, ANN202
    from newsletter.audience.signups import Choice, SignupRequest

    return SignupRequest(address, "", "", "", "", Choice("pl", frozenset({"usa"})), "0" * 64, "pl", None,
                         requested_at)  # fmt: skip


def test_an_old_confirmation_link_replayed_after_forget_does_not_subscribe_again(tmp_path):
    from datetime import timedelta

    from newsletter.store.db import utcnow
    from newsletter.store.tables import suppressions

    engine, subs = _store(tmp_path)
    address = "eva@partner.example"
    request = _request(address, utcnow() - timedelta(minutes=5))
    assert subs.confirm(request, "r1")
    subs.forget(address)
    assert subs.confirm(request, "r1") is False  # the same link, its consent row gone with forget
    assert subs.signup(address) is None
    with engine.connect() as conn:
        assert [r.reason for r in conn.execute(select(suppressions))] == ["erased"]


def test_a_link_requested_before_a_one_click_unsubscribe_does_not_lift_it(tmp_path):
    from datetime import timedelta

    from newsletter.audience.address import address_hash
    from newsletter.store.db import utcnow
    from newsletter.store.tables import suppressions

    engine, subs = _store(tmp_path)
    address = "eva@partner.example"
    request = _request(address, utcnow() - timedelta(days=2))
    with engine.begin() as conn:
        conn.execute(suppressions.insert().values(
            address_hash=address_hash(address), address=address,
            reason="unsubscribed", source="one-click", created_at=utcnow() - timedelta(hours=1),
        ))  # fmt: skip
    assert subs.confirm(request, "r2") is False
    with engine.connect() as conn:
        assert [r.reason for r in conn.execute(select(suppressions))] == ["unsubscribed"]
    # a new request after the unsubscribe is a new, provable consent: it lifts it
    assert subs.confirm(_request(address, utcnow()), "r3")
    with engine.connect() as conn:
        assert list(conn.execute(select(suppressions))) == []


def test_a_sign_up_the_csv_marks_unsubscribed_is_not_in_the_plan(project, project_env, smtp_sink):
    with subscription_service(project, project_env, smtp_sink) as svc, httpx.Client() as client:
        svc.sign_up(client, NEW, segments=["usa"], language="pl")
        (mail,) = smtp_sink.wait_for(1)
        assert client.post(svc.local(link_in(mail, "/confirm/")), data={"confirm": "yes"}).status_code == 200
    with (project / "subscribers.csv").open("a", encoding="utf-8") as fh:
        fh.write(f"{NEW},,,,,pl,usa\n")
    text = (project / "subscribers.csv").read_text(encoding="utf-8").splitlines()
    rows_ = (
        [text[0] + ",status"] + [line + ",subscribed" for line in text[1:-1]] + [text[-1] + ",unsubscribed"]
    )
    (project / "subscribers.csv").write_text("\n".join(rows_) + "\n", encoding="utf-8")
    plan = run_cli(["send", f"issues/{SLUG}", "--to", "usa", "--dry-run"], svc.env, project)
    assert plan.returncode == 0, plan.stderr
    assert NEW not in plan.stdout, plan.stdout
    assert "m1@example.org\tusa.en\twould send" in plan.stdout.splitlines()


def test_a_stored_choice_with_a_segment_and_language_no_longer_configured_breaks_no_send(
    project, project_env, smtp_sink
):
    from newsletter.audience.signups import Choice
    from newsletter.edges import subscriptions

    with subscription_service(project, project_env, smtp_sink) as svc:
        store = subscriptions(svc.config)
        # stored before the office renamed the segment "usa" to "america" and dropped French
        store.set_choice("m1@example.org", Choice("fr", frozenset({"usa", "america"})))
        store.set_choice("m2@example.org", Choice("pl", frozenset({"america"})))
    plan = run_cli(["send", f"issues/{SLUG}", "--to", "all", "--dry-run"], svc.env, project)
    assert plan.returncode == 0, plan.stderr
    lines = plan.stdout.splitlines()
    assert "m1@example.org\tusa.en\twould send" in lines, plan.stdout  # the member's own language
    assert "m2@example.org\tgeneral.pl\twould send" in lines, plan.stdout  # the general articles only


def test_without_a_public_url_the_form_is_closed_and_nothing_is_sent_or_counted(
    project, project_env, smtp_sink
):
    from compliance_rig import serve_app
    from delivery_rig import SECRET, sink_env, write_members

    from newsletter.config import load_config
    from newsletter.store.tables import rate_limits
    from newsletter.web.public import create_app

    write_members(project, 3)
    env = sink_env(project_env, smtp_sink, NEWSLETTER_SECRET=SECRET)
    env.pop("NEWSLETTER_PUBLIC_URL", None)
    config = load_config(project, env)
    assert config.public_url is None or not config.public_url
    data = {"email": NEW, "language": "pl", "segments": ["usa"], "consent": "yes", "consent_language": "pl",
            "website": ""}  # fmt: skip
    with serve_app(create_app(config)) as url, httpx.Client() as client:
        page = client.get(f"{url}/subscribe?lang=pl")
        assert page.status_code == 503 and 'name="consent"' not in page.text
        answer = client.post(f"{url}/subscribe?lang=pl", data=data)
        assert answer.status_code == 503 and 'name="consent"' not in answer.text
    assert smtp_sink.messages == []
    assert not [r for r in rows(config, rate_limits) if r["key"].startswith("address:")]


def _expired_counter(config, key: str) -> None:  # noqa: ANN001
    from datetime import timedelta

    from newsletter.store.db import utcnow
    from newsletter.store.tables import rate_limits

    with engine_for(config.database_url).begin() as conn:
        conn.execute(rate_limits.insert().values(key=key, count=1, window_start=utcnow() - timedelta(days=3)))


def test_expired_counters_are_purged_when_the_pages_start_and_from_submit(
    project, project_env, smtp_sink, monkeypatch
):
    from newsletter.store.tables import rate_limits
    from newsletter.web import subscribe

    def keys(config) -> set[str]:  # noqa: ANN001
        return {r["key"] for r in rows(config, rate_limits)}

    with subscription_service(project, project_env, smtp_sink) as svc:  # creates the database
        config = svc.config
    _expired_counter(config, "address:old-start")
    with subscription_service(project, project_env, smtp_sink) as svc, httpx.Client() as client:
        assert "address:old-start" not in keys(svc.config)  # purged when the pages started
        _expired_counter(svc.config, "address:old-submit")
        svc.sign_up(client, NEW)
        assert "address:old-submit" in keys(svc.config)  # at most once an hour
        monkeypatch.setattr(subscribe, "PURGE_EVERY", 0.0)
        svc.sign_up(client, "other@partner.example")
        assert "address:old-submit" not in keys(svc.config)
        assert any(k.startswith("address:") for k in keys(svc.config))  # the live counters stay


def test_a_consent_language_other_than_the_text_shown_is_asked_again(project, project_env, smtp_sink):
    from newsletter.audience.signups import consent_hash

    with subscription_service(project, project_env, smtp_sink) as svc, httpx.Client() as client:
        form = client.get(f"{svc.url}/subscribe?lang=pl")
        shown_pl = consent_hash(svc.config.consent.texts["pl"])
        assert f'name="consent_hash" value="{shown_pl}"' in form.text
        forged = svc.sign_up(client, NEW, consent_language="de", consent_hash=shown_pl)
        assert forged.status_code == 400 and 'name="consent"' in forged.text
        assert svc.sign_up(client, NEW, consent_language="pl", consent_hash=shown_pl).status_code == 200
        (mail,) = smtp_sink.wait_for(1)
        assert client.post(svc.local(link_in(mail, "/confirm/")), data={"confirm": "yes"}).status_code == 200
    (consent,) = rows(svc.config, consents)
    assert consent["text_hash"] == shown_pl and consent["text_language"] == "pl"


def test_a_confirmation_mail_the_relay_defers_is_tried_again(
    project, project_env, smtp_sink_factory, monkeypatch
):
    from newsletter.web import subscribe

    monkeypatch.setattr(subscribe, "RETRY_WAITS", (0.6, 0.6), raising=False)
    relay = smtp_sink_factory(greylist_seconds=0.3)  # the first RCPT is refused with a 4xx
    with subscription_service(project, project_env, relay) as svc, httpx.Client() as client:
        assert svc.sign_up(client, NEW).status_code == 200
        (mail,) = relay.wait_for(1)
        assert mail.rcpt_tos == (NEW,)
    assert relay.stats.replies and any(code.startswith("45") for code in relay.stats.replies), relay.stats
