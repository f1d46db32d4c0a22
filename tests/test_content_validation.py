"""Every validation error has a fixture folder named after the case and an exact expected message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from newsletter.config import Config
from newsletter.content import load_issue
from newsletter.model import ContentError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "content"

EXPECTED: dict[str, list[str]] = {
    "missing-required-key": ["articles/a.de.md:1: missing required key 'title' in an article"],
    "missing-issue-keys": [
        "issue.md:1: missing required key 'articles' in issue.md",
        "issue.md:1: missing required key 'date' in issue.md",
        "issue.md:1: missing required key 'title' in issue.md",
    ],
    "contact-without-email": ["articles/a.de.md:4: missing required key 'email' in a contact"],
    "unknown-key-typo": ["articles/a.de.md:3: unknown key 'teasr' (did you mean 'teaser'?)"],
    "unknown-issue-key": ["issue.md:4: unknown key 'subjekt' (did you mean 'subject'?)"],
    "unknown-segment": ["articles/a.de.md:5: unknown segment 'mexico' (known: poland, usa)"],
    "unknown-segment-typo": ["articles/a.de.md:3: unknown segment 'polen' (did you mean 'poland'?)"],
    "article-without-file": [
        "issue.md:6: article 'ghost' has no file; create issues/article-without-file/articles/ghost.de.md"
    ],
    "article-file-name-case": [
        "issue.md:5: article 'Schlesien' has no file, but issues/article-file-name-case/articles/schlesien.de.md "
        "differs only in upper/lower case; write 'schlesien' here or rename the file"
    ],
    "image-without-alt": [
        "articles/a.de.md:3: image needs image_alt: describe the picture for readers who cannot see it"
    ],
    "missing-image-file": [
        "articles/a.de.md:3: image file 'images/nowhere.png' not found in issues/missing-image-file/"
    ],
    "image-path-with-backslash": [
        "articles/a.de.md:3: image 'images\\foto.png': write the path with / instead of \\, e.g. images/foto.png"
    ],
    "invalid-date": ["issue.md:3: invalid date '2022-02-30' for date: use YYYY-MM-DD, e.g. 2022-03-24"],
    "invalid-article-date": [
        "articles/a.de.md:3: invalid date '24.03.2022' for date: use YYYY-MM-DD, e.g. 2022-03-24"
    ],
    "malformed-yaml": [
        "articles/a.de.md:4: malformed YAML: found unexpected end of stream "
        "(while scanning a quoted scalar on line 3)"
    ],
    "malformed-yaml-indent": [
        "articles/a.de.md:5: malformed YAML: expected <block end>, but found '<block mapping start>' "
        "(while parsing a block collection on line 4)"
    ],
    "yaml-tab-indent": [
        "articles/a.de.md:4: malformed YAML: found character '\\t' that cannot start any token; "
        "indent and separate with spaces, not tabs"
    ],
    "yaml-colon-in-value": [
        "articles/a.de.md:2: malformed YAML: mapping values are not allowed here; "
        'a value containing ": " must be in double quotes, e.g. title: "Polen: …"'
    ],
    "yaml-quote-in-quoted-value": [
        "articles/a.de.md:3: malformed YAML: expected <block end>, but found '<scalar>' "
        "(while parsing a block mapping on line 2); "
        "a quoted value ends at its second quote: use „…“ or '…' inside \"…\""
    ],
    "segments-differ-between-languages": [
        "articles/a.en.md:5: segments differ from issues/segments-differ-between-languages/articles/a.de.md; "
        "all language versions of an article go to the same segments"
    ],
    "yaml-alias-bomb": [  # nested aliases would expand to millions of values: refused before
        "articles/a.de.md:4: malformed YAML: found the alias '*a'; "
        'a value starting with * or & must be in double quotes, e.g. teaser: "*Neu* …"'
    ],
    "yaml-emphasis-at-start": [
        "articles/a.de.md:3: malformed YAML: expected alphabetic or numeric character, but found '*'; "
        'a value starting with * or & must be in double quotes, e.g. teaser: "*Neu* …"'
    ],
    "event-without-zone": [
        "articles/a.de.md:5: start '2022-07-07T14:00' has no time zone: add an offset "
        "(2022-05-30T09:00+02:00) or a zone (2022-05-30T09:00 Europe/Berlin)"
    ],
    "event-zone-typo": [
        "articles/a.de.md:5: unknown time zone 'America/Los_Angles' in start (did you mean 'America/Los_Angeles'?)"
    ],
    "event-end-time-only": [
        "articles/a.de.md:6: invalid date and time '16:00' for end: "
        "use ISO format with a zone, e.g. 2022-05-30T09:00+02:00"
    ],
    "event-end-before-start": ["articles/a.de.md:6: event end is before its start"],
    "event-missing-location": ["articles/a.de.md:3: missing required key 'location' in an event"],
    "contact-bad-email": [
        "articles/a.de.md:5: contact email 'vogel(at)amz-sachsen.example' is not an e-mail address",
        "articles/a.de.md:6: unknown key 'phon' (did you mean 'phone'?)",
    ],
    "contact-email-with-mailto": [
        "articles/a.de.md:5: contact email 'mailto:vogel@amz-sachsen.example' is not an e-mail address"
    ],
    "no-front-matter": [
        "articles/a.de.md:1: the file must start with a line '---', then the YAML keys, then '---'"
    ],
    "duplicate-key": ["articles/a.de.md:4: duplicate key 'teaser'; keep one"],
    "unknown-language-file": [
        "articles/a.fr.md: unknown language 'fr' in the file name (configured: de, en, pl)"
    ],
    "many-problems": [
        "articles/a.de.md:3: unknown key 'teasr' (did you mean 'teaser'?)",
        "articles/a.de.md:4: unknown segment 'mexico' (known: poland, usa)",
        "articles/b.de.md:1: missing required key 'title' in an article",
        "articles/b.de.md:2: image file 'images/none.png' not found in issues/many-problems/",
        "articles/b.de.md:2: image needs image_alt: describe the picture for readers who cannot see it",
        "articles/b.de.md:3: invalid date '2022-13-01' for date: use YYYY-MM-DD, e.g. 2022-03-24",
        "issue.md:7: article 'ghost' has no file; create issues/many-problems/articles/ghost.de.md",
    ],
}


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) == sorted(EXPECTED)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_validation_error(case: str, project: Path, config: Config) -> None:
    issue = project / "issues" / case
    shutil.copytree(FIXTURES / case, issue)
    with pytest.raises(ContentError) as caught:
        load_issue(issue, config)
    assert caught.value.lines() == [f"issues/{case}/{line}" for line in EXPECTED[case]]


def test_paths_outside_the_project_stay_absolute(config: Config) -> None:
    with pytest.raises(ContentError) as caught:
        load_issue(FIXTURES / "unknown-key-typo", config)
    assert caught.value.lines() == [
        f"{FIXTURES / 'unknown-key-typo' / 'articles' / 'a.de.md'}:3: unknown key 'teasr' (did you mean 'teaser'?)"
    ]


def test_missing_issue_folder_names_the_fix(project: Path, config: Config) -> None:
    with pytest.raises(ContentError) as caught:
        load_issue(project / "issues" / "nope", config)
    assert caught.value.lines() == [
        "issues/nope: no issue.md here; create one with `newsletter new SLUG` or check the path"
    ]


def test_an_issue_folder_name_that_would_break_links_is_an_error(project: Path, config: Config) -> None:
    from conftest import EXAMPLE_ISSUE

    issue = project / "issues" / "März 2022"
    shutil.copytree(EXAMPLE_ISSUE, issue)
    with pytest.raises(ContentError) as caught:
        load_issue(issue, config)
    assert caught.value.lines() == [
        "issues/März 2022: the folder name 'März 2022' becomes part of web-archive, image and calendar "
        "links; rename the folder using letters, digits, '.', '_' and '-' only (e.g. 2022-03-laenderfokus)"
    ]
