"""The office's side: `subscribers show` (GDPR Art. 15), `forget` (Art. 17) and `subscribers changes`."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import httpx
from delivery_rig import SLUG, copy_issue, run_cli
from smtp_sink import smtp_sink  # noqa: F401  (fixture)
from sqlalchemy import String, Text, select
from subscription_rig import link_in, subscription_service

from newsletter.audience import read_members
from newsletter.audience.csvfile import open_csv, records
from newsletter.edges import subscriptions
from newsletter.mail import tokens
from newsletter.store.db import engine_for
from newsletter.store.tables import metadata

NEW = "eva.kowalska@partner.example"


def sign_up_and_confirm(svc, client, email: str = NEW, **fields) -> None:  # noqa: ANN001, ANN003
    before = len(svc.sink.messages)
    svc.sign_up(client, email, **fields)
    mail = svc.sink.wait_for(before + 1)[-1]
    assert client.post(svc.local(link_in(mail, "/confirm/")), data={"confirm": "yes"}).status_code == 200


def cells_holding(config, text: str) -> list[str]:  # noqa: ANN001
    """Every (table.column) of every table of the schema whose value contains ``text``."""
    found = []
    with engine_for(config.database_url).connect() as conn:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text)]
            for row in conn.execute(select(*columns)) if columns else ():
                found += [f"{table.name}.{c.name}" for c, v in zip(columns, row, strict=True)
                          if v is not None and text.lower() in str(v).lower()]  # fmt: skip
    return found


def test_show_prints_everything_then_forget_leaves_no_plain_address_and_it_is_never_mailed(
    project, project_env, smtp_sink
):
    with subscription_service(project, project_env, smtp_sink) as svc, httpx.Client() as client:
        sign_up_and_confirm(svc, client, segments=["poland", "usa"], language="en")
        token = tokens.seal("preferences", [NEW], svc.config)
        subscriptions(svc.config).set_choice(NEW, subscriptions(svc.config).signups()[0].choice)
        sent = run_cli(["send", SLUG, "--to", "poland", "--yes"], svc.env, project)
        assert sent.returncode == 0, sent.stderr
        mailed = smtp_sink.received_by_address()[NEW]
        assert mailed == 2  # the confirmation and the issue
        client.post(f"{svc.url}/u/{tokens.make_token(NEW, 'poland', svc.config)}",
                    data={"List-Unsubscribe": "One-Click"})  # fmt: skip
        assert token

    shown = run_cli(["subscribers", "show", NEW.upper()], svc.env, project)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert out.startswith(f"{NEW}: everything the state database holds\n")
    assert "Member list: not in " in out
    for section in ("Sign-up: 1", "Consents: 1", "Preferences: 1", "Deliveries: 1", "Suppression: 1"):
        assert section in out, out
    assert "text_hash=" in out and "requested_at=" in out and "confirmed_at=" in out
    assert "edition=poland+usa.en; member_line=0; state=sent" in out and "reason=unsubscribed" in out, out
    assert cells_holding(svc.config, NEW)  # before: the address is in several tables

    erased = run_cli(["forget", NEW], svc.env, project)
    assert erased.returncode == 0, erased.stderr
    assert erased.stdout.startswith(
        f"{NEW}: erased (sign-up 1, consents 1, preferences 1, deliveries 1, changes "
    )
    assert cells_holding(svc.config, NEW) == []
    assert cells_holding(svc.config, "kowalska") == []  # the names went with the sign-up

    after = run_cli(["subscribers", "show", NEW], svc.env, project)
    assert "Suppression: 1" in after.stdout and "reason=unsubscribed" in after.stdout
    assert "Sign-up: none" in after.stdout and "Deliveries: none" in after.stdout

    # still never mailed: even when the office's next export lists the address again
    (project / "subscribers.csv").write_text(f"email,segments\n{NEW},poland\n", encoding="utf-8")
    copy_issue(project, "2022-04-naechste")
    again = run_cli(["send", "2022-04-naechste", "--to", "poland", "--yes"], svc.env, project)
    assert again.returncode == 0, again.stderr
    assert "0 sent" in again.stdout or "suppressed" in again.stdout, again.stdout
    assert smtp_sink.received_by_address()[NEW] == mailed


def test_forget_of_an_address_never_seen_keeps_its_hash_only(project, project_env, smtp_sink):
    with subscription_service(project, project_env, smtp_sink) as svc:
        erased = run_cli(["forget", "m1@example.org"], svc.env, project)
        assert erased.returncode == 0, erased.stderr
        assert "note: still in the member list at " in erased.stdout
        assert cells_holding(svc.config, "m1@example.org") == []
        plan = run_cli(["send", SLUG, "--to", "all", "--dry-run"], svc.env, project)
    assert "m1@example.org\tusa.en\tsuppressed" in plan.stdout.splitlines()


def test_changes_read_back_through_the_projects_csv_reader(project, project_env, smtp_sink):
    with subscription_service(project, project_env, smtp_sink) as svc, httpx.Client() as client:
        (project / "subscribers.csv").write_text("email;segments\nm0@example.org;poland\n", encoding="utf-8")
        sign_up_and_confirm(svc, client, first_name='=HYPERLINK("http://evil.example")', last_name="+1")
        sign_up_and_confirm(svc, client, "zoe@example.org", first_name="Zoë", language="de")
        subscriptions(svc.config).set_choice("m0@example.org", subscriptions(svc.config).signups()[0].choice)
        client.post(f"{svc.url}/u/{tokens.make_token('zoe@example.org', 'usa', svc.config)}",
                    data={"List-Unsubscribe": "One-Click"})  # fmt: skip
        run_cli(["forget", "gone@example.org"], svc.env, project)
        out = project / "changes.csv"
        written = run_cli(["subscribers", "changes", "--out", str(out)], svc.env, project)
        assert written.returncode == 0, written.stderr
        assert written.stdout == f"5 changes ever written to {out}; the next export starts from now\n"
        nothing = run_cli(["subscribers", "changes"], svc.env, project)
        assert nothing.stderr.startswith("0 changes since ")

    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with out.open(encoding="utf-8-sig", newline="") as text:
        delimiter, reader = open_csv(text)
        rows = [cells for _line, cells, _cut in records(reader, out)]
    assert delimiter == ";"  # the office's own file uses ;
    header, *body = rows
    assert header[:3] == ["when", "change", "email"]
    assert [r[1] for r in body] == ["signup", "signup", "preferences", "unsubscribed", "erasure"]
    assert all(len(r) == len(header) for r in body)
    first = next(r for r in body if r[2] == NEW)
    assert first[header.index("first_name")] == '\'=HYPERLINK("http://evil.example")'
    assert first[header.index("last_name")] == "'+1"
    assert next(r for r in body if r[1] == "erasure")[2] == ""
    members = read_members(out, svc.config)  # the office can read it as a member list too
    assert {m.address for m in (*members.members, *members.unsubscribed)} == {
        NEW,
        "zoe@example.org",
        "m0@example.org",
    }
