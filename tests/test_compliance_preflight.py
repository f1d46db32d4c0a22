"""Issue point 5: the pre-flight gate (newsletter.preflight) and send's secret refusal, as compliance sees them."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from newsletter import preflight
from newsletter.config import load_config
from newsletter.edges import send_parts
from newsletter.model import RefusedError
from newsletter.send.run import run_send

REPO_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _errors(result):
    return [str(p) for p in result.problems if p.severity == "error"]


def _warnings(result):
    return [str(p) for p in result.problems if p.severity == "warning"]


def test_example_issue_is_clean(config, example_issue):
    assert _errors(preflight.check_issue(example_issue, config)) == []


def test_missing_impressum_is_an_error(project, project_env, example_issue):
    toml = project / "newsletter.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(re.sub(r'(?m)^impressum = ".*"$', 'impressum = ""', text, count=1), encoding="utf-8")
    errors = _errors(preflight.check_issue(example_issue, load_config(project, project_env)))
    assert any("no Impressum" in e for e in errors), errors


def test_missing_unsubscribe_link_is_an_error(project, project_env, example_issue):
    templates = project / "templates"
    shutil.copytree(REPO_TEMPLATES, templates)
    footer = templates / "partials" / "footer.mjml.j2"
    text = footer.read_text(encoding="utf-8")
    footer.write_text(
        re.sub(r'<a href="\[\[nl:unsubscribe_url\]\]"[^>]*>[^<]*</a>', "", text), encoding="utf-8"
    )
    toml = project / "newsletter.toml"
    toml.write_text(
        re.sub(r'(?m)^templates = ".*"$', 'templates = "templates"', toml.read_text()), encoding="utf-8"
    )
    config = load_config(project, project_env)
    assert config.templates == templates
    errors = _errors(preflight.check_issue(example_issue, config))
    assert any("no visible unsubscribe link" in e for e in errors), errors


def test_http_link_is_a_warning(config, example_issue):
    article = example_issue / "articles" / "tada.de.md"
    article.write_text(
        article.read_text(encoding="utf-8") + "\nMehr unter [unserer Seite](http://amz.example/alt).\n"
    )
    problems = preflight.check_issue(example_issue, config)
    assert _errors(problems) == []
    assert any("http:" in w for w in _warnings(problems)), _warnings(problems)


def test_public_url_missing_for_a_real_relay_is_a_warning(project, project_env, example_issue):
    dev = load_config(project, project_env)
    assert not any("NEWSLETTER_PUBLIC_URL" in w for w in _warnings(preflight.check_issue(example_issue, dev)))
    real = load_config(
        project, {**project_env, "NEWSLETTER_SMTP_HOST": "smtp.example.org", "NEWSLETTER_SMTP_PORT": "587"}
    )
    assert any(
        "NEWSLETTER_PUBLIC_URL is not set" in w for w in _warnings(preflight.check_issue(example_issue, real))
    )


def test_send_to_a_real_relay_refuses_without_secret(project, project_env, example_issue):
    (project / "subscribers.csv").write_text("email,segments\na@example.org,usa\n", encoding="utf-8")
    env = {**project_env, "NEWSLETTER_SMTP_HOST": "smtp.example.org", "NEWSLETTER_SMTP_PORT": "587",
           "NEWSLETTER_PUBLIC_URL": "https://news.example.org"}  # fmt: skip
    config = load_config(project, env)
    assert config.secret is None
    with pytest.raises(RefusedError, match="NEWSLETTER_SECRET is not set"):
        run_send(config, example_issue, ["usa"], parts=send_parts(config))
