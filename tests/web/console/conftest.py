"""Fixtures of the console's tests: an HTTP client over the site, Chromium pages (the `browser`
and `page` fixtures of the survey's accessibility tests), one signed in as an admin, one with
JavaScript off, and `newsletter`: December's newsletter built by Fenna (editor), Joris approver."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from comms.store.models import TeamRole
from tests.web.console.editions import MONDAY, add_statenleden, build_newsletter
from tests.web.console.support import ConsoleClient, add_member, sign_in_page
from tests.web.support import Site
from tests.web.test_survey_accessibility import browser, page  # noqa: F401 - fixtures shared

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture
def console(site: Site) -> ConsoleClient:
    return ConsoleClient(httpx.Client(base_url=str(site.client.base_url), timeout=10))


ConsoleFactory = Callable[[Site], ConsoleClient]


@pytest.fixture
def console_for() -> Iterator[ConsoleFactory]:
    """A console client for a site made with `make_site(...)`."""
    clients: list[httpx.Client] = []

    def make(site: Site) -> ConsoleClient:
        clients.append(httpx.Client(base_url=str(site.client.base_url), timeout=10))
        return ConsoleClient(clients[-1])

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def signed_in_page(site: Site, page: Page) -> Page:  # noqa: F811 - `page` is the fixture
    """A Chromium page signed in as Fenna de Wit (admin, so every page and button shows)."""
    add_member(site.service, "fenna", TeamRole.ADMIN)
    sign_in_page(page, site, "fenna")
    return page


@pytest.fixture
def newsletter(site: Site) -> Site:
    """The site on Monday 30 November with December's newsletter built by Fenna (editor) and
    planned for Thursday 3 December, 9.00; Joris may approve it (four eyes as the site has it)."""
    add_member(site.service, "fenna", TeamRole.EDITOR)
    add_member(site.service, "joris", TeamRole.APPROVER)
    add_statenleden(site.service)
    site.clock.moment = MONDAY
    build_newsletter(site.service, "fenna")
    return site


@pytest.fixture
def page_without_scripts(browser: Browser) -> Iterator[Page]:  # noqa: F811 - `browser` is the fixture
    """A Chromium page with JavaScript off, as some of the team's browsers are (no axe here: it
    is a script)."""
    context = browser.new_context(java_script_enabled=False, locale="nl-NL")
    yield context.new_page()
    context.close()
