"""The console in Chromium: signing in as a person does, axe-core's 0 violations on each page
and state of the frame, the team pages and the edition page, and screenshots at 1280 and 375 px
for review. `test_every_console_page_has_an_accessibility_check` lists which test checks which
route, and fails when a console page is added without one."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from comms.store.models import TeamRole
from comms.track.suppressions import HARD_BOUNCE, UNSUBSCRIBED, suppress
from comms.worker import Worker
from tests.web.console.editions import KEY
from tests.web.console.support import add_member, checked, sign_in_page, site_url
from tests.web.screenshots import shoot
from tests.web.support import ANNA, NOW, Site
from tests.web.survey_pages import open_round
from tests.web.test_survey_accessibility import assert_accessible

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def test_the_sign_in_page_and_a_refused_password(site: Site, page: Page) -> None:
    add_member(site.service, "fenna")
    page.goto(site_url(site, "/console/"))  # not signed in: to the sign-in page

    assert page.url.endswith("/console/inloggen")
    assert_accessible(page, "the sign-in page")
    shoot(page, "console inloggen")

    sign_in_page(page, site, "fenna", "not the password")
    assert page.get_by_role("alert").inner_text() == "Gebruikersnaam of wachtwoord klopt niet."
    assert_accessible(page, "the sign-in page with its error")
    shoot(page, "console inloggen fout")


def test_signing_in_and_out_in_the_browser(site: Site, page: Page) -> None:
    add_member(site.service, "fenna")
    sign_in_page(page, site, "fenna")
    assert page.get_by_role("status").inner_text() == "Welkom, Fenna de Wit."
    assert page.get_by_role("link", name="Kalender").get_attribute("aria-current") == "page"

    with page.expect_navigation():
        page.get_by_role("button", name="Uitloggen").click()
    assert page.url.endswith("/console/inloggen")
    assert page.get_by_role("status").inner_text() == "U bent uitgelogd."
    page.goto(site_url(site, "/console/logboek"))
    assert "/console/inloggen" in page.url


@pytest.mark.parametrize(
    ("path", "name", "status", "heading", "shows"),
    [
        ("/console/", "console kalender", 200, "Kalender", "op volgorde van verzendtijd"),
        ("/console", "console kalender zonder slash", 200, "Kalender", "op volgorde van verzendtijd"),
        (
            "/console/?soort=newsletter&weken=13",
            "console kalender gefilterd",
            200,
            "Kalender",
            "Maandelijkse nieuwsbrief",
        ),
        (
            "/console/?soort=agenda-digest&stand=held",
            "console kalender leeg",
            200,
            "Kalender",
            "Geen mailings",
        ),
        ("/console/logboek", "console logboek", 200, "Logboek", "ingelogd"),
        ("/console/logboek?persoon=fenna", "console logboek gefilterd", 200, "Logboek", "1 gebeurtenis"),
        ("/console/agenda", "console agenda", 200, "Agenda", "agendaberichten"),
        ("/console/agenda?provincie=Utrecht", "console agenda gefilterd", 200, "Agenda", "Utrecht"),
        ("/console/enquetes", "console enquetes", 200, "Enquêtes", "1 ronde"),
        ("/console/blokkades", "console blokkades", 200, "Blokkades", "Zoek op e-mailadres"),
        (f"/console/blokkades?adres={ANNA[0]}", "console blokkades gevonden", 200, "Blokkades", "Opheffen"),
        ("/console/bestaat-niet", "console 404", 404, "Pagina niet gevonden", "Kies een pagina"),
        ("/console/edities/bestaat-niet", "console 404 editie", 404, "Editie niet gevonden", "kalender"),
        (
            "/console/uitloggen",
            "console 405",
            405,
            "Dit kan hier niet",
            "Kies een pagina",
        ),  # a form's address
    ],
)
def test_each_console_page_is_accessible(
    site: Site, page: Page, path: str, name: str, status: int, heading: str, shows: str
) -> None:
    open_round(site)  # a survey round for the Enquêtes page (the clock moves into it)
    with site.service.db.session() as session:
        suppress(session, ANNA[0], "*", HARD_BOUNCE, NOW)
        suppress(session, ANNA[0], "newsletter", UNSUBSCRIBED, NOW)
    add_member(site.service, "fenna", TeamRole.ADMIN)
    sign_in_page(page, site, "fenna")

    response = page.goto(site_url(site, path))

    assert response is not None and response.status == status
    assert page.url == site_url(site, path)
    assert page.get_by_role("heading", level=1).inner_text() == heading
    assert shows in page.get_by_role("main").inner_text()
    assert page.get_by_role("navigation", name="Hoofdmenu").is_visible()  # in the console's frame
    assert_accessible(page, name)
    shoot(page, name)
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # wide tables scroll inside


def test_an_editor_is_refused_the_admins_action_with_a_dutch_page(site: Site, page: Page) -> None:
    add_member(site.service, "joris", TeamRole.EDITOR)
    with site.service.db.session() as session:
        suppress(session, ANNA[0], "*", HARD_BOUNCE, NOW)
    sign_in_page(page, site, "joris")
    page.goto(site_url(site, f"/console/blokkades?adres={ANNA[0]}"))
    assert page.get_by_text("Alleen een beheerder kan dit opheffen.").is_visible()
    assert page.get_by_role("button", name="Opheffen").count() == 0
    assert_accessible(page, "the suppression page for an editor")
    shoot(page, "console blokkades redacteur")


def test_an_admin_lifts_a_bounce_in_the_browser(site: Site, signed_in_page: Page) -> None:
    with site.service.db.session() as session:
        suppress(session, ANNA[0], "*", HARD_BOUNCE, NOW)
    signed_in_page.goto(site_url(site, f"/console/blokkades?adres={ANNA[0]}"))

    with signed_in_page.expect_navigation():
        signed_in_page.get_by_role("button", name="Opheffen").click()

    assert signed_in_page.get_by_role("status").inner_text().startswith("Blokkade opgeheven")
    assert f"Voor {ANNA[0]} staan geen blokkades." in signed_in_page.content()
    assert_accessible(signed_in_page, "the suppression page after a lift")
    shoot(signed_in_page, "console blokkade opgeheven")


def press(page: Page, button: str | re.Pattern[str]) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()


def approve(page: Page, site: Site) -> None:
    press(page, "Goedkeuren")


def start(page: Page, site: Site) -> None:
    approve(page, site)
    with page.expect_navigation():
        page.get_by_role("link", name="Nu versturen…").click()
    press(page, re.compile("Ja, nu versturen"))


def send(page: Page, site: Site) -> None:
    start(page, site)
    Worker(site.service, site.clock, threading.Event()).run(exit_when_idle=True)


def hold(page: Page, site: Site) -> None:
    page.get_by_label("Reden om aan te houden").fill("Wacht op de AV-datum")
    press(page, "Aanhouden")


def hold_without_reason(page: Page, site: Site) -> None:
    press(page, "Aanhouden")


def discard(page: Page, site: Site) -> None:
    press(page, "Vervallen verklaren")


# (what is pressed, the state it leads to, the confirmation or refusal shown, the screenshot's name)
EDITION_STATES = [
    (approve, "goedgekeurd", "Goedgekeurd. De editie gaat uit op de geplande tijd.", "goedgekeurd"),
    (hold, "aangehouden", "Aangehouden. De editie gaat niet uit tot ze opnieuw is", "aangehouden"),
    (hold_without_reason, "concept", "Vul in waarom de editie wordt aangehouden.", "zonder reden"),
    (discard, "vervallen", "Vervallen verklaard. Deze editie gaat niet uit.", "vervallen"),
    (start, "wordt verstuurd", "De verzending is gestart.", "wordt verstuurd"),
    (send, "verstuurd", "", "verstuurd"),
]


@pytest.mark.parametrize(
    ("change", "state", "message", "name"), EDITION_STATES, ids=[row[3] for row in EDITION_STATES]
)
def test_the_edition_page_in_each_state(
    newsletter: Site, page: Page, change: Callable[[Page, Site], None], state: str, message: str, name: str
) -> None:
    """Each action's form, pressed in the browser, and the edition page in the state it leads
    to, with its confirmation or refusal (the draft itself and four eyes: the journey)."""
    sign_in_page(page, newsletter, "joris")  # an approver who did not build it
    page.goto(site_url(newsletter, f"/console/edities/{KEY}"))

    change(page, newsletter)
    if message:
        assert message in page.get_by_role("status").or_(page.get_by_role("alert")).inner_text()
    if page.url.endswith("/voortgang"):  # where the early send leads
        page.goto(site_url(newsletter, f"/console/edities/{KEY}"))

    assert page.locator("dl.facts .state").inner_text() == state
    checked(page, f"console editie {name}")
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # the previews scroll inside


def test_a_page_beyond_ones_role_is_a_dutch_403(newsletter: Site, page: Page) -> None:
    sign_in_page(page, newsletter, "fenna")  # an editor

    response = page.goto(site_url(newsletter, f"/console/edities/{KEY}/nu-versturen"))

    assert response is not None and response.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "Geen toegang"
    assert "Hiervoor is de rol goedkeurder nodig; u bent redacteur." in page.get_by_role("main").inner_text()
    assert_accessible(page, "the 403 page")
    shoot(page, "console 403 geen toegang")
