"""The survey form in a real browser (Debian's Chromium through Playwright), checked with axe-core.

Each state a respondent can meet is reached the way a person would (clicking, no JavaScript of
ours) and must show no axe violations: the empty form, the error summary, the saved draft, the
thanks, and the pages for a used, closed, not yet open or broken link. axe.min.js comes with the
axe-playwright-python package and Chromium from Debian (`apt-get install chromium`): nothing is
fetched while the tests run. Without them the tests skip on a developer's machine and fail in CI
(CI=true), where .ci/run installs both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.survey.seeding import CLOSES, OPENS
from tests.web.support import ANNA, Site
from tests.web.survey_pages import SurveyRound, open_round

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
# One database is enough: the pages, not the storage, are under test here.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _unavailable() -> str | None:
    """Why the browser check cannot run here, or None."""
    try:
        import axe_playwright_python  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError as missing:
        return f"{missing.name} is not installed: pip install -e '.[test]'"
    if not os.access(CHROMIUM, os.X_OK):
        return f"Chromium is not installed at {CHROMIUM}: apt-get install chromium"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = _unavailable()
    if reason is not None:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"the accessibility check cannot run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright's own browser downloads are never used: Debian's Chromium, headless.
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=True, locale="nl-NL")  # axe itself needs scripts
    yield context.new_page()
    context.close()


@pytest.fixture
def survey(site: Site) -> SurveyRound:
    return open_round(site)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Every axe rule (WCAG 2.0/2.1 A and AA and best practices) run on the page as it is."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe().run(page).response["violations"]


def report(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"{violation['id']} ({violation['impact']}): {violation['help']} – {violation['helpUrl']}"
        )
        for node in violation["nodes"]:
            lines.append(f"    at {', '.join(map(str, node['target']))}: {node['html'][:200]}")
            lines.append("      " + node.get("failureSummary", "").replace("\n", "\n      "))
    return "\n".join(lines)


def assert_accessible(page: Page, state: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"axe found {len(violations)} violation(s) on {state}:\n{report(violations)}"
    assert page.locator("html").get_attribute("lang") == "nl"
    assert page.locator("h1").count() == 1
    assert page.locator("script").count() == 0  # ours: axe runs from the test, not from the page


def goto(page: Page, survey: SurveyRound, path: str | None = None) -> None:
    base = str(survey.site.client.base_url).rstrip("/")
    page.goto(base + (path or survey.url()))


def press(page: Page, button: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()


def fill_required(page: Page) -> None:
    page.check("#v1-4")  # bekendheid: Eens
    page.check("#v2-2")  # besproken: Meestal
    page.check("#v3-3")
    page.check("#v4-1")
    page.check("#v5-5")
    page.check("#v6-1")


def test_the_empty_form(page: Page, survey: SurveyRound) -> None:
    goto(page, survey)

    assert_accessible(page, "the empty form")
    # Labels are real: clicking the visible text chooses the answer.
    page.get_by_text("Helemaal eens").first.click()
    assert page.is_checked("#v1-5")


def test_keyboard_focus_is_visible(page: Page, survey: SurveyRound) -> None:
    goto(page, survey)

    page.keyboard.press("Tab")  # the first focusable element: the footer comes last
    focused: dict[str, str] = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return {id: document.activeElement.id, outline: s.outlineStyle, shadow: s.boxShadow}; }"
    )

    assert focused["id"] == "v1-1"
    assert focused["outline"] != "none" and focused["shadow"] != "none"


def test_the_error_summary_after_sending_an_empty_form(page: Page, survey: SurveyRound) -> None:
    goto(page, survey)

    press(page, "Antwoorden versturen")

    summary = page.get_by_role("alert")
    assert "Controleer uw antwoorden" in summary.inner_text()
    assert summary.get_by_role("link").count() == 6
    assert_accessible(page, "the form with the error summary")
    # A link in the summary moves to the question's first answer.
    summary.get_by_role("link").nth(1).click()
    assert page.evaluate("() => location.hash") == "#v2-1"
    assert survey.counts() == (0, 0, 0)


def test_the_saved_draft(page: Page, survey: SurveyRound) -> None:
    goto(page, survey)
    page.check("#v1-2")
    page.check("#v4-3")
    page.fill("#v7-1", "Nog even over nadenken.")

    press(page, "Tussentijds bewaren")

    assert "Uw antwoorden zijn bewaard; u kunt later verder." in page.get_by_role("status").inner_text()
    assert_accessible(page, "the form after saving a draft")
    goto(page, survey)  # coming back later
    assert page.is_checked("#v1-2") and page.is_checked("#v4-3")
    assert page.input_value("#v7-1") == "Nog even over nadenken."
    assert_accessible(page, "the form with a saved draft")
    assert survey.counts() == (0, 1, 0)


def test_the_thanks_and_the_used_link(page: Page, survey: SurveyRound) -> None:
    goto(page, survey)
    fill_required(page)

    press(page, "Antwoorden versturen")

    assert page.locator("h1").inner_text() == "Dank u wel voor het invullen"
    assert_accessible(page, "the thank-you page")
    assert survey.counts() == (1, 0, 1)
    goto(page, survey)
    assert page.locator("h1").inner_text() == "U heeft deze enquête al ingevuld"
    assert_accessible(page, "the already-submitted page")


def test_the_closed_page(page: Page, survey: SurveyRound) -> None:
    goto(page, survey)  # opened before closing, sent after
    survey.site.clock.moment = CLOSES

    press(page, "Antwoorden versturen")

    assert page.locator("h1").inner_text() == "Deze enquête is gesloten"
    assert "Dank voor uw belangstelling." in page.locator("main").inner_text()
    assert_accessible(page, "the closed page")


@pytest.mark.parametrize("state", ["not open yet", "broken link"])
def test_the_other_link_pages(page: Page, survey: SurveyRound, state: str) -> None:
    if state == "not open yet":
        survey.site.clock.moment = OPENS.replace(hour=7)
        goto(page, survey)
    else:
        goto(page, survey, survey.url(ANNA)[:-6])

    assert_accessible(page, f"the {state} page")
