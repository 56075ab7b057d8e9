"""The console with JavaScript switched off in Chromium: every step of an edition's way out is a
plain link or form. Joris (approver) signs in, sends a test copy, edits the introduction (a new
revision), approves it, confirms the early send, follows the progress with its refresh link and
opens the results; then signs out."""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Literal

import pytest

from comms.operations import editions
from comms.worker import Worker
from tests.web.console.editions import KEY
from tests.web.console.support import PASSWORD, site_url
from tests.web.support import Site

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def follow(page: Page, role: Literal["button", "link"], name: str | re.Pattern[str]) -> None:
    """Click a button or link and wait for the next page (a form post or a plain link)."""
    with page.expect_navigation():
        page.get_by_role(role, name=name).click()


def flash(page: Page) -> str:
    return page.get_by_role("status").inner_text()


def test_an_edition_goes_out_without_javascript(newsletter: Site, page_without_scripts: Page) -> None:
    page = page_without_scripts
    page.goto(site_url(newsletter, "/console/"))
    assert page.url.endswith("/console/inloggen")
    page.get_by_label("Gebruikersnaam").fill("joris")
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    follow(page, "button", "Inloggen")
    assert flash(page) == "Welkom, Joris Bakker."

    follow(page, "link", re.compile("IPO-nieuwsbrief"))
    assert page.url == site_url(newsletter, f"/console/edities/{KEY}")
    page.get_by_label(re.compile("Testversie naar")).fill("joris.test@example.org")
    follow(page, "button", "Testversie versturen")
    assert flash(page) == "Testversie verstuurd naar 1 adres."

    page.get_by_label("Inleiding (Markdown)").fill("Beste Statenleden,\n\nEen *nieuwe* inleiding.")
    follow(page, "button", "Opslaan en opnieuw opbouwen")
    assert "moet opnieuw worden goedgekeurd" in flash(page)
    assert [r.number for r in editions.revisions(newsletter.service, KEY)] == [2, 1]

    follow(page, "button", "Goedkeuren")
    assert flash(page) == "Goedgekeurd. De editie gaat uit op de geplande tijd."
    follow(page, "link", "Nu versturen…")
    assert page.get_by_role("heading", level=1).inner_text() == "Weet u het zeker?"
    follow(page, "button", re.compile("Ja, nu versturen aan 5 ontvangers"))
    assert page.url == site_url(newsletter, f"/console/edities/{KEY}/voortgang")
    assert page.get_by_text("0 van de 5 berichten afgehandeld").is_visible()

    assert Worker(newsletter.service, newsletter.clock, threading.Event()).run(exit_when_idle=True) == 5
    follow(page, "link", "Ververs de voortgang")
    assert page.get_by_text("5 van de 5 berichten afgehandeld").is_visible()
    follow(page, "link", "Bekijk de resultaten per provincie")
    totals = page.locator("table.results tr.total td").first.inner_text()
    assert totals == "5"
    [report] = editions.status(newsletter.service, KEY)
    assert report.status == "sent"
    sent, first = editions.revisions(newsletter.service, KEY)
    assert (sent.number, sent.approved_by, first.approved_by) == (2, "joris", None)  # the edited one

    follow(page, "button", "Uitloggen")
    assert flash(page) == "U bent uitgelogd."
