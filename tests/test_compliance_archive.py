"""The static archive: well-formed HTML per issue and language, RSS that parses, .ics with zone-aware times."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from newsletter.archive import ical
from newsletter.cli import main
from newsletter.config import load_config
from newsletter.model import Event

SLUG = "2022-03-laenderfokus"
PUBLIC = "https://news.example.org/newsletter"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class WellFormed(HTMLParser):
    """Every opened element closed (or void), in order; counts <html> and records its lang."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, tuple[int, int]]] = []
        self.errors: list[str] = []
        self.html_tags: list[dict[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "html":
            self.html_tags.append(dict(attrs))
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))

    def handle_startendtag(self, tag, attrs):
        if tag == "html":
            self.html_tags.append(dict(attrs))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(
                f"</{tag}> at {self.getpos()} closes {self.stack[-1] if self.stack else 'nothing'}"
            )
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def check_html(path: Path) -> WellFormed:
    parser = WellFormed()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    assert not parser.errors, (path, parser.errors[:5])
    assert not parser.stack, (path, parser.stack[:5])
    assert len(parser.html_tags) == 1, path
    assert parser.html_tags[0].get("lang"), path
    return parser


def parse_ics(text: str) -> list[tuple[str, dict[str, str], str]]:
    """A small RFC 5545 reader: CRLF lines ≤ 75 octets, unfolding, BEGIN/END balance."""
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    raw = text.split("\r\n")[:-1]
    assert all(len(line.encode()) <= 75 for line in raw), [x for x in raw if len(x.encode()) > 75]
    lines: list[str] = []
    for line in raw:
        if line.startswith((" ", "\t")):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    stack, props = [], []
    for line in lines:
        head, _, value = line.partition(":")
        name, *params = head.split(";")
        if name == "BEGIN":
            stack.append(value)
        elif name == "END":
            assert stack and stack.pop() == value, line
        props.append((name, dict(p.split("=", 1) for p in params), value))
    assert not stack
    assert props[0] == ("BEGIN", {}, "VCALENDAR") and props[-1] == ("END", {}, "VCALENDAR")
    return props


def ics_time(params: dict[str, str], value: str) -> datetime:
    if value.endswith("Z"):
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert "TZID" in params, "DTSTART/DTEND must carry a TZID or be UTC"
    return datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=ZoneInfo(params["TZID"]))


def unescape(value: str) -> str:
    return value.replace("\\n", "\n").replace("\\,", ",").replace("\\;", ";").replace("\\\\", "\\")


@pytest.fixture
def site(project, project_env, example_issue, monkeypatch):
    monkeypatch.chdir(project)
    env = {**project_env, "NEWSLETTER_PUBLIC_URL": PUBLIC}
    result = CliRunner().invoke(main, ["archive", "--out", str(project / "public")], env=env)
    assert result.exit_code == 0, result.output
    assert "archive: 1 issue(s)" in result.output
    return project / "public"


def test_paths_the_mails_link_to(site):
    for lang in ("de", "en", "pl"):
        assert (site / SLUG / f"{lang}.html").is_file()
        assert (site / lang / "index.html").is_file() and (site / lang / "feed.xml").is_file()
    assert (site / SLUG / "delegation.ics").is_file() and (site / SLUG / "netzwerk.ics").is_file()
    assert (site / SLUG / "images" / "sachsen-schlesien.png").is_file()
    assert (site / "index.html").is_file()


def test_pages_are_well_formed_with_lang_and_hreflang(site):
    for page in sorted(site.rglob("*.html")):
        check_html(page)
    de = (site / SLUG / "de.html").read_text(encoding="utf-8")
    assert '<html lang="de"' in de
    for lang in ("de", "en", "pl"):
        assert f'<link rel="alternate" hreflang="{lang}" href="{PUBLIC}/{SLUG}/{lang}.html">' in de
    index = (site / "en" / "index.html").read_text(encoding="utf-8")
    assert f'hreflang="pl" href="{PUBLIC}/pl/index.html"' in index and 'hreflang="x-default"' in index
    assert f'href="../{SLUG}/en.html"' in index


def test_no_personal_data_or_tokens(site, project):
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "[[nl:" not in text, page
        assert "/u/" not in text, page
    de = check_html(site / SLUG / "de.html")
    assert "Sehr geehrte Damen und Herren," in "".join(de.text)
    assert (
        'href="mailto:newsletter@amz-sachsen.example?subject=Abmelden"'
        in (site / SLUG / "de.html").read_text()
    )


def test_rss_parses(site):
    for lang in ("de", "en", "pl"):
        root = ET.parse(site / lang / "feed.xml").getroot()
        assert root.tag == "rss" and root.get("version") == "2.0"
        channel = root.find("channel")
        assert channel.findtext("language") == lang
        items = channel.findall("item")
        assert [i.findtext("link") for i in items] == [f"{PUBLIC}/{SLUG}/{lang}.html"]
        assert items[0].findtext("pubDate").endswith("+0000") and items[0].findtext("title")
    assert "Polska i USA" in (site / "pl" / "feed.xml").read_text(encoding="utf-8")


def test_ics_files_parse_and_hold_the_zone_aware_times(site, project, project_env):
    from newsletter.content import load_issue

    issue = load_issue(project / "issues" / SLUG, load_config(project, project_env))
    events = {v.name: v.by_language["de"].event for v in issue.articles if v.by_language["de"].event}
    assert set(events) == {"delegation", "netzwerk"}
    for name, event in events.items():
        props = parse_ics((site / SLUG / f"{name}.ics").read_bytes().decode("utf-8"))
        found = {p[0]: p for p in props if p[0] in ("DTSTART", "DTEND", "SUMMARY", "LOCATION", "UID")}
        start, end = ics_time(*found["DTSTART"][1:]), ics_time(*found["DTEND"][1:])
        assert start == event.start and end == event.end
        assert found["DTSTART"][1] == {"TZID": "Europe/Berlin"}
        assert unescape(found["SUMMARY"][2]) == event.title
        assert unescape(found["LOCATION"][2]) == event.location
        tzids = [p[2] for p in props if p[0] == "TZID"]
        assert tzids == ["Europe/Berlin"]  # a VTIMEZONE for the referenced zone
    en = parse_ics((site / SLUG / "delegation.en.ics").read_bytes().decode("utf-8"))
    assert ("SUMMARY", {}, "B2B meetings with the US delegation") in en


def test_ics_writer_folding_escaping_and_zones():
    event = Event(
        title="Sommertreffen; Partner, Gäste\\Freunde\nzweite Zeile " + "ä" * 80,
        start=datetime(2025, 10, 26, 2, 30, tzinfo=ZoneInfo("America/New_York")),
        end=datetime(2025, 10, 26, 9, 0, tzinfo=timezone(timedelta(hours=2))),
        location="Chemnitz",
    )
    item = ical.CalendarEvent(uid="x@y", event=event, stamp=datetime(2025, 1, 1, tzinfo=UTC))
    props = parse_ics(ical.calendar([item], prodid="-//Test//EN"))
    summary = next(p for p in props if p[0] == "SUMMARY")
    assert unescape(summary[2]) == event.title
    start = next(p for p in props if p[0] == "DTSTART" and "TZID" in p[1])
    end = next(p for p in props if p[0] == "DTEND")
    assert ics_time(*start[1:]) == event.start
    assert end[2] == "20251026T070000Z" and ics_time(*end[1:]) == event.end  # fixed offset → UTC
    offsets = [(p[0], p[2]) for p in props if p[0] in ("TZOFFSETFROM", "TZOFFSETTO")]
    assert ("TZOFFSETTO", "-0400") in offsets and ("TZOFFSETTO", "-0500") in offsets
    daylight = [i for i, p in enumerate(props) if p == ("BEGIN", {}, "DAYLIGHT")]
    assert props[daylight[0] + 1] == ("DTSTART", {}, "20250309T020000")  # US DST onset, local wall time


def test_images_folder_with_links_leaves_the_issue_out_and_copies_no_dotfiles(
    project, project_env, example_issue, monkeypatch, tmp_path
):
    """A link is refused wherever it points (issue 10 item 1): the issue is left out, naming it."""
    images = example_issue / "images"
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "members.csv").write_text("email\nalice@example.org\n")
    (images / ".env").write_text("NEWSLETTER_SECRET=do-not-publish")
    (images / "leak.png").symlink_to(tmp_path / "private" / "members.csv")
    (images / "dir").symlink_to(tmp_path / "private", target_is_directory=True)
    (images / "inside.png").symlink_to(images / "sachsen-schlesien.png")
    monkeypatch.chdir(project)
    result = CliRunner().invoke(main, ["archive", "--out", str(project / "public")], env=project_env)
    assert result.exit_code == 0, result.output
    assert f"{SLUG} left out: issues/{SLUG}/images/dir: is a symbolic link" in result.stderr
    assert not (project / "public" / SLUG).exists()
    for path in (project / "public").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"alice@example.org" not in data and b"do-not-publish" not in data, path
    for link in ("leak.png", "dir", "inside.png"):
        (images / link).unlink()
    assert (
        CliRunner().invoke(main, ["archive", "--out", str(project / "public")], env=project_env).exit_code
        == 0
    )
    copied = project / "public" / SLUG / "images"
    assert sorted(p.name for p in copied.iterdir()) == ["sachsen-schlesien.png"]


def test_broken_issue_is_left_out_with_a_warning(project, project_env, example_issue, monkeypatch):
    broken = project / "issues" / "2099-01-broken"
    broken.mkdir()
    (broken / "issue.md").write_text("---\ntitle: x\n---\n", encoding="utf-8")
    monkeypatch.chdir(project)
    result = CliRunner().invoke(main, ["archive"], env=project_env)
    assert result.exit_code == 0, result.output
    assert "2099-01-broken left out" in result.stderr and "NEWSLETTER_PUBLIC_URL is not set" in result.stderr
    assert (project / "site" / SLUG / "de.html").is_file() and not (
        project / "site" / "2099-01-broken"
    ).exists()
