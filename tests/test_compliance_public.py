"""The public service: RFC 8058 one-click unsubscribe and the archive, tested over real HTTP."""

from __future__ import annotations

import os
import random
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from compliance_rig import serve_app, suppression_rows, wait_until
from test_compliance_archive import WellFormed

from newsletter.config import load_config
from newsletter.mail import tokens
from newsletter.model import ConfigError
from newsletter.store.db import engine_for
from newsletter.store.suppressions import Suppressions
from newsletter.web.public import accept_language, create_app, mask, read_claims, safe_path

SECRET = "s3cr3t-key-for-tests-0123456789abcdef"
OLD_SECRET = "old-key-rotated-out-0123456789abcdef"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """One running service for the module (unique addresses per test keep tests independent)."""
    root = tmp_path_factory.mktemp("public")
    repo = Path(__file__).resolve().parent.parent
    toml = (repo / "newsletter.toml").read_text(encoding="utf-8")
    # the page's words are the project's templates/labels.toml, as in conftest's project
    toml = toml.replace("[newsletter]\n", f'[newsletter]\ntemplates = "{repo / "templates"}"\n', 1)
    (root / "newsletter.toml").write_text(toml, encoding="utf-8")
    (root / "issues").mkdir()
    site = root / "site"
    (site / "2026-01-x").mkdir(parents=True)
    (site / "2026-01-x" / "de.html").write_text('<!DOCTYPE html><html lang="de"><p>Archiv</p></html>')
    (site / "2026-01-x" / "treffen.ics").write_bytes(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    (site / "index.html").write_text('<!DOCTYPE html><html lang="de"><p>Start</p></html>')
    (site / ".secret").write_text("hidden")
    (root / "outside.txt").write_text("outside the site")
    os.symlink(root / "outside.txt", site / "link.txt")
    env = {
        "NEWSLETTER_DATABASE": f"sqlite:///{root / 'state.db'}",
        "NEWSLETTER_SECRET": f"{SECRET},{OLD_SECRET}",
        "NEWSLETTER_PUBLIC_URL": "https://news.example.org/nl",
        "NEWSLETTER_OUTBOX": str(root / "outbox"),
    }
    config = load_config(root, env)
    with serve_app(create_app(config)) as url:
        yield config, url, env, root


class Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"method": a.get("method"), "action": a.get("action"), "fields": {}})
        elif tag == "input" and self.forms:
            self.forms[-1]["fields"][a.get("name")] = a.get("value")


# ───────────────────────────── without tokens ─────────────────────────────


def test_archive_files_are_served(service):
    _, url, _, _ = service
    with httpx.Client(base_url=url) as client:
        page = client.get("/2026-01-x/de.html")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        ics = client.get("/2026-01-x/treffen.ics")
        assert ics.headers["content-type"].startswith("text/calendar") and ics.content.startswith(b"BEGIN:")
        assert client.get("/").text.endswith("<p>Start</p></html>")
        assert client.get("/2026-01-x/missing.html").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/../newsletter.toml",
        "/%2e%2e/newsletter.toml",
        "/..%2fnewsletter.toml",
        "/%2e%2e%2fstate.db",
        "/2026-01-x/..%2f..%2fnewsletter.toml",
        "/.secret",
        "/link.txt",
        "/%00",
        "/..\\newsletter.toml",
        "/C:%5cWindows",
    ],
)
def test_archive_traversal_is_refused(service, path):
    _, url, _, _ = service
    with httpx.Client(base_url=url) as client:
        response = client.get(httpx.URL(url + path))
    assert response.status_code in (400, 404), path
    assert b"outside" not in response.content and b"[newsletter]" not in response.content


def test_safe_path_unit(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text("x")
    assert safe_path(tmp_path, "a") == (tmp_path / "a" / "index.html").resolve()
    assert safe_path(tmp_path, "a/../a/index.html") is None
    assert safe_path(tmp_path / "missing", "a") is None


def test_symlinked_index_and_hidden_targets_are_refused(tmp_path, service):
    """A folder's index.html that links out of the site, or a link onto a dotfile, serves nothing."""
    config, _, _, _ = service
    site = tmp_path / "site"
    (site / "escape").mkdir(parents=True)
    (site / "alias").mkdir()
    (tmp_path / "outside.txt").write_text("outside the site")
    (site / ".env").write_text("NEWSLETTER_SECRET=hidden")
    os.symlink(tmp_path / "outside.txt", site / "escape" / "index.html")
    os.symlink(site / ".env", site / "alias" / "env.txt")
    assert safe_path(site, "escape") is None and safe_path(site, "escape/") is None
    assert safe_path(site, "alias/env.txt") is None
    with serve_app(create_app(config, site=site)) as url, httpx.Client(base_url=url) as client:
        for path in ("/escape/", "/escape", "/alias/env.txt"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert b"outside" not in response.content and b"hidden" not in response.content


def test_foreign_host_header_is_refused(service):
    _, url, _, _ = service
    with httpx.Client(base_url=url) as client:
        assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
        assert client.get("/", headers={"Host": "news.example.org"}).status_code == 200


def test_accept_language_and_mask():
    assert accept_language("pl-PL,pl;q=0.9,en;q=0.8,*;q=0.1") == ["pl", "pl", "en"]
    assert accept_language("en;q=0.2, de;q=0.9, fr") == ["fr", "de", "en"]
    assert accept_language("de;q=0, en;q=bogus") == []
    assert mask("anna.schmidt@example.org") == "a…@example.org"


# ───────────────────────────── one-click unsubscribe ─────────────────────────────


def test_post_one_click_suppresses_without_redirect(service):
    config, url, _, _ = service
    address = "one-click@example.org"
    token = tokens.make_token(address, "list", config)
    with httpx.Client(base_url=url, follow_redirects=False) as client:
        response = client.post(f"/u/{token}", data=ONE_CLICK)
    assert response.status_code == 200
    assert "location" not in response.headers
    assert wait_until(lambda: Suppressions(engine_for(config.database_url)).contains(address), timeout=1.0)
    entry = Suppressions(engine_for(config.database_url)).get(address)
    assert (entry.reason, entry.source) == ("unsubscribed", "one-click")


def test_rfc8058_multipart_body_and_replay_are_idempotent(service):
    config, url, _, _ = service
    address = "Replay@Example.org"
    token = tokens.make_token(address, "list", config)
    with httpx.Client(base_url=url) as client:
        first = client.post(f"/u/{token}", files={"List-Unsubscribe": (None, "One-Click")})
        rows = suppression_rows(config.database_url)
        replays = [client.post(f"/u/{token}", data=ONE_CLICK) for _ in range(3)]
    assert first.status_code == 200 and "multipart/form-data" in first.request.headers["content-type"]
    assert [r.status_code for r in replays] == [200, 200, 200]
    assert suppression_rows(config.database_url) == rows  # the first entry is kept, nothing added


def test_get_changes_nothing(service):
    config, url, _, _ = service
    address = "prefetch@example.org"
    token = tokens.make_token(address, "list", config)
    before = suppression_rows(config.database_url)
    with httpx.Client(base_url=url) as client:
        for query in ("", "?lang=en", "?lang=pl", "?List-Unsubscribe=One-Click"):
            assert client.get(f"/u/{token}{query}").status_code == 200
        assert client.head(f"/u/{token}").status_code == 200
        assert client.post(f"/u/{token}").status_code == 400  # a POST without the RFC 8058 body
    assert suppression_rows(config.database_url) == before
    assert not Suppressions(engine_for(config.database_url)).contains(address)


def test_confirmation_page_languages_and_its_button(service):
    config, url, _, _ = service
    address = "button@example.org"
    token = tokens.make_token(address, "list", config)
    with httpx.Client(base_url=url) as client:
        de = client.get(f"/u/{token}")
        en = client.get(f"/u/{token}", headers={"Accept-Language": "en-GB,en;q=0.9,de;q=0.5"})
        pl = client.get(f"/u/{token}?lang=pl", headers={"Accept-Language": "en"})
        assert '<html lang="de">' in de.text and "Ja, abbestellen" in de.text
        assert '<html lang="en">' in en.text and "Yes, unsubscribe" in en.text
        assert '<html lang="pl">' in pl.text and "Tak, wypisz mnie" in pl.text
        assert address not in de.text and "b…@example.org" in de.text
        assert de.headers["cache-control"] == "no-store" and "noindex" in de.headers["x-robots-tag"]
        for page in (de, en, pl):
            parser = WellFormed()
            parser.feed(page.text)
            assert not parser.errors and not parser.stack and len(parser.html_tags) == 1
        forms = Forms()
        forms.feed(pl.text)
        (form,) = forms.forms
        assert form["method"] == "post" and form["fields"] == ONE_CLICK
        target = httpx.URL(str(pl.url)).join(form["action"])
        assert target.path == f"/u/{token}"
        done = client.post(target, data=form["fields"])
    assert done.status_code == 200 and "Wypisano" in done.text
    assert Suppressions(engine_for(config.database_url)).contains(address)
    with httpx.Client(base_url=url) as client:
        assert "bereits abgemeldet" in client.get(f"/u/{token}").text


def test_ten_thousand_forged_tokens_are_rejected(service):
    config, url, _, _ = service
    rng = random.Random(8058)
    genuine = tokens.make_token("victim@example.org", "list", config)
    raw = genuine.encode()
    forged: list[str] = []
    for i in range(10_000):
        if i % 2:
            chars = bytearray(raw)
            pos = rng.randrange(len(chars))
            chars[pos] ^= 1 << rng.randrange(7)  # one flipped bit, still ASCII
            forged.append(chars.decode("ascii", "replace"))
        else:
            forged.append(
                "".join(
                    rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")
                    for _ in range(rng.randrange(1, len(genuine) + 20))
                )
            )
    forged = [t for t in forged if t != genuine]
    accepted = 0
    for token in forged:
        if read_claims(token, config) is not None:  # read_token + canonical base64 (as the service does)
            accepted += 1
    assert accepted == 0
    before = suppression_rows(config.database_url)
    sample = rng.sample(forged, 150)
    with httpx.Client(base_url=url) as client:
        for token in sample:
            path = "/u/" + quote(token, safe="")
            assert client.post(path, data=ONE_CLICK).status_code in (400, 404, 405), token
            assert client.get(path).status_code in (400, 404), token
    assert suppression_rows(config.database_url) == before


def test_rotated_key_works_while_listed_and_not_after(service):
    config, _, env, root = service
    old_only = load_config(root, {**env, "NEWSLETTER_SECRET": OLD_SECRET})
    token = tokens.make_token("rotated@example.org", "list", old_only)
    # the running service has NEWSLETTER_SECRET="new,old": the old token still works
    assert tokens.read_token(token, config).address.lower() == "rotated@example.org"
    _, url, _, _ = service
    with httpx.Client(base_url=url) as client:
        assert client.get(f"/u/{token}").status_code == 200
    # after the old key is dropped from the list, the same link is invalid and changes nothing
    new_only = load_config(root, {**env, "NEWSLETTER_SECRET": SECRET})
    with pytest.raises(tokens.InvalidToken):
        tokens.read_token(token, new_only)
    before = suppression_rows(config.database_url)
    with serve_app(create_app(new_only)) as other, httpx.Client(base_url=other) as client:
        assert client.post(f"/u/{token}", data=ONE_CLICK).status_code == 400
        assert "ungültig" in client.get(f"/u/{token}").text
    assert suppression_rows(config.database_url) == before


def test_archive_page_images_load_in_a_browser(tmp_path, service):
    """The "view in browser" page keeps its images (the CSP must allow them) and runs no script."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    import base64

    config, _, _, _ = service
    site = tmp_path / "site"
    (site / "2026-01-x" / "images").mkdir(parents=True)
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
    )
    (site / "2026-01-x" / "images" / "map.png").write_bytes(png)
    (site / "2026-01-x" / "de.html").write_text(
        '<!DOCTYPE html><html lang="de"><head><title>x</title></head><body>'
        '<img id="map" src="images/map.png" alt="Karte" style="width:20px">'
        "<script>document.title = 'script ran'</script></body></html>",
        encoding="utf-8",
    )
    with serve_app(create_app(config, site=site)) as url, playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(url + "/2026-01-x/de.html")
            page.wait_for_load_state("load")
            assert page.evaluate("document.getElementById('map').naturalWidth") == 1
            assert page.title() == "x"
        finally:
            browser.close()


# ───────────────────────────── the public development key ─────────────────────────────


def test_forged_one_click_with_the_dev_key_changes_nothing(service):
    """tokens.DEV_SECRET is public: a token made with it must never unsubscribe anyone."""
    config, url, env, root = service
    dev = load_config(root, {k: v for k, v in env.items() if k != "NEWSLETTER_SECRET"})
    assert dev.secret is None and dev.smtp.is_dev_sink
    forged = tokens.make_token("ceo@victim.example", "all", dev)  # made with tokens.DEV_SECRET
    before = suppression_rows(config.database_url)
    with httpx.Client(base_url=url) as client:
        assert client.post(f"/u/{forged}", data=ONE_CLICK).status_code == 400
        assert "ungültig" in client.get(f"/u/{forged}").text
    assert suppression_rows(config.database_url) == before
    assert not Suppressions(engine_for(config.database_url)).contains("ceo@victim.example")
    assert read_claims(forged, config) is None and read_claims(forged, dev) is None


@pytest.mark.parametrize("secret", [None, "dev-key"], ids=["no_secret", "secret_is_the_dev_key"])
def test_public_app_refuses_to_start_without_a_real_secret(service, secret):
    _, _, env, root = service
    env = {k: v for k, v in env.items() if k != "NEWSLETTER_SECRET"}
    if secret:
        env["NEWSLETTER_SECRET"] = tokens.DEV_SECRET
    config = load_config(root, env)
    with pytest.raises(ConfigError, match="NEWSLETTER_SECRET"):
        create_app(config)


def test_a_chunked_one_click_body_over_the_limit_is_refused_while_read(service):
    config, url, _, _ = service
    address = "chunked@example.org"
    token = tokens.make_token(address, "list", config)

    def body():  # no Content-Length: the size is only known while reading
        yield b"List-Unsubscribe=One-Click&pad="
        for _ in range(40):
            yield b"x" * 1024

    with httpx.Client(base_url=url) as client:
        response = client.post(
            f"/u/{token}", content=body(), headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
    assert "content-length" not in response.request.headers
    assert response.status_code == 400
    assert not Suppressions(engine_for(config.database_url)).contains(address)
