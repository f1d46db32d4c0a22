"""``newsletter new``, ``newsletter build`` and ``newsletter check``: the editor's commands."""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import paths
from ..config import load_config

if TYPE_CHECKING:  # the commands import what they use: `build` needs no pre-flight, `new` no renderer
    from ..config import Config
    from ..model import Edition, Issue

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
# issue 10 item 18: editors wrote their own "Liebe Mitglieder," under the automatic salutation
SALUTATION_NOTE = (
    '# Die Anrede ("Sehr geehrte Frau Muster,") setzt das Programm selbst vor das Editorial: '
    "beginnen Sie ohne Anrede."
)


def register(main: click.Group) -> None:
    main.add_command(build)
    main.add_command(check)
    main.add_command(new)


@click.command()
@click.argument("issue")
@click.option("--out", "out_dir", default="out", show_default=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder for the rendered editions.")  # fmt: skip
def build(issue: str, out_dir: Path) -> None:
    """Render every edition of ISSUE (a folder or a slug under issues/) into DIR.

    Writes <segment>.<lang>.html and .txt for each configured segment and all.<lang>.* with every
    article. Exit 1 with each problem as path:line: message when the content has errors.
    """
    from ..content import load_issue, resolve_issue_path
    from ..model import NewsletterError
    from ..render.renderer import Renderer, build_editions

    config = load_config()
    loaded = load_issue(resolve_issue_path(issue, config), config)
    editions = build_editions(loaded, config, Renderer(config))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for edition in editions:
            (out_dir / f"{edition.key}.html").write_text(edition.html, encoding="utf-8")
            (out_dir / f"{edition.key}.txt").write_text(edition.text, encoding="utf-8")
        copied = _copy_images(loaded, out_dir)
    except OSError as exc:
        raise NewsletterError(
            f"{out_dir}: cannot write the editions ({exc.strerror}); choose another folder with --out"
        ) from None
    for line in fallback_lines(editions):
        click.echo(line)
    extra = f" and {copied} image(s)" if copied else ""
    click.echo(f"wrote {len(editions)} editions ({len(editions) * 2} files){extra} to {out_dir}/")


def fallback_lines(editions: list[Edition]) -> list[str]:
    """One line per fallback used: ``fallback: tada in pl uses the en file (usa.pl, all.pl)``."""
    used: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for edition in editions:
        for fb in edition.fallbacks:
            used[(fb.article, fb.wanted, fb.used)].append(edition.key)
    return [f"fallback: {article} in {wanted} uses the {got} file ({', '.join(keys)})"
            for (article, wanted, got), keys in used.items()]  # fmt: skip


def _copy_images(issue: Issue, out_dir: Path) -> int:
    """The issue's images next to the HTML files, so relative src values work when opened locally;
    hidden files and symbolic links are never copied (paths.copy_contained)."""
    from ..content import issue_images

    return paths.copy_contained(issue.path, issue_images(issue), out_dir)


@click.command()
@click.argument("issue")
def check(issue: str) -> None:
    """Pre-flight check of ISSUE: content, translations, size, alt text, links, placeholders, footer.

    Exit 0 when clean or only warnings, 1 when there are errors.
    """
    from ..content import resolve_issue_path
    from ..preflight import check_issue

    config = load_config()
    problems = check_issue(resolve_issue_path(issue, config), config).problems
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    for problem in problems:
        click.echo(str(problem))
    if not problems:
        click.echo("ok: no problems found")
    else:
        click.echo(f"{errors} error(s), {warnings} warning(s)" + ("" if errors else ": ready to send"))
    sys.exit(1 if errors else 0)


@click.command()
@click.argument("slug")
@click.option("--from", "source", help="Copy the structure (articles, languages, segments) of this issue.")
def new(slug: str, source: str | None) -> None:
    """Start issues/SLUG/ with an issue.md and one article stub (exit 2 if it exists)."""
    config = load_config()
    if not _SLUG.match(slug):
        click.echo(f"error: '{slug}' is not a good folder name; use lower-case letters, digits and '-', "
                   "e.g. 2022-04-fruehjahr", err=True)  # fmt: skip
        sys.exit(2)
    target = config.issues_dir / slug
    if target.exists():
        click.echo(
            f"error: {_shown(config, target)} already exists; edit it or choose another slug", err=True
        )
        sys.exit(2)
    if source:
        from ..content import resolve_issue_path

        origin = resolve_issue_path(source, config)
        if not (origin / "issue.md").is_file():
            click.echo(f"error: {source}: no issue.md there; name an existing issue folder or slug", err=True)
            sys.exit(2)
        _copy_structure(origin, target, config)
    else:
        _stub(target, config)
    click.echo(f"created {_shown(config, target)}/ — edit issue.md and articles/, then run "
               f"`newsletter check {_shown(config, target)}`")  # fmt: skip


def _stub(target: Path, config: Config) -> None:
    (target / "articles").mkdir(parents=True)
    (target / "images").mkdir()
    lang = config.default_language
    segments = ", ".join(config.segments)
    title = json.dumps(f"{config.name} – neue Ausgabe", ensure_ascii=False)  # a JSON string is valid YAML
    subject = json.dumps(f"{config.name}: Betreff der Ausgabe", ensure_ascii=False)
    (target / "issue.md").write_text(
        f"---\ntitle: {title}\ndate: {date.today().isoformat()}\n"
        f"subject: {subject}\npreheader: \"Ein Satz, der im Posteingang nach dem Betreff steht\"\n"
        f"articles:\n  - erster-artikel\n{SALUTATION_NOTE}\n---\nEin kurzes Editorial: worum es in dieser Ausgabe geht.\n",
        encoding="utf-8",
    )  # fmt: skip
    (target / "articles" / f"erster-artikel.{lang}.md").write_text(
        "---\ntitle: Überschrift des Artikels\nkicker: Rubrik\nteaser: Ein, zwei Sätze, die Lust aufs Lesen machen.\n"
        f"# segments: [{segments}]   # ohne segments geht der Artikel an alle\n"
        "# image: images/foto.jpg\n# image_alt: Was auf dem Bild zu sehen ist\n"
        "# contacts:\n#   - name: Vorname Nachname\n#     email: name@example.org\n"
        "---\nDer Text in Markdown: **fett**, *kursiv*, [Links](https://example.org), Listen mit `- `.\n",
        encoding="utf-8",
    )  # fmt: skip


def _copy_structure(origin: Path, target: Path, config: Config) -> None:
    """Copy the issue's files keeping every front matter; bodies become placeholders, date becomes today.
    Hidden files and symbolic links are not copied (paths.copy_contained): a link is named and skipped."""
    for folder in ("articles", "images"):
        (target / folder).mkdir(parents=True, exist_ok=True)
    kept = [f for f in paths.files(origin) if not f.endswith((".html", ".txt")) and "__pycache__" not in f]
    paths.copy_contained(origin, kept, target)
    for link in paths.symlinks(origin):
        click.echo(f"skipped {_shown(config, link)}: a symbolic link is never copied")
    for file in sorted(target.rglob("*.md")):
        lines = file.read_text(encoding="utf-8-sig").split("\n")  # Notepad writes a BOM
        end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
        if lines[0].strip() == "---" and end is not None:
            head = "\n".join(["---", *lines[1:end]])
            if file.name == "issue.md":
                head = re.sub(r"(?m)^date:.*$", f"date: {date.today().isoformat()}", head)
                head += "" if SALUTATION_NOTE in head.split("\n") else f"\n{SALUTATION_NOTE}"
            file.write_text(head + "\n---\nNeuer Text.\n", encoding="utf-8")


def _shown(config: Config, path: Path) -> str:
    try:  # the folder resolved, not the name: a symbolic link is shown as itself
        return str((path.parent.resolve() / path.name).relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
