"""Templates run sandboxed (FAULT-PLAN #19) and unknown MJML tags are refused before compiling."""

from __future__ import annotations

import dataclasses
import resource
import shutil
import time
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError

from newsletter.config import Config
from newsletter.content import load_issue
from newsletter.model import ALL, NewsletterError
from newsletter.render.renderer import Renderer
from newsletter.render.sandbox import TemplateProblem, TemplateRefused

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def renderer(config: Config) -> Renderer:
    return Renderer(config)


@pytest.fixture
def own_templates(tmp_path: Path, config: Config) -> tuple[Path, Config]:
    """A copy of the templates the test may edit, and a config using it."""
    folder = tmp_path / "own-templates"
    shutil.copytree(REPO / "templates", folder)
    return folder, dataclasses.replace(config, templates=folder)


def test_editor_template_cannot_reach_globals(renderer: Renderer) -> None:
    with pytest.raises(SecurityError):
        renderer.render_string("{{ cycler.__init__.__globals__ }}")
    with pytest.raises(SecurityError):
        renderer.render_string("{{ ''.__class__.__mro__[1].__subclasses__() }}")


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a'*10**9 }}",
        "{{ 10**9 * 'a' }}",
        "{{ ['a'] * 10**9 }}",
        "{{ 'x' * 1000000 * 1000 }}",
        "{{ 'a' | center(10**9) }}",
        "{{ 'a'.ljust(10**9) }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ 2 ** 999999 }}",
        "{% for i in range(99999) %}{{ 'a' * 999999 }}{% endfor %}",
    ],
)
def test_huge_renders_are_stopped_quickly(renderer: Renderer, source: str) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(SecurityError):
        renderer.render_string(source)
    assert time.monotonic() - started < 2
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 50 * 1024  # far from the gigabyte the template asked for


def test_autoescape_and_reasonable_templates_still_work(renderer: Renderer) -> None:
    assert renderer.env.autoescape is True
    assert (
        renderer.render_string("{{ name }} {{ '-' * 3 }} {{ 2 ** 10 }}", name="<b>") == "&lt;b&gt; --- 1024"
    )


def test_editor_template_file_is_refused_with_its_place(
    own_templates: tuple[Path, Config], example_issue: Path
) -> None:
    folder, config = own_templates
    footer = folder / "partials" / "footer.mjml.j2"
    original = footer.read_text(encoding="utf-8")
    footer.write_text(original + "{{ cycler.__init__.__globals__ }}\n", encoding="utf-8")
    line = len(original.splitlines()) + 1
    issue = load_issue(example_issue, config)
    with pytest.raises(TemplateRefused) as caught:
        Renderer(config).render(issue, frozenset({ALL}), "de")
    assert isinstance(caught.value, SecurityError) and isinstance(caught.value, NewsletterError)
    assert str(caught.value).startswith(f"own-templates/partials/footer.mjml.j2:{line}: template refused: ")


def test_hostile_content_is_escaped_literal_text(project: Path, config: Config, renderer: Renderer) -> None:
    folder = project / "issues" / "hostile"
    (folder / "articles").mkdir(parents=True)
    (folder / "issue.md").write_text(
        "---\ntitle: T\ndate: 2022-04-01\narticles: [a]\n---\nHallo.\n", encoding="utf-8"
    )
    (folder / "articles" / "a.de.md").write_text(
        "---\ntitle: \"{{ ''.__class__.__mro__[1].__subclasses__() }}\"\n"
        'kicker: "<script>alert(1)</script>"\n---\nText {{ cycler }}.\n',
        encoding="utf-8",
    )
    edition = renderer.render(load_issue(folder, config), frozenset({ALL}), "de")
    assert "__subclasses__()" in edition.html  # shown, never evaluated
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in edition.html and "<script>" not in edition.html
    assert "<class " not in edition.html and "Text {{ cycler }}." in edition.text


def test_unknown_mjml_tag_in_a_template_file(own_templates: tuple[Path, Config]) -> None:
    folder, config = own_templates
    header = folder / "partials" / "header.mjml.j2"
    lines = header.read_text(encoding="utf-8").split("\n")
    lines.insert(2, '        <mj-colum width="10%"></mj-colum>')
    header.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(TemplateProblem) as caught:
        Renderer(config)
    assert str(caught.value) == "own-templates/partials/header.mjml.j2:3: unknown MJML tag <mj-colum>"


def test_unknown_mjml_tag_in_rendered_source_is_refused(renderer: Renderer) -> None:
    source = (
        "<mjml><mj-body><mj-section><mj-column><mj-foo>x</mj-foo></mj-column></mj-section></mj-body></mjml>"
    )
    with pytest.raises(TemplateProblem, match=r"unknown MJML tag <mj-foo>"):
        renderer.compile(source)
    assert "<mj-text" not in renderer.compile(source.replace("mj-foo", "mj-text"))


def test_template_syntax_error_names_file_and_line(own_templates: tuple[Path, Config]) -> None:
    folder, config = own_templates
    (folder / "newsletter.mjml.j2").write_text("<mjml>\n{% if %}\n</mjml>\n", encoding="utf-8")
    with pytest.raises(TemplateProblem, match=r"newsletter\.mjml\.j2:2: "):
        Renderer(config)
