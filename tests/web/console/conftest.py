"""Fixtures of the console's tests: the site and a console client over it."""

from __future__ import annotations

import httpx
import pytest

from tests.web.console.support import ConsoleClient
from tests.web.support import Site


@pytest.fixture
def console(site: Site) -> ConsoleClient:
    return ConsoleClient(httpx.Client(base_url=str(site.client.base_url), timeout=10))
