"""Issue 10 item 13: without NEWSLETTER_PUBLIC_URL the issue's images travel inside the mail.

A relative <img src="images/x.png"> worked in the preview and nowhere in a mailbox. Now each image
is an inline part (multipart/related, Content-ID) once per message, built once per edition, and the
HTML refers to it as cid:…; with a public URL the images stay links. Real parts: the aiosmtpd rig,
the CLI in a subprocess, the preview in Chromium.
"""

from __future__ import annotations

import mailbox
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
import smtp_sink as rig
from compliance_rig import approve, latest_approval
from delivery_rig import SLUG, copy_issue, run_cli, sink_env, write_members
from preview_rig import CHROMIUM, CHROMIUM_ARGS, PreviewServer

from newsletter.config import Config, load_config
from newsletter.preflight import check_issue

smtp_sink_factory = rig.smtp_sink_factory  # the rig's fixture (see tests/smtp_sink.py)
PNG = Path(__file__).resolve().parent.parent / "issues" / SLUG / "images" / "sachsen-schlesien.png"
CID_SRC = re.compile(r"""src=["']cid:([^"']+)["']""")


@pytest.fixture
def issue(project: Path) -> Path:
    return copy_issue(project)


def _parse(data: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(data)  # type: ignore[return-value]


def _image_parts(message: EmailMessage) -> dict[str, bytes]:
    return {
        str(part["Content-ID"]).strip("<>"): part.get_payload(decode=True)
        for part in message.walk()
        if part.get_content_maintype() == "image"
    }


def _send(project: Path, env: dict[str, str], to: str) -> None:
    result = run_cli(["send", SLUG, "--to", to, "--yes"], env, project)
    assert result.returncode == 0, result.stderr


def test_without_public_url_each_image_is_one_inline_part_the_html_refers_to(
    project: Path, project_env: dict[str, str], issue: Path, smtp_sink_factory
) -> None:
    write_members(project, 4, segments=lambda i: ("poland", "poland", "poland", "usa")[i])
    sink = smtp_sink_factory()
    env = sink_env(project_env, sink)
    del env["NEWSLETTER_PUBLIC_URL"]
    _send(project, env, "poland,usa")
    received = {m.rcpt_tos[0]: _parse(m.data) for m in sink.messages}
    assert sorted(received) == [f"m{i}@example.org" for i in range(4)]
    for address in ("m0@example.org", "m1@example.org", "m2@example.org"):  # de, en, pl: the Silesia map
        message = received[address]
        assert message.get_content_type() == "multipart/alternative"
        related = next(p for p in message.iter_parts() if p.get_content_type() == "multipart/related")
        assert [p.get_content_type() for p in related.iter_parts()] == ["text/html", "image/png"]
        parts = _image_parts(message)
        assert list(parts.values()) == [PNG.read_bytes()]  # the file the preview shows, exactly once
        html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
        assert set(CID_SRC.findall(html)) == set(parts)
        assert 'src="images/' not in html
    usa = received["m3@example.org"]  # the usa edition has no picture: a plain alternative
    assert _image_parts(usa) == {} and [p.get_content_type() for p in usa.iter_parts()] == [
        "text/plain",
        "text/html",
    ]


def test_with_public_url_images_stay_links(
    project: Path, project_env: dict[str, str], issue: Path, smtp_sink_factory
) -> None:
    write_members(project, 1, segments=lambda i: "poland")
    sink = smtp_sink_factory()
    _send(project, sink_env(project_env, sink), "poland")
    message = _parse(sink.messages[0].data)
    assert _image_parts(message) == {}
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert f'src="https://news.example.org/{SLUG}/images/sachsen-schlesien.png"' in html


def test_large_embedded_images_are_a_warning(issue: Path, config: Config) -> None:
    (issue / "images" / "luftbild.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(900 * 1024))
    article = issue / "articles" / "schlesien.de.md"
    text = article.read_text(encoding="utf-8")
    article.write_text(text + "\n![Luftbild des Werks](images/luftbild.jpg)\n", encoding="utf-8")
    lines = [str(p) for p in check_issue(issue, config).problems if "embedded" in p.message]
    assert lines == [
        f"issues/{SLUG}: warning: the images embedded in each mail of edition(s) poland.de, all.de add 1202 KB "
        "(images/luftbild.jpg 1200 KB, images/sachsen-schlesien.png 2 KB); mail servers may refuse or cut "
        "messages much over 1 MB: make the pictures smaller, or set NEWSLETTER_PUBLIC_URL to link them"
    ]


playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.mark.browser
def test_the_outbox_shows_a_received_message_with_its_images(
    project: Path, project_env: dict[str, str], issue: Path, smtp_sink_factory
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (make test installs it)")
    write_members(project, 1, segments=lambda i: "poland")
    sink = smtp_sink_factory()
    env = sink_env(project_env, sink)
    del env["NEWSLETTER_PUBLIC_URL"]
    _send(project, env, "poland")
    outbox = mailbox.Maildir(project / "outbox", create=True)  # as the dev sink stores what it receives
    key = outbox.add(b"X-Original-To: m0@example.org\r\n" + sink.messages[0].data)
    preview = PreviewServer(project, issue, project_env).start()
    try:
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(5000)
            page.goto(f"{preview.url}/outbox/{key}")
            frame = page.frame_locator("#mail")
            image = frame.locator('img[alt^="Schematische Karte"]')
            playwright_api.expect(image).to_have_count(1)
            image.scroll_into_view_if_needed()
            page.wait_for_function(
                "() => { const f = document.querySelector('#mail').contentDocument;"
                " const i = f && f.querySelector('img[alt^=\"Schematische Karte\"]');"
                " return i && i.complete; }"
            )
            assert image.evaluate("img => img.naturalWidth") > 0
            assert image.get_attribute("src").startswith(f"/outbox/{key}/cid/")
            page.goto(f"{preview.url}/edition/poland.de")  # the edition preview shows the same bytes
            edition_image = page.frame_locator("#mail").locator('img[alt^="Schematische Karte"]')
            playwright_api.expect(edition_image).to_have_count(1)
            page.wait_for_function(
                "() => { const f = document.querySelector('#mail').contentDocument;"
                " const i = f && f.querySelector('img[alt^=\"Schematische Karte\"]');"
                " return i && i.complete && i.naturalWidth > 0; }"
            )
            browser.close()
    finally:
        preview.stop()
    assert load_config(project, project_env).public_url is None


def test_a_changed_embedded_picture_needs_a_new_approval(issue: Path, config: Config) -> None:
    """The HTML names the picture by a hash of its bytes (cid), so the four-eyes check sees the swap."""
    from newsletter import approval
    from newsletter.content import load_issue
    from newsletter.model import RefusedError

    approve(config, issue, "Anna Schmidt")
    (issue / "images" / "sachsen-schlesien.png").write_bytes(PNG.read_bytes() + b"\0")  # another picture
    editions = approval.render_all_editions(load_issue(issue, config), config)
    with pytest.raises(
        RefusedError, match=r"^all\.de, poland\.de, poland\+usa\.de, .* changed since approval"
    ):
        approval.verify(config, SLUG, editions, latest_approval(config))
