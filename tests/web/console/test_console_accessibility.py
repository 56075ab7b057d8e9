"""The console in Chromium: signing in as a person does, axe-core's 0 violations on each page
of the frame and the team pages, and screenshots at 1280 and 375 px for review."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from comms.store.models import TeamRole
from comms.track.suppressions import HARD_BOUNCE, UNSUBSCRIBED, suppress
from tests.web.console.support import add_member, sign_in_page, site_url
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
    ("path", "name"),
    [
        ("/console/", "console kalender"),
        ("/console/logboek", "console logboek"),
        ("/console/agenda", "console agenda"),
        ("/console/enquetes", "console enquetes"),
        (f"/console/blokkades?adres={ANNA[0]}", "console blokkades"),
    ],
)
def test_each_console_page_is_accessible(site: Site, page: Page, path: str, name: str) -> None:
    open_round(site)  # a survey round for the Enquêtes page (the clock moves into it)
    with site.service.db.session() as session:
        suppress(session, ANNA[0], "*", HARD_BOUNCE, NOW)
        suppress(session, ANNA[0], "newsletter", UNSUBSCRIBED, NOW)
    add_member(site.service, "fenna", TeamRole.ADMIN)
    sign_in_page(page, site, "fenna")

    page.goto(site_url(site, path))

    assert page.url == site_url(site, path)
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


def test_an_admin_lifts_a_bounce_in_the_browser(site: Site, signed_in_page: Page) -> None:
    with site.service.db.session() as session:
        suppress(session, ANNA[0], "*", HARD_BOUNCE, NOW)
    signed_in_page.goto(site_url(site, f"/console/blokkades?adres={ANNA[0]}"))

    with signed_in_page.expect_navigation():
        signed_in_page.get_by_role("button", name="Opheffen").click()

    assert signed_in_page.get_by_role("status").inner_text().startswith("Blokkade opgeheven")
    assert f"Voor {ANNA[0]} staan geen blokkades." in signed_in_page.content()
    assert_accessible(signed_in_page, "the suppression page after a lift")
