"""Fixtures of the console's tests: the site and a console client over it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.web.console.support import ConsoleClient
from tests.web.support import Site


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
