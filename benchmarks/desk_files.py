"""The desk's files half: how long a save, a reorder, the live preview, an upload and a Word import take.

    .venv/bin/python benchmarks/desk_files.py [--repeats N]

Each save reads the file, checks its version, writes only the changed keys, reads the new text back
with the loader and replaces the file atomically (fsync): the desk's live preview waits for it, so
it must stay far below the 2 s the editor may wait. Works on a copy of the example issue in a
temporary folder. Prints median and worst of N; never asserts.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the Word files are made with the tests' python-docx rig


def measure(repeats: int, step: Callable[[int], object]) -> tuple[float, float]:
    times = []
    for index in range(repeats):
        start = time.perf_counter()
        step(index)
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()

    from docx_rig import png, press_release_docx

    from newsletter.config import load_config
    from newsletter.content import writer
    from newsletter.content.forms import article_fields, issue_fields
    from newsletter.content.uploads import store_image
    from newsletter.content.wordimport import convert_docx, import_docx

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        toml = (ROOT / "newsletter.toml").read_text(encoding="utf-8")
        toml = toml.replace("[newsletter]\n", f'[newsletter]\ntemplates = "{ROOT / "templates"}"\n', 1)
        (root / "newsletter.toml").write_text(toml, encoding="utf-8")
        issue = root / "issues" / "2022-03-laenderfokus"
        shutil.copytree(ROOT / "issues" / "2022-03-laenderfokus", issue)
        config = load_config(root, {"NEWSLETTER_DATABASE": f"sqlite:///{root / 'state.db'}"})

        def save_article(index: int) -> None:
            doc = writer.open_article(issue, "schlesien", "de")
            fields = dataclasses.replace(article_fields(doc), teaser=f"Neuer Teaser {index}: 10:30 Uhr")
            writer.save_article(issue, "schlesien", "de", fields, version=doc.version)

        def save_issue(index: int) -> None:
            doc = writer.open_issue(issue)
            writer.save_issue(
                issue, dataclasses.replace(issue_fields(doc), number=index + 1), version=doc.version
            )

        names = ["netzwerk", "schlesien", "delegation", "tada"]

        def reorder(index: int) -> None:
            order = names[index % 4 :] + names[: index % 4]
            writer.reorder_articles(issue, order, version=writer.open_issue(issue).version)

        from newsletter.web.desk.drafts import draft_member, render_draft

        member = draft_member(None, "", "de", ("poland",))
        typed = article_fields(writer.open_article(issue, "schlesien", "de"))

        def draft(index: int) -> None:
            fields = dataclasses.replace(typed, title=f"Getippt {index}")
            render_draft(config, issue, "schlesien", "de", fields, member)

        photo = [png(400, 300, rgb=(i % 256, 80, 120), padding=900_000) for i in range(args.repeats)]
        docx = press_release_docx(ROOT.parent / "shared" / "seeds")

        def upload(index: int) -> None:
            store_image(issue, "foto.png", photo[index])

        def word(index: int) -> None:
            import_docx(issue, docx, config=config, name=f"pm-{index}")

        figures = {
            "save an article field (open, splice, verify, fsync)": measure(args.repeats, save_article),
            "save an issue field": measure(args.repeats, save_issue),
            "reorder the article list": measure(args.repeats, reorder),
            "live preview of typed text (copy, save, render)": measure(args.repeats, draft),
            "upload a 0.9 MB PNG": measure(args.repeats, upload),
            "convert the press release .docx (no writing)": measure(
                args.repeats, lambda i: convert_docx(docx)
            ),
            "import the press release .docx (write, add to list)": measure(args.repeats, word),
        }
    print(f"desk files (median / worst of {args.repeats}):")
    for name, (median, worst) in figures.items():
        print(f"  {name:<54} {median * 1000:8.1f} ms  {worst * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
