"""A new issue folder: empty (an ``issue.md`` and one article stub) or with the structure of an
earlier issue. ``newsletter new`` and the desk's "new issue" both call ``create_issue``."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .. import paths
from ..config import Config
from ..model import RefusedError
from .frontmatter import closing_line
from .issue import resolve_issue_path

SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
# issue 10 item 18: editors wrote their own "Liebe Mitglieder," under the automatic salutation
SALUTATION_NOTE = (
    '# Die Anrede ("Sehr geehrte Frau Muster,") setzt das Programm selbst vor das Editorial: '
    "beginnen Sie ohne Anrede."
)


@dataclass(frozen=True)
class CreatedIssue:
    path: Path  # issues/<slug>
    skipped_links: tuple[Path, ...] = ()  # symbolic links of the earlier issue, never copied


def create_issue(config: Config, slug: str, *, source: str | Path | None = None) -> CreatedIssue:
    """Start ``issues/<slug>/``; with ``source`` (a folder or slug) copy that issue's structure:
    every front matter kept, the texts emptied, the date today. ``RefusedError`` (exit 2) for a bad
    slug, an existing folder or a source without issue.md."""
    if not SLUG.match(slug):
        raise RefusedError(f"'{slug}' is not a good folder name; use lower-case letters, digits and '-', "
                           "e.g. 2022-04-fruehjahr")  # fmt: skip
    target = config.issues_dir / slug
    if target.exists() or target.is_symlink():
        raise RefusedError(f"{_shown(config, target)} already exists; edit it or choose another slug")
    origin = None if source is None else resolve_issue_path(source, config)
    if origin is not None and not (origin / "issue.md").is_file():
        raise RefusedError(f"{source}: no issue.md there; name an existing issue folder or slug")
    try:
        if origin is None:
            _stub(target, config)
            return CreatedIssue(target)
        return CreatedIssue(target, _copy_structure(origin, target, str(source)))
    except BaseException:  # a half-made issue would make the next try say "already exists"
        shutil.rmtree(target, ignore_errors=True)
        raise


def _stub(target: Path, config: Config) -> None:
    (target / "images").mkdir(parents=True)
    lang = config.default_language
    segments = ", ".join(config.segments)
    title = json.dumps(f"{config.name} – neue Ausgabe", ensure_ascii=False)  # a JSON string is valid YAML
    subject = json.dumps(f"{config.name}: Betreff der Ausgabe", ensure_ascii=False)
    _create(target, "issue.md",
        f"---\ntitle: {title}\ndate: {date.today().isoformat()}\n"
        f"subject: {subject}\npreheader: \"Ein Satz, der im Posteingang nach dem Betreff steht\"\n"
        f"articles:\n  - erster-artikel\n{SALUTATION_NOTE}\n---\nEin kurzes Editorial: worum es in dieser Ausgabe geht.\n",
    )  # fmt: skip
    _create(target, f"articles/erster-artikel.{lang}.md",
        "---\ntitle: Überschrift des Artikels\nkicker: Rubrik\nteaser: Ein, zwei Sätze, die Lust aufs Lesen machen.\n"
        f"# segments: [{segments}]   # ohne segments geht der Artikel an alle\n"
        "# image: images/foto.jpg\n# image_alt: Was auf dem Bild zu sehen ist\n"
        "# contacts:\n#   - name: Vorname Nachname\n#     email: name@example.org\n"
        "---\nDer Text in Markdown: **fett**, *kursiv*, [Links](https://example.org), Listen mit `- `.\n",
    )  # fmt: skip


def _create(target: Path, relative: str, text: str) -> None:
    """A new file of the new issue, through the one containment rule (atomic, never through a link)."""
    paths.write_contained(target, relative, text.encode("utf-8"), exclusive=True)


def _copy_structure(origin: Path, target: Path, source: str) -> tuple[Path, ...]:
    """Copy the issue's files keeping every front matter; bodies become placeholders, date becomes today
    (a text without front matter becomes the placeholder alone). Hidden files and symbolic links are
    not copied (paths.copy_contained): a link is named and skipped. ``RefusedError`` for a text that
    is not UTF-8."""
    for folder in ("articles", "images"):
        (target / folder).mkdir(parents=True, exist_ok=True)
    kept = [f for f in paths.files(origin) if not f.endswith((".html", ".txt")) and "__pycache__" not in f]
    paths.copy_contained(origin, kept, target)
    for file in sorted(target.rglob("*.md")):
        relative = file.relative_to(target).as_posix()
        try:
            lines = file.read_text(encoding="utf-8-sig").split("\n")  # Notepad writes a BOM
        except UnicodeDecodeError:
            raise RefusedError(f"{source}/{relative}: not UTF-8 (saved as Windows-1252?); save it as "
                               "UTF-8 in the editor and try again; nothing was created") from None  # fmt: skip
        end = closing_line(lines)
        if end is None:
            paths.write_contained(target, relative, b"Neuer Text.\n")
        else:
            head = "\n".join(["---", *lines[1:end]])
            if file.name == "issue.md":
                head = re.sub(r"(?m)^date:.*$", f"date: {date.today().isoformat()}", head)
                head += "" if SALUTATION_NOTE in head.split("\n") else f"\n{SALUTATION_NOTE}"
            paths.write_contained(target, relative, (head + "\n---\nNeuer Text.\n").encode())
    return tuple(paths.symlinks(origin))


def _shown(config: Config, path: Path) -> str:
    try:  # the folder resolved, not the name: a symbolic link is shown as itself
        return str((path.parent.resolve() / path.name).relative_to(config.root.resolve()))
    except ValueError:
        return str(path)
