"""The sign-up, confirmation and preference pages in real Chromium: filled in and sent as a person
would, at 375 px and 1280 px; screenshots in tests/artifacts/screenshots/ for reviewers."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import pytest
from preview_rig import SCREENSHOTS
from smtp_sink import smtp_sink  # noqa: F401  (fixture)
from subscription_rig import link_in, subscription_service

from newsletter.edges import subscriptions
from newsletter.mail import tokens

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.browser
WIDTHS = (375, 1280)
NO_OVERFLOW = "() => document.documentElement.scrollWidth <= window.innerWidth"


def shoot(browser, url: str, name: str) -> None:  # noqa: ANN001
    """The page at both widths: no sideways scrolling, a screenshot each."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        page.goto(url)
        assert page.evaluate(NO_OVERFLOW), f"{name} scrolls sideways at {width} px"
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}px.png"), full_page=True)
        context.close()


def shoot_mail(browser, html: str, name: str) -> None:  # noqa: ANN001
    """A mail's HTML part as a mail program shows it (no network), at both widths."""
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 700}, offline=True)
        page = context.new_page()
        page.set_content(html)
        assert page.evaluate(NO_OVERFLOW), f"{name} scrolls sideways at {width} px"
        assert page.get_by_role("link", name="Potwierdź zapis").is_visible()
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}px.png"), full_page=True)
        context.close()


def test_sign_up_confirm_and_choose_preferences_in_chromium(browser, project, project_env, smtp_sink):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with subscription_service(project, project_env, smtp_sink) as svc:
        shoot(browser, f"{svc.url}/subscribe?lang=de", "subscribe")
        context = browser.new_context(viewport={"width": 375, "height": 900}, locale="de-DE")
        page = context.new_page()
        page.set_default_timeout(5000)
        page.goto(f"{svc.url}/subscribe")  # German by Accept-Language
        assert page.locator("h1").inner_text() == "Newsletter abonnieren"
        page.get_by_label("E-Mail-Adresse").fill("Jan.Kowalski@Partner.example")
        page.get_by_label("Anrede").select_option("Herr")
        page.get_by_label("Vorname").fill("Jan")
        page.get_by_label("Nachname").fill("Kowalski")
        page.get_by_label("Firma").fill("Kowalski Automotive")
        page.get_by_label("Polski").check()
        page.get_by_label("Polen-Fokus").check()
        page.get_by_label("USA-Fokus").check()
        page.click("button[type=submit]")  # the browser refuses it: the consent box is required
        assert page.locator("h1").inner_text() == "Newsletter abonnieren"
        page.locator("input[name=consent]").check()
        page.click("button[type=submit]")
        assert page.locator("h1").inner_text() == "Bitte bestätigen Sie Ihre Anmeldung"
        page.screenshot(path=str(SCREENSHOTS / "subscribe-sent-375px.png"), full_page=True)

        (mail,) = smtp_sink.wait_for(1)
        assert mail.rcpt_tos == ("jan.kowalski@partner.example",)
        shoot_mail(
            browser, mail.message().get_body(preferencelist=("html",)).get_content(), "confirmation-mail"
        )
        link = svc.local(link_in(mail, "/confirm/"))
        shoot(browser, link, "confirm")
        page.goto(link)
        assert page.locator("h1").inner_text() == "Potwierdź zapis"  # the mail's language (?lang=pl)
        page.get_by_role("button", name="Tak, potwierdzam zapis").click()
        assert page.locator("h1").inner_text() == "Zapis potwierdzony"

        (signup,) = subscriptions(svc.config).signups()
        assert signup.choice.language == "pl" and signup.choice.segments == {"poland", "usa"}
        assert (signup.first_name, signup.salutation, signup.company) == (
            "Jan",
            "Herr",
            "Kowalski Automotive",
        )

        preferences = f"{svc.url}/p/{tokens.seal('preferences', [signup.address], svc.config)}"
        shoot(browser, preferences + "?lang=de", "preferences")
        page.goto(preferences + "?lang=de")
        assert page.get_by_label("Polen-Fokus").is_checked() and page.get_by_label("USA-Fokus").is_checked()
        page.get_by_label("USA-Fokus").uncheck()
        page.get_by_label("English").check()
        page.get_by_role("button", name="Einstellungen speichern").click()
        assert page.locator("h1").inner_text() == "Gespeichert"
        page.screenshot(path=str(SCREENSHOTS / "preferences-saved-375px.png"), full_page=True)
        context.close()
    choice = subscriptions(svc.config).choice(signup.address)
    assert choice is not None and (choice.language, choice.segments) == ("en", {"poland"})
