"""The desk's people (issue 12, step 12B): users on the command line, sign-in, sessions, form
tokens, the throttle, the door with --host, and four-eyes approval by signed-in people.

Servers are real (uvicorn on 127.0.0.1 in a thread, or `newsletter desk` as a process); the
state database is real; time is a FakeClock the test moves (no sleeps)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from desk_rig import PASSWORDS, DeskServer, form_token, people, sign_in
from preview_rig import with_members

from newsletter.store.db import engine_for
from newsletter.store.edits import record_edit
from newsletter.store.users import Users


def run(
    project: Path, env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "newsletter", *args], cwd=project, env={**os.environ, **env},
                          input=stdin, capture_output=True, text=True, timeout=60)  # fmt: skip


# ── newsletter users ──


def test_users_add_list_remove_on_the_command_line(project: Path, project_env: dict[str, str]) -> None:
    added = run(project, project_env, "users", "add", "  Anna   Schmidt ", "--role", "approver", "--password-stdin",
                stdin="anna-geheim-2026\n")  # fmt: skip
    assert (added.returncode, added.stdout) == (
        0,
        "added Anna Schmidt (approver); they can sign in to `newsletter desk` now\n",
    )
    listed = run(project, project_env, "users", "list")
    assert listed.returncode == 0
    assert (
        listed.stdout.startswith("Anna Schmidt  approver  created ")
        and "last sign-in: never signed in" in listed.stdout
    )
    assert "argon2" not in listed.stdout and "anna-geheim" not in listed.stdout
    removed = run(project, project_env, "users", "remove", "ANNA schmidt")
    assert (removed.returncode, removed.stdout) == (0, "removed Anna Schmidt (approver)\n")
    assert run(project, project_env, "users", "list").stdout.startswith("no users:")


@pytest.mark.parametrize(
    ("args", "stdin", "line"),
    [
        (("add", "Bob", "--role", "editor", "--password-stdin"), "kurz\n",
         "error: the password must have at least 10 characters"),
        (("add", "Bob", "--role", "editor"), "",
         "error: no terminal to ask for the password; pipe it in with --password-stdin"),
        (("add", "   ", "--role", "editor", "--password-stdin"), "lang-genug-123\n",
         "error: give the person's name, e.g. newsletter users add 'Anna Schmidt' --role editor"),
        (("remove", "Niemand"), None, "error: no user named 'Niemand'; see `newsletter users list`"),
    ],
)  # fmt: skip
def test_users_bad_input_exits_2_with_one_line(
    project: Path, project_env: dict[str, str], args, stdin, line
) -> None:
    done = run(project, project_env, "users", *args, stdin=stdin)
    assert (done.returncode, done.stderr.strip()) == (2, line)


def test_names_are_unique_whatever_their_case(project: Path, project_env: dict[str, str]) -> None:
    people(project_env, ("Anna Schmidt", "approver"))
    again = run(project, project_env, "users", "add", "anna SCHMIDT", "--role", "editor", "--password-stdin",
                stdin="noch-ein-passwort\n")  # fmt: skip
    assert again.returncode == 2
    assert again.stderr.strip() == (
        "error: a user named 'Anna Schmidt' exists already; choose another name or remove that one first"
    )


def test_passwords_are_argon2id_and_rehashed_when_parameters_change(project_env: dict[str, str]) -> None:
    users = people(project_env, ("Anna Schmidt", "approver"))
    old = users.stored_hash("anna schmidt")
    assert old is not None and old.startswith("$argon2id$") and "m=1024," in old
    assert users.verify("Anna Schmidt", "wrong-password-1") is None
    assert users.stored_hash("anna schmidt") == old  # a wrong password changes nothing
    stronger = Users(engine_for(project_env["NEWSLETTER_DATABASE"]))  # argon2-cffi's default parameters
    user = stronger.verify("anna schmidt", PASSWORDS["Anna Schmidt"])
    assert user is not None and user.name == "Anna Schmidt"
    new = stronger.stored_hash("anna schmidt")
    assert new != old and new is not None and new.startswith("$argon2id$") and "m=1024," not in new
    assert stronger.get("Anna Schmidt").last_sign_in is not None  # type: ignore[union-attr]


# ── the door ──


def test_making_users_computes_no_hash_until_an_unknown_name_signs_in(project_env: dict[str, str]) -> None:
    from argon2 import PasswordHasher

    hashed: list[str] = []

    class Counting(PasswordHasher):
        def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
            hashed.append(str(password))
            return super().hash(password, salt=salt)

    users = Users(
        engine_for(project_env["NEWSLETTER_DATABASE"]), Counting(time_cost=1, memory_cost=8, parallelism=1)
    )
    assert hashed == []  # every request's Users() costs no argon2 hash (tens of ms, 64 MiB)
    assert users.verify("Niemand Unbekannt", "falsch-1234") is None
    assert users.verify("Niemand Anderes", "falsch-1234") is None
    assert len(hashed) == 1  # the dummy hash of unknown names, made once


def test_desk_on_another_host_without_users_refuses_to_start(
    project: Path, project_env: dict[str, str]
) -> None:
    done = run(project, project_env, "desk", "--host", "0.0.0.0", "--port", "0")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: the desk on 0.0.0.0 would let anyone on the network in; add a user first "
        "(newsletter users add NAME --role editor), or leave out --host"
    ]
    assert done.stdout == ""


@pytest.fixture
def guarded(project: Path, project_env: dict[str, str], example_issue: Path) -> Iterator[DeskServer]:
    """The desk as with --host: users exist, every page needs a session."""
    with_members(project)
    people(project_env, ("Anna Schmidt", "approver"), ("Bernd Müller", "editor"), ("Clara Nowak", "approver"))
    desk = DeskServer(project, project_env, loopback=False).start()
    yield desk
    desk.stop()


PAGES = ["/", "/issues/2022-03-laenderfokus/", "/issues/2022-03-laenderfokus/edition/poland.de",
         "/issues/2022-03-laenderfokus/outbox", "/issues/2022-03-laenderfokus/delivery",
         "/issues/2022-03-laenderfokus/events", "/issues/2022-03-laenderfokus/issue/images/x.png"]  # fmt: skip


def test_every_page_but_sign_in_redirects_to_sign_in(guarded: DeskServer) -> None:
    with guarded.client() as client:
        for path in PAGES:
            answer = client.get(path)
            assert answer.status_code == 303, path
            location = httpx.URL(answer.headers["location"])
            assert location.path == "/signin", path
            assert location.params.get("next", "/") == path
        page = client.get("/signin")
        assert page.status_code == 200 and 'id="sign-in"' in page.text
        posted = client.post("/issues/new", data={"slug": "2099-01-x"})
        assert (posted.status_code, posted.headers["location"]) == (303, "/signin")


def test_sign_in_returns_to_the_page_asked_for_and_never_to_another_site(guarded: DeskServer) -> None:
    with guarded.client() as client:
        token = form_token(client.get("/signin").text)
        for target, back in [("/issues/2022-03-laenderfokus/outbox", "/issues/2022-03-laenderfokus/outbox"),
                             ("//evil.example/x", "/"), ("https://evil.example/", "/"), ("/\\evil.example", "/"),
                             ("/signin", "/")]:  # fmt: skip
            answer = client.post("/signin", data={"csrf": token, "name": "Bernd Müller",
                                                  "password": PASSWORDS["Bernd Müller"], "next": target})  # fmt: skip
            assert (answer.status_code, answer.headers["location"]) == (303, back), target
            token = form_token(client.get("/").text)  # signed in: a new session, a new token
            client.post("/signout", data={"csrf": token})
            token = form_token(client.get("/signin").text)


def test_session_cookie_is_httponly_strict_and_ends_when_idle_or_old(guarded: DeskServer) -> None:
    with guarded.client() as client:
        answer = sign_in(client, "Bernd Müller")
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert client.get("/").status_code == 200
        guarded.clock.advance(29 * 60)
        assert client.get("/").status_code == 200  # used within 30 minutes: still open (and renewed)
        guarded.clock.advance(31 * 60)
        assert client.get("/").status_code == 303  # idle for 31 minutes: signed out
        sign_in(client, "Bernd Müller")
        for _ in range(25):  # busy all day, but [desk] session_hours = 12 ends it
            guarded.clock.advance(29 * 60)
            client.get("/")
        assert client.get("/").status_code == 303


def test_a_forged_cookie_or_a_removed_user_is_signed_out(guarded: DeskServer) -> None:
    with guarded.client() as client:
        sign_in(client, "Bernd Müller")
        assert client.get("/").status_code == 200
        guarded.users.remove("Bernd Müller")
        assert client.get("/").status_code == 303
    with guarded.client() as client:
        client.cookies.set(
            guarded.desk.sessions.cookie, "eyJzaWQiOiJ4IiwidXNlciI6IkFubmEgU2NobWlkdCJ9.forged"
        )
        assert client.get("/").status_code == 303


def test_a_copied_cookie_no_longer_works_after_signing_out(guarded: DeskServer) -> None:
    with guarded.client() as client:
        sign_in(client, "Bernd Müller")
        copied = client.cookies[guarded.desk.sessions.cookie]
        assert client.post("/signout", data={"csrf": form_token(client.get("/").text)}).status_code == 303
    with guarded.client() as thief:
        thief.cookies.set(guarded.desk.sessions.cookie, copied)
        answer = thief.get("/")
        assert answer.status_code == 303 and httpx.URL(answer.headers["location"]).path == "/signin"


def test_a_post_without_the_form_token_is_refused_and_changes_nothing(
    guarded: DeskServer, project: Path, project_env: dict[str, str]
) -> None:
    with guarded.client() as client:
        sign_in(client, "Anna Schmidt")
        token = form_token(client.get("/").text)
        for data in ({"slug": "2099-01-neu"}, {"slug": "2099-01-neu", "csrf": "0" * 64}):
            answer = client.post("/issues/new", data=data)
            assert answer.status_code == 403 and "nichts geändert" in answer.text
        foreign = client.post("/issues/new", data={"slug": "2099-01-neu", "csrf": token},
                              headers={"Origin": "http://evil.example"})  # fmt: skip
        assert foreign.status_code == 403
        assert not (project / "issues" / "2099-01-neu").exists()
        approve = client.post("/issues/2022-03-laenderfokus/approve", data={})
        assert approve.status_code == 403
        assert approvals(project_env) == []
        signout = client.post("/signout", data={})
        assert signout.status_code == 403 and client.get("/").status_code == 200  # still signed in


def approvals(env: dict[str, str]) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from newsletter.store.tables import approvals as table

    with engine_for(env["NEWSLETTER_DATABASE"]).connect() as conn:
        return [(r.issue, r.approved_by) for r in conn.execute(select(table))]


def test_twenty_wrong_passwords_in_a_minute_are_throttled(guarded: DeskServer) -> None:
    with guarded.client() as client:
        token = form_token(client.get("/signin").text)

        def attempt(name: str, password: str) -> httpx.Response:
            return client.post(
                "/signin", data={"csrf": token, "name": name, "password": password, "next": "/"}
            )

        for i in range(20):
            answer = attempt("Anna Schmidt", f"falsch-{i}")
            assert answer.status_code == 401 and "Name oder Passwort stimmt nicht." in answer.text
        guarded.clock.advance(30)
        refused = attempt("Anna Schmidt", PASSWORDS["Anna Schmidt"])  # the right one, too soon
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "30"
        assert "Zu viele falsche Passwörter. Versuchen Sie es in 30 Sekunden wieder." in refused.text
        other = attempt("Bernd Müller", PASSWORDS["Bernd Müller"])  # same address: throttled as well
        assert other.status_code == 429
        guarded.clock.advance(31)  # the window has passed
        assert attempt("Anna Schmidt", PASSWORDS["Anna Schmidt"]).status_code == 303


def test_wrong_passwords_sent_at_once_are_throttled_as_well(
    guarded: DeskServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time
    from concurrent.futures import ThreadPoolExecutor

    real = guarded.users.verify

    def slow(name: str, password: str):  # a real argon2 verify takes this long on a busy server
        time.sleep(0.1)
        return real(name, password)

    monkeypatch.setattr(guarded.users, "verify", slow)
    with guarded.client() as client:
        token = form_token(client.get("/signin").text)
        cookies = dict(client.cookies)

    def attempt(i: int) -> int:
        with guarded.client() as one:
            one.cookies.update(cookies)
            data = {"csrf": token, "name": "Anna Schmidt", "password": f"falsch-{i}", "next": "/"}
            return one.post("/signin", data=data).status_code

    with ThreadPoolExecutor(25) as pool:
        codes = list(pool.map(attempt, range(25)))
    assert sorted(codes) == [401] * 20 + [429] * 5


def test_unknown_name_and_wrong_password_get_the_same_answer(guarded: DeskServer) -> None:
    with guarded.client() as client:
        token = form_token(client.get("/signin").text)
        answers = [client.post("/signin", data={"csrf": token, "name": name, "password": "falsch-1234", "next": "/"})
                   for name in ("Anna Schmidt", "Niemand Unbekannt")]  # fmt: skip
        assert [a.status_code for a in answers] == [401, 401]
        assert answers[0].text.replace("Anna Schmidt", "N") == answers[1].text.replace(
            "Niemand Unbekannt", "N"
        )


# ── four eyes ──


def approve(client: httpx.Client, slug: str = "2022-03-laenderfokus") -> str:
    """Press the approve button on the issue's page; the page it comes back to, as text."""
    page = client.get(f"/issues/{slug}/edit")
    answer = client.post(f"/issues/{slug}/approve", data={"csrf": form_token(page.text)})
    assert answer.status_code == 303 and answer.headers["location"] == f"/issues/{slug}/edit#approval"
    return client.get(f"/issues/{slug}/edit").text


def test_approval_by_the_last_editor_is_refused_by_another_approver_recorded(
    guarded: DeskServer, project_env: dict[str, str]
) -> None:
    engine = engine_for(project_env["NEWSLETTER_DATABASE"])
    record_edit(engine, "2022-03-laenderfokus", "Anna Schmidt")  # what the desk's save handlers call
    with guarded.client() as anna:
        sign_in(anna, "Anna Schmidt")
        page = approve(anna)
        assert (
            "Sie haben diese Ausgabe zuletzt bearbeitet; eine andere Person mit Freigaberecht muss sie freigeben."
            in page
        )
        assert approvals(project_env) == []
    with guarded.client() as bernd:
        sign_in(bernd, "Bernd Müller")
        assert "Freigeben darf nur, wer die Rolle Freigabe hat." in approve(bernd)
        assert approvals(project_env) == []
    with guarded.client() as clara:
        sign_in(clara, "Clara Nowak")
        page = approve(clara)
        assert "Freigegeben von Clara Nowak am 2026-11-21 10:00 CET." in page  # the FakeClock's 09:00 UTC
        assert approvals(project_env) == [("2022-03-laenderfokus", "Clara Nowak")]
        home = clara.get("/").text
        assert "Freigegeben von Clara Nowak am 2026-11-21 10:00 CET" in home


def test_an_edit_after_approval_voids_it_on_the_home_page(
    guarded: DeskServer, project_env: dict[str, str], example_issue: Path
) -> None:
    with guarded.client() as clara:
        sign_in(clara, "Clara Nowak")
        approve(clara)
        article = next((example_issue / "articles").glob("*.de.md"))
        article.write_text(article.read_text(encoding="utf-8") + "\nEin Satz mehr.\n", encoding="utf-8")
        home = clara.get("/").text
        assert "Freigabe ungültig: geändert seit der Freigabe von Clara Nowak am 2026-11-21 10:00 CET" in home
        assert 'data-state="approved"' not in home


def test_newsletter_approve_by_name_keeps_working(
    project: Path, project_env: dict[str, str], example_issue: Path
) -> None:
    done = run(project, project_env, "approve", str(example_issue), "--by", "Anna Schmidt")
    assert done.returncode == 0 and done.stdout.startswith(
        "2022-03-laenderfokus: approved by Anna Schmidt on "
    )


# ── the single editor on 127.0.0.1 ──


def test_single_editor_on_loopback_works_without_sign_in_and_is_told(
    project: Path, project_env: dict[str, str], example_issue: Path
) -> None:
    desk = DeskServer(project, project_env, loopback=True).start()
    try:
        with desk.client() as client:
            for path in ("/", "/issues/2022-03-laenderfokus/", "/issues/2022-03-laenderfokus/outbox"):
                page = client.get(path)
                assert page.status_code == 200, path
                assert 'id="single-editor"' in page.text and "Ohne Anmeldung" in page.text, path
            page = approve(client)
            assert "Freigeben im Schreibtisch geht nur mit Anmeldung" in page
            assert approvals(project_env) == []
            people(project_env, ("Anna Schmidt", "approver"))  # the first user: from now on, sign in
            assert client.get("/").status_code == 303
    finally:
        desk.stop()


def test_the_return_path_after_sign_in_stays_on_the_desk() -> None:
    from newsletter.web.desk.auth import safe_return

    assert safe_return("/issues/x/outbox?view=text") == "/issues/x/outbox?view=text"
    for hostile in ("//evil.example", "https://evil.example/", "/\\evil.example", "/../x", "/.env", "javascript:alert(1)",
                    "/signin?next=//evil.example", "", None):  # fmt: skip
        assert safe_return(hostile) == "/", hostile


def test_the_throttle_counts_per_key_in_a_sliding_minute() -> None:
    from newsletter.clock import FakeClock
    from newsletter.web.desk.auth import Throttle

    clock = FakeClock()
    throttle = Throttle(clock, limit=3, window=60)
    for _ in range(3):
        assert throttle.retry_after(["name:anna"]) is None
        throttle.fail(["name:anna"])
        clock.advance(10)
    assert throttle.retry_after(["name:anna"]) == 30  # the first failure leaves the window at 60 s
    assert throttle.retry_after(["name:bernd"]) is None
    clock.advance(30)
    assert throttle.retry_after(["name:anna"]) is None


def test_home_shows_sending_and_sent_with_the_ledgers_counts(
    guarded: DeskServer, project_env: dict[str, str]
) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from newsletter.store.tables import deliveries

    now = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    rows = [{"issue": "2022-03-laenderfokus", "address": f"m{i}@example.org", "send_id": 1, "edition": "poland.de",
             "state": state, "attempts": 1, "created_at": now, "updated_at": now}
            for i, state in enumerate(["sent", "sent", "failed", "pending"])]  # fmt: skip
    engine = engine_for(project_env["NEWSLETTER_DATABASE"])
    with engine.begin() as conn:
        conn.execute(insert(deliveries), rows)
    with guarded.client() as client:
        sign_in(client, "Bernd Müller")
        assert "Wird versendet: 2 gesendet, 1 offen" in client.get("/").text
        with engine.begin() as conn:
            conn.execute(deliveries.update().where(deliveries.c.state == "pending").values(state="sent"))
        assert "Versendet: 3 gesendet, 1 fehlgeschlagen" in client.get("/").text


def test_newsletter_preview_opens_the_desk_on_its_issue_and_the_old_addresses_lead_there(
    project: Path, project_env: dict[str, str], example_issue: Path
) -> None:
    desk = DeskServer(project, project_env, loopback=True, extra_issue=example_issue.resolve()).start()
    try:
        with desk.client() as client:
            for old in ("/outbox", "/delivery", "/edition/poland.de?w=phone"):
                answer = client.get(old)
                assert (answer.status_code, answer.headers["location"]) == (
                    307,
                    f"/issues/{example_issue.name}{old}",
                )
            page = client.get(f"/issues/{example_issue.name}/edition/poland.de?w=phone")
            assert page.status_code == 200 and 'id="send-proof"' in page.text
    finally:
        desk.stop()


def test_the_folder_given_to_newsletter_preview_wins_over_issues_of_the_same_name(
    project: Path, project_env: dict[str, str], example_issue: Path
) -> None:
    import shutil

    from newsletter.config import load_config
    from newsletter.web.desk.home import issue_folders

    other = project / "elsewhere" / example_issue.name
    shutil.copytree(example_issue, other)
    folders = issue_folders(load_config(project, project_env), other.resolve())
    assert folders[example_issue.name] == other.resolve()


def test_a_foreign_host_header_is_refused_before_the_door(guarded: DeskServer) -> None:
    from preview_rig import raw_get

    status, head, _ = raw_get(guarded.port, "/signin", host="evil.example")
    assert status == 403  # DNS rebinding: the desk answers only to its own address
    status, head, _ = raw_get(guarded.port, "/signin")
    assert status == 200 and b"default-src 'none'" in head  # the preview's CSP on the desk's pages


def _on_a_terminal(project: Path, env: dict[str, str], typed: list[str]) -> tuple[int, str]:
    """`newsletter users add` with a real terminal (a pty as its controlling terminal): what it
    showed, and its exit code, after each of ``typed`` was entered at its prompt."""
    import fcntl
    import pty
    import select
    import termios
    import time

    main, child = pty.openpty()

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(child, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([sys.executable, "-m", "newsletter", "users", "add", "Anna Schmidt", "--role", "approver"],
                            cwd=project, env={**os.environ, **env}, stdin=child, stdout=child, stderr=child,
                            preexec_fn=controlling_terminal)  # fmt: skip
    os.close(child)
    shown, deadline = b"", time.monotonic() + 60

    def read_some() -> bool:
        ready, _, _ = select.select([main], [], [], 0.2)
        if not ready:
            return True
        try:
            chunk = os.read(main, 1024)
        except OSError:  # the command ended and closed the terminal
            return False
        nonlocal shown
        shown += chunk
        return bool(chunk)

    for number, line in enumerate(typed, start=1):
        while shown.count(b": ") < number and time.monotonic() < deadline and read_some():
            pass
        os.write(main, line.encode() + b"\n")
    while time.monotonic() < deadline and read_some() and proc.poll() is None:
        pass
    while read_some() and select.select([main], [], [], 0)[0]:
        pass
    proc.wait(30)
    os.close(main)
    return proc.returncode, shown.decode("utf-8", "replace")


def test_the_password_is_asked_twice_on_the_terminal_and_never_shown(
    project: Path, project_env: dict[str, str]
) -> None:
    code, shown = _on_a_terminal(project, project_env, ["anna-geheim-2026", "anna-geheim-2026"])
    assert code == 0, shown
    assert "New password (not shown): " in shown and "The same password again: " in shown
    assert "anna-geheim" not in shown
    assert "added Anna Schmidt (approver)" in shown
    code, shown = _on_a_terminal(project, project_env, ["erstes-passwort-1", "zweites-passwort-2"])
    assert code == 2 and "a user named 'Anna Schmidt' exists already" not in shown
    assert "error: the two passwords differ; nothing was stored, run the command again" in shown


def test_a_proof_from_the_desk_needs_the_desks_form_token(guarded: DeskServer) -> None:
    with guarded.client() as client:
        sign_in(client, "Bernd Müller")
        edition = "/issues/2022-03-laenderfokus/edition/poland.de"
        assert 'id="send-proof"' in client.get(edition).text
        answer = client.post(edition + "/proof", data={"addresses": "kollegin@example.org", "csrf": "0" * 64})
        assert answer.status_code == 403 and "Proof not sent" in answer.text
