"""``newsletter new``, ``newsletter build`` and ``newsletter check``: the editor's commands."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import paths
from ..config import load_config
from ..content import scaffold

if TYPE_CHECKING:  # the commands import what they use: `build` needs no pre-flight, `new` no renderer
    from ..config import Config
    from ..model import Edition, Issue

SALUTATION_NOTE = scaffold.SALUTATION_NOTE  # where the tests and older callers looked for it


def register(main: click.Group) -> None:
    main.add_command(build)
    main.add_command(check)
    main.add_command(new)
    main.add_command(import_word)


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
    from ..content.scaffold import create_issue
    from ..model import RefusedError

    config = load_config()
    try:
        created = create_issue(config, slug, source=source)
    except RefusedError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    for link in created.skipped_links:
        click.echo(f"skipped {_shown(config, link)}: a symbolic link is never copied")
    target = created.path
    click.echo(f"created {_shown(config, target)}/ — edit issue.md and articles/, then run "
               f"`newsletter check {_shown(config, target)}`")  # fmt: skip


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--issue", "issue", required=True, help="The issue (a folder or a slug under issues/).")
@click.option("--name", help="Article name (file stem); default: made from the title.")
@click.option("--lang", help="Language of the text; default: the default language of newsletter.toml.")
def import_word(file: Path, issue: str, name: str | None, lang: str | None) -> None:
    """Turn a Word file (.docx) into an article of ISSUE and list what it could not map.

    Writes issues/SLUG/articles/NAME.LANG.md (and the pictures into images/) and adds NAME to the
    issue's article list. Exit 0 done; 1 content problems (the article's check problems, or it
    exists already); 2 the file cannot be read as a .docx, or there is no such issue.
    """
    from ..content import resolve_issue_path
    from ..content.wordimport import UnreadableWord, import_docx
    from ..limits import WORD_FILE_MAX_BYTES
    from ..preflight import check_issue

    config = load_config()
    try:
        with file.open("rb") as stream:  # a file above the cap is refused without reading all of it
            data = stream.read(WORD_FILE_MAX_BYTES + 1)
    except OSError as exc:
        raise UnreadableWord(f"{file}: cannot be read ({exc.strerror or exc})") from None
    path = resolve_issue_path(issue, config)
    imported = import_docx(path, data, config=config, filename=file.name, name=name, lang=lang)
    shown = _shown(config, path / imported.article.relative)
    added = " and added it to the issue's article list" if imported.issue is not None else ""
    click.echo(f"imported {file.name} as {shown}{added}")
    for image in imported.images:
        click.echo(
            f"picture {_shown(config, path / image.relative)}" + (" (already there)" if image.reused else "")
        )
    for finding in imported.findings:
        click.echo(str(finding))
    mine = {imported.article.relative, *(image.relative for image in imported.images)}
    problems = [p for p in check_issue(path, config).problems if _relative_to(p.path, path, config) in mine]
    for problem in problems:
        click.echo(str(problem))
    sys.exit(1 if any(p.severity == "error" for p in problems) else 0)


def _relative_to(problem_path: str, issue_dir: Path, config: Config) -> str | None:
    full = config.root / problem_path
    try:
        return (full.parent.resolve() / full.name).relative_to(issue_dir.resolve()).as_posix()
    except ValueError:
        return None


def _shown(config: Config, path: Path) -> str:
    try:  # the folder resolved, not the name: a symbolic link is shown as itself
        return str((path.parent.resolve() / path.name).relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
