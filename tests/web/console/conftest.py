"""Fixtures of the console's tests: an HTTP client over the site, and Chromium pages (the
`browser` and `page` fixtures of the survey's accessibility tests), one signed in as an admin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from comms.store.models import TeamRole
from tests.web.console.support import ConsoleClient, add_member, sign_in_page
from tests.web.support import Site
from tests.web.test_survey_accessibility import browser, page  # noqa: F401 - fixtures shared

if TYPE_CHECKING:
    from playwright.sync_api import Page


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
