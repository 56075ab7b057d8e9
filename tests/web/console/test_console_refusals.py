"""The console's refusals in headless Chromium, as a person or another site would meet them: a
wrong password repeated until the lock-out, a form posted without its CSRF token (or with a
stale one), and a form posted from another origin. Each refusal changes nothing, which is checked
through the service layer. (An editor's approve refused: test_console_journey.py.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from comms.operations import editions
from tests.web.console.editions import KEY
from tests.web.console.support import add_member, checked, sign_in_page, site_url
from tests.web.support import NOW, Site, serve

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]
REFUSED = "Gebruikersnaam of wachtwoord klopt niet."
LOCKED = (
    "Dit account is tijdelijk geblokkeerd na te veel mislukte pogingen. "
    "Probeer het na 9.15 uur opnieuw (Nederlandse tijd)."  # 08:00 UTC + [console] lockout_minutes
)
APPROVE_TOKEN = 'form[action$="/goedkeuren"] input[name="csrf"]'


def alert(page: Page) -> str:
    return page.get_by_role("alert").inner_text()


def status_of(site: Site) -> str:
    [report] = editions.status(site.service, KEY)
    return report.status


def press(page: Page, button: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()


def test_a_wrong_password_repeated_locks_the_account_until_the_lock_expires(site: Site, page: Page) -> None:
    add_member(site.service, "fenna")
    for attempt in range(4):  # [console] max_failed_logins is 5
        sign_in_page(page, site, "fenna", f"wrong password {attempt}")
        assert alert(page) == REFUSED
    sign_in_page(page, site, "fenna", "wrong password 4")
    assert alert(page) == LOCKED
    checked(page, "console inloggen geblokkeerd")

    site.clock.moment = NOW + timedelta(minutes=14)
    sign_in_page(page, site, "fenna")  # the right password, during the lock
    assert alert(page) == LOCKED
    assert page.url.endswith("/console/inloggen")

    site.clock.moment = NOW + timedelta(minutes=15)
    sign_in_page(page, site, "fenna")
    assert page.get_by_role("status").inner_text() == "Welkom, Fenna de Wit."
    assert page.url == site_url(site, "/console/")


@dataclass(frozen=True)
class SignedIn:
    """Joris (approver) on the draft's page; `stale_token`: his session's token before sign-in."""

    page: Page
    stale_token: str


@pytest.fixture
def joris(newsletter: Site, page: Page) -> SignedIn:
    page.goto(site_url(newsletter, "/console/inloggen"))
    stale = page.locator('input[name="csrf"]').first.get_attribute("value") or ""
    sign_in_page(page, newsletter, "joris")
    page.goto(site_url(newsletter, f"/console/edities/{KEY}"))
    return SignedIn(page, stale)


TAMPERING: dict[str, Callable[[SignedIn], object]] = {
    "token removed": lambda it: it.page.locator(APPROVE_TOKEN).evaluate("input => input.remove()"),
    "token emptied": lambda it: it.page.locator(APPROVE_TOKEN).evaluate("input => { input.value = '' }"),
    # The anonymous session's token: sign-in began a new session, so it is worthless now.
    "token from before sign-in": lambda it: it.page.locator(APPROVE_TOKEN).evaluate(
        "(input, old) => { input.value = old }", it.stale_token
    ),
}


@pytest.mark.parametrize("tamper", TAMPERING.values(), ids=TAMPERING.keys())
def test_an_approval_without_the_sessions_token_is_refused_in_the_browser(
    newsletter: Site, joris: SignedIn, tamper: Callable[[SignedIn], object]
) -> None:
    tamper(joris)
    page = joris.page

    press(page, "Goedkeuren")

    assert page.get_by_role("heading", level=1).inner_text() == "Formulier niet geaccepteerd"
    assert "er is niets gewijzigd" in page.get_by_role("main").inner_text()
    assert status_of(newsletter) == "draft"
    checked(page, "console 403 formulier niet geaccepteerd")

    page.goto(site_url(newsletter, f"/console/edities/{KEY}"))  # the form as served still works
    press(page, "Goedkeuren")
    assert status_of(newsletter) == "approved"


def test_a_post_with_the_browsers_cookies_but_no_token_is_refused(newsletter: Site, joris: SignedIn) -> None:
    refused = joris.page.request.post(site_url(newsletter, f"/console/edities/{KEY}/goedkeuren"), form={})

    assert refused.status == 403
    assert "Formulier niet geaccepteerd" in refused.text()
    assert status_of(newsletter) == "draft"
    token = joris.page.locator(APPROVE_TOKEN).get_attribute("value") or ""
    accepted = joris.page.request.post(
        site_url(newsletter, f"/console/edities/{KEY}/goedkeuren"), form={"csrf": token}, max_redirects=0
    )
    assert (accepted.status, status_of(newsletter)) == (303, "approved")  # the same post, with it


@pytest.fixture
def other_origin() -> Iterator[dict[str, str]]:
    """A page served from another loopback origin: `pages["/"]` is its HTML."""
    pages: dict[str, str] = {}
    app = FastAPI()

    @app.get("/")
    async def page() -> HTMLResponse:
        return HTMLResponse(pages["/"])

    with serve(app) as base_url:
        pages["base_url"] = base_url
        yield pages


@pytest.mark.parametrize(
    ("host", "answer", "heading"),
    [
        # Another port, the same site: the session cookie goes along, the Origin check refuses.
        ("127.0.0.1", "/console/edities/nieuwsbrief-2026-12/goedkeuren", "Formulier niet geaccepteerd"),
        # Another site: SameSite=Strict keeps the cookie home, so there is no session to act in.
        ("localhost", "/console/inloggen", "Inloggen"),
    ],
)
def test_a_form_posted_from_another_origin_is_refused(
    newsletter: Site, joris: SignedIn, other_origin: dict[str, str], host: str, answer: str, heading: str
) -> None:
    # The worst case: the other page even knows the session's token.
    page = joris.page
    token = page.locator(APPROVE_TOKEN).get_attribute("value") or ""
    action = site_url(newsletter, f"/console/edities/{KEY}/goedkeuren")
    other_origin["/"] = (
        f'<!DOCTYPE html><html lang="en"><title>Prize</title><form method="post" action="{action}">'
        f'<input type="hidden" name="csrf" value="{token}"><button>Claim your prize</button></form></html>'
    )
    page.goto(other_origin["base_url"].replace("127.0.0.1", host))

    press(page, "Claim your prize")

    assert page.url == site_url(newsletter, answer)
    assert page.get_by_role("heading", level=1).inner_text() == heading
    assert status_of(newsletter) == "draft"
