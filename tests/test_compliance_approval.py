"""Four-eyes approval: hashes of every edition, refusal naming the changed editions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from compliance_rig import approve, latest_approval

from newsletter import approval
from newsletter.cli import main
from newsletter.clock import FakeClock
from newsletter.config import load_config
from newsletter.content import load_issue
from newsletter.model import ALL, Edition, RefusedError

SLUG = "2022-03-laenderfokus"
WHEN = datetime(2026, 11, 20, 14, 2, tzinfo=UTC)


def _editions(config, issue_path):
    return approval.render_all_editions(load_issue(issue_path, config), config)


def _change_one_word(issue_path):
    article = issue_path / "articles" / "delegation.de.md"  # segments: [usa]
    text = article.read_text(encoding="utf-8")
    assert "Automatisiertes" in text
    article.write_text(text.replace("Automatisiertes", "Autonomes", 1), encoding="utf-8")


def test_every_edition_any_member_could_receive(config, example_issue):
    editions = _editions(config, example_issue)
    keys = {e.key for e in editions}
    assert keys == {
        f"{s}.{lang}"
        for s in ("all", "poland", "usa", "poland+usa", "general")
        for lang in ("de", "en", "pl")
    }


def test_unchanged_content_passes(config, example_issue):
    approve(config, example_issue, "Anna Schmidt", clock=FakeClock(WHEN))
    result = approval.verify(config, SLUG, _editions(config, example_issue), latest_approval(config))
    assert result.approved_by == "Anna Schmidt" and result.when == "2026-11-20 14:02 UTC"


def test_no_approval_refuses(config, example_issue):
    with pytest.raises(
        RefusedError, match=f"{SLUG} has not been approved.*newsletter approve {SLUG} --by NAME"
    ):
        approval.verify(config, SLUG, _editions(config, example_issue), latest_approval(config))


def test_one_changed_word_names_the_edition_then_reapproval_lets_it_through(config, example_issue):
    approve(config, example_issue, "Anna Schmidt", clock=FakeClock(WHEN))
    _change_one_word(example_issue)
    issue = load_issue(example_issue, config)
    usa_de = [e for e in approval.render_all_editions(issue, config) if e.key == "usa.de"]
    with pytest.raises(RefusedError) as info:
        approval.verify(config, issue, usa_de, latest_approval(config))
    message = str(info.value)
    assert message.startswith("usa.de changed since approval by Anna Schmidt on 2026-11-20 14:02 UTC;")
    assert f"newsletter approve {SLUG} --by NAME` again" in message
    # the whole issue: exactly the German editions that carry the article are named
    with pytest.raises(RefusedError) as info:
        approval.verify(config, issue, _editions(config, example_issue), latest_approval(config))
    named = str(info.value).split(" changed since", 1)[0].split(", ")
    assert sorted(named) == ["all.de", "poland+usa.de", "usa.de"]
    # a second person approves the new content
    approve(config, example_issue, "Ben Vogel", clock=FakeClock(WHEN.replace(hour=15)))
    assert approval.verify(config, issue, usa_de, latest_approval(config)).approved_by == "Ben Vogel"


def test_sender_change_invalidates_every_edition(config, project, project_env, example_issue):
    approve(config, example_issue, "Anna Schmidt")
    other = load_config(
        project, {**project_env, "NEWSLETTER_FROM": "Someone Else <else@amz-sachsen.example>"}
    )
    with pytest.raises(RefusedError, match=r"and \d+ more changed since"):
        approval.verify(other, SLUG, _editions(other, example_issue), latest_approval(other))


def test_edition_outside_the_approval_refuses(config, example_issue):
    approve(config, example_issue, "Anna Schmidt")
    stranger = Edition(
        issue_slug=SLUG,
        segments=frozenset({ALL}),
        language="xx",
        subject="s",
        preheader="",
        html="<p>x</p>",
        text="x",
        articles=(),
    )
    with pytest.raises(RefusedError, match="^all.xx changed since"):
        approval.verify(config, SLUG, [stranger], latest_approval(config))


def test_describe_for_status(config, example_issue):
    assert (
        approval.describe_approval(config, SLUG, latest_approval(config)) == "approval: none (not required)"
    )
    approve(config, example_issue, "Anna Schmidt", clock=FakeClock(WHEN))
    line = approval.describe_approval(config, SLUG, latest_approval(config))
    assert (
        line
        == "approval: by Anna Schmidt on 2026-11-20 14:02 UTC (15 editions; not required); content unchanged"
    )
    _change_one_word(example_issue)
    assert approval.describe_approval(config, SLUG, latest_approval(config)).endswith(
        "; CHANGED since: all.de, usa.de, poland+usa.de"
    )
    assert "CHANGED" not in approval.describe_approval(
        config, SLUG, latest_approval(config), check_content=False
    )


def test_cliapprove(project, project_env, example_issue, monkeypatch):
    monkeypatch.chdir(project)
    toml = project / "newsletter.toml"
    toml.write_text(toml.read_text().replace("require_approval = false", "require_approval = true"))
    runner = CliRunner()
    result = runner.invoke(main, ["approve", SLUG, "--by", "Anna  Schmidt"], env=project_env)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{SLUG}: approved by Anna Schmidt on ")
    assert "(15 editions, content " in result.output and "note:" not in result.output
    config = load_config(project, project_env)
    assert config.require_approval
    assert latest_approval(config).approved_by == "Anna Schmidt"
    result = runner.invoke(main, ["approve", SLUG, "--by", "  "], env=project_env)
    assert result.exit_code == 2 and "--by needs the approver's name" in result.output
    result = runner.invoke(main, ["approve", "no-such-issue", "--by", "Anna"], env=project_env)
    assert result.exit_code == 1 and "no issue.md here" in result.output


def test_segment_display_name_change_invalidates_its_editions(config, project, project_env, example_issue):
    """Segment names appear in List-Id: renaming one changes exactly the editions that carry it."""
    approve(config, example_issue, "Anna Schmidt")
    toml = project / "newsletter.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('de = "USA-Fokus"', 'de = "Fokus USA"'), encoding="utf-8"
    )
    renamed = load_config(project, project_env)
    with pytest.raises(RefusedError) as info:
        approval.verify(renamed, SLUG, _editions(renamed, example_issue), latest_approval(renamed))
    named = str(info.value).split(" changed since", 1)[0].split(", ")
    assert (
        "usa.de" in named and "poland+usa.de" in named and "poland.de" not in named and "usa.en" not in named
    )


def test_cli_approve_refuses_an_issue_that_fails_the_preflight(
    project, project_env, example_issue, monkeypatch
):
    """A remote image loads fine but fails the check: nothing that cannot be sent is approved."""
    monkeypatch.chdir(project)
    article = next((example_issue / "articles").glob("*.de.md"))
    article.write_text(article.read_text() + '\n<img src="https://tracker.example/open.gif?id=1" alt="">\n')
    result = CliRunner().invoke(main, ["approve", SLUG, "--by", "Anna Schmidt"], env=project_env)
    assert result.exit_code == 2, result.output
    assert "remote image https://tracker.example/open.gif?id=1" in result.output
    assert f"not approved: {SLUG} fails the pre-flight check" in result.output
    assert latest_approval(load_config(project, project_env)) is None


def test_editions_rendered_ahead_for_a_mid_send_choice_that_changed_since_approval_are_dropped(
    config, example_issue
):
    from newsletter.model import EditionKey
    from newsletter.send.run import approved_ahead

    approve(config, example_issue, "Anna Schmidt", clock=FakeClock(WHEN))
    _change_one_word(example_issue)  # delegation.de.md: the usa editions in German
    ahead = {EditionKey.parse(e.key): e for e in _editions(config, example_issue)}
    kept = approved_ahead(config, latest_approval(config), ahead)
    assert {str(k) for k in ahead} - {str(k) for k in kept} == {"usa.de", "poland+usa.de", "all.de"}
    assert EditionKey.parse("poland.de") in kept and EditionKey.parse("usa.en") in kept
