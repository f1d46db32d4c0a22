"""Golden files of what the desk writes: a new issue with two articles, built through the library.

One article in German only, for everybody; one in German and Polish for the Poland focus, with an
uploaded picture, a contact and an event. The files must pass `newsletter check` and equal
tests/golden/desk/2022-06-desk/ (regenerate: NEWSLETTER_UPDATE_GOLDEN=1 pytest tests/test_desk_golden.py,
then review the diff).
"""

from __future__ import annotations

import dataclasses
import os
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from docx_rig import png

from newsletter.config import Config
from newsletter.content import writer
from newsletter.content.forms import ArticleFields, article_fields, issue_fields
from newsletter.content.scaffold import create_issue
from newsletter.content.uploads import store_image
from newsletter.model import Contact, Event
from newsletter.preflight import check_issue

GOLDEN = Path(__file__).resolve().parent / "golden" / "desk" / "2022-06-desk"
WARSAW = ZoneInfo("Europe/Warsaw")


def _build(config: Config) -> Path:
    issue = create_issue(config, "2022-06-desk").path
    doc = writer.open_issue(issue)
    doc = writer.save_issue(issue, dataclasses.replace(
        issue_fields(doc), title="AMZ-Newsletter Juni 2022", date=date(2022, 6, 15), number=6,
        subject={"de": "Juni 2022: Mitgliederversammlung und Clustertreffen in Kattowitz",
                 "pl": "Czerwiec 2022: spotkanie klastrów w Katowicach"},
        preheader="Termine, Köpfe, Kooperationen", intro="Zwei Termine stehen an: lesen Sie selbst.\n",
    ), version=doc.version)  # fmt: skip
    doc = writer.remove_article(issue, "erster-artikel", version=doc.version)
    stub = writer.open_article(issue, "erster-artikel", "de")
    writer.delete_article_files(issue, "erster-artikel", versions={"de": stub.version})
    doc = writer.add_article(issue, "mitgliederversammlung", ArticleFields(
        title="Mitgliederversammlung 2022: Wir wählen", kicker="Verein",
        teaser="Am 7. Juli wählen die Mitglieder den Vorstand.", date=date(2022, 6, 15), author="Redaktion",
        body="Die Einladung mit der Tagesordnung kommt **per Post**.\n",
    ), lang="de", version=doc.version, config=config).issue  # fmt: skip
    picture = store_image(issue, "Karte Kattowitz.PNG", png(8, 6, rgb=(0, 90, 160)))
    fields = ArticleFields(
        title="Clustertreffen in Kattowitz", segments=("poland",), kicker="Polen-Fokus",
        teaser="Sachsen trifft Schlesien: 10:30 Uhr geht es los.", image=picture.relative,
        image_alt="Karte von Sachsen und Schlesien", image_caption="Von Chemnitz nach Kattowitz",
        image_credit="Grafik: AMZ",
        contacts=(Contact("Anna Nowak", "nowak@silesia-automotive.example", "+48 32 123 45 67", "Clustermanagerin"),),
        event=Event("Clustertreffen Sachsen–Schlesien", datetime(2022, 6, 30, 10, 30, tzinfo=WARSAW),
                    datetime(2022, 6, 30, 16, 0, tzinfo=WARSAW), "Katowice, Rondo 1"),
        body="Anmeldung bis zum 20. Juni.\n",
    )  # fmt: skip
    writer.add_article(issue, "kattowitz", fields, lang="de", version=doc.version, config=config)
    polish = writer.create_translation(issue, "kattowitz", lang="pl", config=config)
    base = article_fields(polish)
    translated = dataclasses.replace(
        base, title="Spotkanie klastrów w Katowicach", kicker="Polska", teaser="Saksonia spotyka Śląsk.",
        image_alt="Mapa Saksonii i Śląska", image_caption="Z Chemnitz do Katowic",
        contacts=tuple(dataclasses.replace(c, role="Menedżerka klastra") for c in base.contacts),
        event=dataclasses.replace(base.event, title="Spotkanie klastrów", location="Katowice, Rondo 1"),
        body="Zgłoszenia do 20 czerwca.\n",
    )  # fmt: skip
    writer.save_article(issue, "kattowitz", "pl", translated, version=polish.version)
    return issue


def test_a_new_issue_with_two_articles_is_written_as_a_careful_person_would(config: Config) -> None:
    issue = _build(config)
    problems = check_issue(issue, config).problems
    assert [str(p) for p in problems if p.severity == "error"] == []
    written = {p.relative_to(issue).as_posix(): p for p in sorted(issue.rglob("*")) if p.is_file()}
    texts = {name: path.read_text(encoding="utf-8") for name, path in written.items() if name.endswith(".md")}
    if os.environ.get("NEWSLETTER_UPDATE_GOLDEN") == "1":
        for name, text in texts.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_text(text, encoding="utf-8")
    golden = {p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*.md")}
    assert sorted(texts) == sorted(golden)
    for name, text in texts.items():
        assert text == (GOLDEN / name).read_text(encoding="utf-8"), f"{name} differs from its golden file"
    assert sorted(n for n in written if not n.endswith(".md")) == ["images/karte-kattowitz-9cc59469.png"]
