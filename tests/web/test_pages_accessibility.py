"""The unsubscribe, preference-link and undo pages in a real browser, checked with axe-core.

Reached the way a person would, by clicking: the confirm page, "mail me a link", the unsubscribe
from forward-safe mail, and the undo from the notice it sends. The browser and the axe check are
the survey's (test_survey_accessibility): skipped without Chromium, except in CI.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from comms.tokens import Purpose
from tests.web.support import Site, notices, text_of
from tests.web.test_survey_accessibility import assert_accessible, browser, page, press  # noqa: F401

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def goto(page: Page, site: Site, path: str) -> None:  # noqa: F811
    page.goto(str(site.client.base_url).rstrip("/") + path)


def test_the_unsubscribe_and_undo_pages(page: Page, site: Site) -> None:  # noqa: F811
    goto(page, site, f"/afmelden/{site.token(Purpose.UNSUBSCRIBE)}")
    assert_accessible(page, "the unsubscribe confirm page")
    press(page, "Mail mij een link naar mijn voorkeuren")
    assert_accessible(page, "the link-sent page")

    goto(page, site, f"/afmelden/{site.token(Purpose.UNSUBSCRIBE, scope='agenda-digest')}")
    press(page, "Afmelden")
    assert_accessible(page, "the unsubscribed page")
    site.drain()
    undo = re.search(r"https://[^/\s]+(/afmelding-ongedaan/\S+)", text_of(notices(site)[-1]))
    assert undo is not None
    goto(page, site, undo.group(1))
    assert_accessible(page, "the undo confirm page")
    press(page, "Weer ontvangen")
    assert_accessible(page, "the restored page")
    assert page.locator("h1").inner_text() == "U ontvangt het weer"


def test_the_ask_a_link_page_and_its_answer(page: Page, site: Site) -> None:  # noqa: F811
    goto(page, site, "/voorkeuren")
    assert_accessible(page, "the ask-a-link page")
    page.fill("#email", "iemand@example.org")
    press(page, "Stuur mij de link")
    assert_accessible(page, "the answer")
