"""One catalogue of words (issue 11 item 3): ``templates/labels.toml`` has every key in every
language, the loader falls back along the language chain and says what is missing, and no Python
module keeps a per-language word table of its own."""

from __future__ import annotations

import ast
import dataclasses
import shutil
import tomllib
from pathlib import Path

import pytest
from conftest import REPO

from newsletter.config import Config
from newsletter.render.labels import AREAS, area_keys, catalogue, words
from newsletter.render.sandbox import TemplateProblem

LABELS = REPO / "templates" / "labels.toml"
SHIPPED = tomllib.loads(LABELS.read_text(encoding="utf-8"))


def test_every_language_has_every_key_of_every_area(config: Config) -> None:
    assert set(SHIPPED) == set(config.languages) == {"de", "en", "pl"}
    for lang, table in SHIPPED.items():
        assert set(table) == set(AREAS), lang
        for area in AREAS:
            assert set(table[area]) == set(area_keys(area)), f"[{lang}.{area}]"
            assert all(isinstance(v, str) for v in table[area].values()), f"[{lang}.{area}]"


def test_typed_words_are_the_files_words(config: Config) -> None:
    de, pl = words(config, "de"), words(config, "pl")
    assert de.salutation.female.format(last="Muster") == "Sehr geehrte Frau Muster,"
    assert de.mail.time_suffix == "Uhr" and pl.mail.time_suffix == ""  # an empty word is a word
    assert pl.unsubscribe_page.button == "Tak, wypisz mnie"
    assert catalogue(config).language_name("pl") == "Polski"
    assert catalogue(config).language_name("fr") == "fr"  # never a fallback's name


def _own_labels(tmp_path: Path, config: Config, edit) -> Config:  # noqa: ANN001
    folder = tmp_path / "own-templates"
    shutil.copytree(REPO / "templates", folder)
    path = folder / "labels.toml"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return dataclasses.replace(config, templates=folder)


def test_a_missing_word_falls_back_along_the_chain(tmp_path: Path, config: Config) -> None:
    own = _own_labels(tmp_path, config, lambda t: t.replace('button = "Tak, wypisz mnie"\n', ""))
    assert words(own, "pl").unsubscribe_page.button == "Yes, unsubscribe"  # pl → en → de


def test_a_word_missing_in_the_whole_chain_is_named(tmp_path: Path, config: Config) -> None:
    own = _own_labels(tmp_path, config, lambda t: t.replace('feed = "RSS-Feed"\n', ""))
    with pytest.raises(TemplateProblem) as caught:
        words(own, "de")
    assert str(caught.value) == (
        "own-templates/labels.toml: no 'feed' in [de.archive]; add the words (see the keys of the other languages)"
    )


def test_typos_and_unknown_placeholders_are_reported(tmp_path: Path, config: Config) -> None:
    typo = _own_labels(tmp_path / "a", config, lambda t: t.replace("nochange = ", "nochnage = ", 1))
    with pytest.raises(
        TemplateProblem,
        match=r"unknown key 'nochnage' in \[de.unsubscribe_page\] \(did you mean 'nochange'\?\)",
    ):
        catalogue(typo)
    wrong = _own_labels(tmp_path / "b", config, lambda t: t.replace("{address} erhält", "{adresse} erhält"))
    with pytest.raises(TemplateProblem, match=r"de.unsubscribe_page.done: \{adresse\} is not filled in here"):
        catalogue(wrong)


def test_a_restyled_template_may_add_its_own_mail_words(tmp_path: Path, config: Config) -> None:
    own = _own_labels(
        tmp_path,
        config,
        lambda t: t.replace("[de.salutation]", 'sponsor = "Gefördert von"\n\n[de.salutation]'),
    )
    assert words(own, "de").mail.sponsor == "Gefördert von"  # type: ignore[attr-defined]


def _language_tables(tree: ast.AST, languages: set[str]) -> list[int]:
    """Lines of dict literals keyed by two or more language codes: a per-language word table."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            if len(keys & languages) >= 2:
                found.append(node.lineno)
    return found


def _catalogue_words() -> set[str]:
    return {v for table in SHIPPED.values() for area in table.values() for v in area.values() if len(v) >= 6}


def _is_all(node: ast.AST) -> bool:
    return isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets)


def test_no_python_module_keeps_its_own_words() -> None:
    languages, known = set(SHIPPED), _catalogue_words()
    tables, copies = [], []
    for file in sorted((REPO / "newsletter").rglob("*.py")):
        tree = ast.parse(file.read_text(encoding="utf-8"))
        tables += [f"{file.relative_to(REPO)}:{line}" for line in _language_tables(tree, languages)]
        exported = {id(part) for node in ast.walk(tree) if _is_all(node) for part in ast.walk(node)}
        copies += [  # the names in __all__ are Python's (a class Delivery), not words
            f"{file.relative_to(REPO)}:{node.lineno}: {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value in known
            and id(node) not in exported
        ]
    assert tables == [], "per-language word tables belong in templates/labels.toml"
    assert copies == [], "words of templates/labels.toml copied into Python"


def test_check_reports_a_missing_word_before_any_send(
    tmp_path: Path, config: Config, example_issue: Path
) -> None:
    from newsletter.preflight import check_issue

    own = _own_labels(
        tmp_path,
        config,
        lambda t: t.replace('anyone = "Dear member,"\n', "").replace('anyone = "Guten Tag,"\n', ""),
    )
    checked = check_issue(example_issue, own)
    assert [str(p) for p in checked.errors] == [
        "own-templates/labels.toml: no 'anyone' in [de.salutation]; add the words (see the keys of the other languages)"
    ]
