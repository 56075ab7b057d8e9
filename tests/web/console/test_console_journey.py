"""The console end to end in headless Chromium (Debian's, through Playwright), as the team uses it.

December's newsletter, built by Joris with four eyes on, is planned for Thursday 3 December 9.00.
Fenna (editor) signs in, finds it in the calendar, opens it, sends herself a test copy and cannot
approve it; Joris (approver) may not approve his own build; Aylin (approver) approves it. Nothing
goes out before its time: on a fixed clock moved to the planned time, the schedule's send step
starts it and a worker delivers it, while the progress page is watched, and the results page shows
each province. Every page is checked with axe-core and photographed at 1280 and 375 px.
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from comms.config import ApprovalConfig
from comms.operations import editions
from comms.schedule import jobs
from comms.schedules import schedules_of
from comms.store.models import TeamRole
from comms.worker import Worker
from tests.web.console.editions import KEY, MONDAY, SEND_AT, add_statenleden, build_newsletter
from tests.web.console.support import PASSWORD, add_member, checked
from tests.web.screenshots import screenshot_dir
from tests.web.support import Site, SiteFactory
from tests.web.test_survey_accessibility import browser

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

__all__ = ["browser"]  # the module's Chromium, shared with the survey's accessibility tests
pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]
TEST_ADDRESS = "fenna.test@example.org"


@pytest.fixture
def site(make_site: SiteFactory) -> Site:
    """Four eyes on; a plain-http base URL, so the browser keeps the session cookie on the
    loopback (it would not send a Secure cookie over http)."""
    made = make_site(approval=ApprovalConfig(four_eyes=True), web_base_url="http://127.0.0.1")
    made.clock.moment = MONDAY
    for username, role in (
        ("fenna", TeamRole.EDITOR),
        ("joris", TeamRole.APPROVER),
        ("aylin", TeamRole.APPROVER),
    ):
        add_member(made.service, username, role, MONDAY)
    add_statenleden(made.service)
    build_newsletter(made.service, "joris")
    return made


@pytest.fixture
def member_page(browser: Browser, site: Site) -> Iterator[object]:
    """`member_page("fenna")`: a browser of its own (cookies and all), signed in as that member."""
    contexts = []

    def open_as(username: str) -> Page:
        context = browser.new_context(locale="nl-NL", base_url=str(site.client.base_url))
        contexts.append(context)
        page = context.new_page()
        page.goto("/console/")  # not signed in: to the sign-in page, and back afterwards
        assert "/console/inloggen" in page.url
        page.get_by_label("Gebruikersnaam").fill(username)
        page.get_by_label("Wachtwoord").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Inloggen").click()
        return page

    yield open_as
    for context in contexts:
        context.close()


def press(page: Page, button: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()


def test_plan_check_approve_and_send_on_time(site: Site, member_page: object) -> None:
    open_as = member_page
    assert callable(open_as)

    # Fenna, editor: the calendar, the edition, a test copy; she cannot approve.
    fenna: Page = open_as("fenna")
    assert fenna.get_by_role("heading", name="Kalender").is_visible()
    row = fenna.get_by_role("row").filter(has_text="nieuwsbrief")
    assert (
        "goedkeuring nodig van een goedkeurder vóór dinsdag 1 december 2026, 9.00 uur"
        in row.first.inner_text()
    )
    checked(fenna, "console-kalender")
    with fenna.expect_navigation():
        fenna.get_by_role("link", name=re.compile("IPO-nieuwsbrief")).first.click()
    assert fenna.url.endswith(f"/console/edities/{KEY}")
    assert fenna.get_by_text("Goedkeuren kan alleen een goedkeurder.").is_visible()
    checked(fenna, "console-editie")
    for frame, width in zip(fenna.locator("iframe").all(), ("600", "375"), strict=True):
        # A full-page screenshot leaves sandboxed frames blank: each preview is shot on its own.
        assert frame.get_attribute("width") == width
        frame.screenshot(path=screenshot_dir() / f"console-editie-voorbeeld-{width}.png")

    fenna.get_by_label(re.compile("Testversie naar")).fill(TEST_ADDRESS)
    press(fenna, "Testversie versturen")
    assert fenna.get_by_role("status").inner_text() == "Testversie verstuurd naar 1 adres."
    copies = list((site.config.resolve(site.config.delivery.outbox_dir)).glob("*-test/messages/*.eml"))
    assert len(copies) == 1
    copy = email.message_from_bytes(copies[0].read_bytes(), policy=email.policy.default)
    assert (copy["To"], copy["Subject"].startswith("[TEST] ")) == (TEST_ADDRESS, True)

    csrf = fenna.locator('input[name="csrf"]').first.get_attribute("value") or ""
    refused = fenna.request.post(f"/console/edities/{KEY}/goedkeuren", form={"csrf": csrf})
    assert refused.status == 403  # an editor's approval is refused by the server too
    assert "Hiervoor is de rol goedkeurder nodig" in refused.text()

    # Joris built this revision: with four eyes on, he may not approve it.
    joris = open_as("joris")
    joris.goto(f"/console/edities/{KEY}")
    press(joris, "Goedkeuren")
    assert "(vier-ogenprincipe)" in joris.get_by_role("alert").inner_text()
    checked(joris, "console-editie-vier-ogen")
    assert editions.status(site.service, KEY)[0].status == "draft"

    # Aylin approves; the early send asks first, and she keeps the planned time.
    aylin = open_as("aylin")
    aylin.goto(f"/console/edities/{KEY}")
    press(aylin, "Goedkeuren")
    assert "Goedgekeurd. De editie gaat uit op de geplande tijd." in aylin.get_by_role("status").inner_text()
    with aylin.expect_navigation():
        aylin.get_by_role("link", name="Nu versturen…").click()
    assert "5 ontvangers" in aylin.get_by_role("button", name=re.compile("Ja, nu versturen")).inner_text()
    checked(aylin, "console-nu-versturen")
    with aylin.expect_navigation():
        aylin.get_by_role("link", name="Nee, terug naar de editie").click()
    aylin.goto(f"/console/edities/{KEY}/voortgang")
    assert aylin.get_by_text("Deze editie wordt nog niet verstuurd.").is_visible()
    checked(aylin, "console-voortgang-nog-niet")

    # Thursday 9.00: the schedule's send step starts it; the progress page shows it waiting.
    # (Monday's sessions have ended meanwhile: Aylin signs in again.)
    site.clock.moment = SEND_AT
    schedules, _ = schedules_of(site.config, SEND_AT)
    jobs.install(jobs.JobContext(site.service, site.clock, {s.name: s for s in schedules}))
    try:
        jobs.run_step("newsletter", "send", SEND_AT)
    finally:
        jobs.install(None)
    aylin = open_as("aylin")
    aylin.goto(f"/console/edities/{KEY}/voortgang")
    assert aylin.get_by_text("0 van de 5 berichten afgehandeld").is_visible()
    checked(aylin, "console-voortgang")

    delivered = Worker(site.service, site.clock, threading.Event()).run(exit_when_idle=True)
    assert delivered == 5
    aylin.get_by_role("link", name="Ververs de voortgang").click()
    aylin.wait_for_load_state()
    assert aylin.get_by_text("5 van de 5 berichten afgehandeld").is_visible()
    assert aylin.get_by_text("klaar", exact=True).is_visible()

    with aylin.expect_navigation():
        aylin.get_by_role("link", name="Bekijk de resultaten per provincie").click()
    rows = {
        r.locator("th").inner_text(): r.locator("td").first.inner_text()
        for r in aylin.locator("table.results tbody tr").all()
    }
    assert rows == {"Gelderland": "1", "Utrecht": "2", "Zeeland": "2", "Totaal": "5"}
    checked(aylin, "console-resultaten")
