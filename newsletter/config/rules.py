"""Checks of newsletter.toml across keys, run once every key has the right type and range:
languages and the default language, fallback chains, footers, segment ids and time zones, sender."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .schema import Checker


def cross_check(checker: Checker, settings: dict[str, Any], *, sender_in_env: bool) -> None:
    """Checks that need several keys; ``settings`` holds only values that passed their own checks."""
    main = settings["newsletter"]
    _segments(checker, settings["segments"])
    _zone(checker, ("newsletter", "timezone"), "[newsletter] timezone", main["timezone"])
    _sender(checker, main, sender_in_env)
    languages_line = checker.lines.get(("newsletter", "languages"), -1)
    if not any(p.line == languages_line for p in checker.problems):
        _languages(checker, settings)  # against a wrong languages line every other check would fail


def _languages(checker: Checker, settings: dict[str, Any]) -> None:
    main = settings["newsletter"]
    languages: list[str] = main["languages"]
    for index, lang in enumerate(languages):
        if lang in languages[:index]:
            checker.report(("newsletter", "languages", index), f"[newsletter] languages lists {lang} twice")
    default = main["default_language"]
    if default is not None and default not in languages:
        listed = ", ".join(languages)
        checker.report(
            ("newsletter", "default_language"),
            f"[newsletter] default_language {default} is not in languages ({listed}){_like(default, languages)}",
        )
    known = f"[newsletter] languages ({', '.join(languages)})"
    for lang, chain in settings["fallback"].items():
        if lang not in languages:
            checker.report(
                ("fallback", lang), f"[fallback] {lang}: {lang} is not in {known}{_like(lang, languages)}"
            )
        for index, other in enumerate(chain):
            if other not in languages:
                checker.report(("fallback", lang, index), f"[fallback] {lang}: {other} is not in {known}")
    for lang in settings["footer"]:
        if lang not in languages:
            message = f"[footer.{lang}] is for a language not in {known}{_like(lang, languages)}"
            checker.report(("footer", lang), message)
    for lang in settings["consent"]["text"]:
        if lang not in languages:
            checker.report(("consent", "text", lang), f"[consent] text.{lang}: {lang} is not in {known}")
    for index, entry in enumerate(settings["segments"]):
        for lang in entry["names"]:
            if lang not in languages:
                label = f"[[segments]] entry {index + 1}: names.{lang}"
                checker.report(("segments", index, "names", lang), f"{label}: {lang} is not in {known}")


def _segments(checker: Checker, segments: list[dict[str, Any]]) -> None:
    first: dict[str, int] = {}
    for index, entry in enumerate(segments):
        label = f"[[segments]] entry {index + 1}:"  # followed by a key
        seg_id = (entry["id"] or "").lower()
        if seg_id in first:
            message = f'{label} id "{entry["id"]}" is already the id of entry {first[seg_id] + 1}'
            checker.report(("segments", index, "id"), message)
        elif seg_id:
            first[seg_id] = index
        if entry["timezone"] is not None:
            _zone(checker, ("segments", index, "timezone"), f"{label} timezone", entry["timezone"])


def _zone(checker: Checker, path: tuple[str | int, ...], label: str, zone: str) -> None:
    problem = checker.zone_problem(zone)
    if problem:
        checker.report(path, f"{label}: {problem}")


def _sender(checker: Checker, main: dict[str, Any], sender_in_env: bool) -> None:
    value = main["from"]
    if value is None:
        if not sender_in_env:
            checker.report(
                ("newsletter",),
                '[newsletter] has no from: add a line from = "Name <newsletter@example.org>" (or set NEWSLETTER_FROM)',
            )
        return
    address = value.rpartition("<")[2].rstrip(">").strip()
    if "@" not in address:
        checker.report(
            ("newsletter", "from"),
            f'[newsletter] from must look like "Name <newsletter@example.org>", not the string "{value}"',
        )


def _like(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.5)
    return f"; did you mean {close[0]}?" if close else ""
