"""Shared support for the console's tests: members, and a client that signs in.

`add_member(service, "fenna", TeamRole.APPROVER)` makes an account (password PASSWORD);
`sign_in_page(page, site, "fenna")` signs a Chromium page in through the form (fixtures `page`
and `signed_in_page` in conftest.py); `checked(page, name)` runs axe-core on it and photographs
it. `ConsoleClient` keeps the console's cookies itself: httpx would not send a Secure cookie over
the tests' plain-http loopback (the base URL is https).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import httpx

from comms.operations import team
from comms.service import Service
from comms.store.models import TeamRole
from comms.web.console.sessions import COOKIE, FLASH_COOKIE
from tests.web.screenshots import shoot
from tests.web.support import NOW, Site
from tests.web.test_survey_accessibility import axe_violations, report

if TYPE_CHECKING:
    from playwright.sync_api import Page

PASSWORD = "correct horse battery staple"
NAMES = {"fenna": "Fenna de Wit", "joris": "Joris Bakker", "aylin": "Aylin Demir"}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def add_member(
    service: Service,
    username: str,
    role: TeamRole = TeamRole.EDITOR,
    now: datetime = NOW,
    password: str = PASSWORD,
) -> team.Account:
    name = NAMES.get(username, username.title())
    return team.add(service, username, name, f"{username}@ipo.example.org", role, password, now)


@dataclass
class ConsoleClient:
    """Requests to the console as one browser: its cookies kept, the CSRF token of the last page."""

    client: httpx.Client
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""

    def get(self, path: str) -> httpx.Response:
        return self._keep(self.client.get(path, headers=self._headers()))

    def post(
        self, path: str, data: dict[str, str], with_csrf: bool = True, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """Post a form with the last page's CSRF token (unless `with_csrf` is False)."""
        fields = {"csrf": self.csrf, **data} if with_csrf else data
        return self._keep(self.client.post(path, data=fields, headers=self._headers() | (headers or {})))

    def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        """Sign in through the form; once signed in, the next page is fetched too (its CSRF token
        belongs to the new session)."""
        self.get("/console/inloggen")
        response = self.post("/console/inloggen", {"gebruikersnaam": username, "wachtwoord": password})
        if response.status_code == 303:
            self.get(response.headers["location"])
        return response

    def _headers(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}

    def _keep(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";")[0].strip('"')
            if name in (COOKIE, FLASH_COOKIE):
                if value and "max-age=0" not in header.lower():
                    self.cookies[name] = value
                else:
                    self.cookies.pop(name, None)
        found = (
            _CSRF.search(response.text)
            if response.headers.get("content-type", "").startswith("text/html")
            else None
        )
        if found:
            self.csrf = found.group(1)
        return response


def sign_in_page(page: Page, site: Site, username: str, password: str = PASSWORD) -> None:
    """Sign `page` (Chromium) in through the form, as a person would."""
    page.goto(site_url(site, "/console/inloggen"))
    page.get_by_label("Gebruikersnaam").fill(username)
    page.get_by_label("Wachtwoord").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Inloggen").click()


def site_url(site: Site, path: str) -> str:
    return str(site.client.base_url).rstrip("/") + path


def checked(page: Page, name: str) -> None:
    """axe-core finds nothing on the console page as it is; then its screenshots at both widths.
    (Unlike the recipients' pages, the progress page may carry our one script.)"""
    violations = axe_violations(page)
    assert violations == [], f"axe found {len(violations)} violation(s) on {name}:\n{report(violations)}"
    assert page.locator("html").get_attribute("lang") == "nl"
    assert page.locator("h1").count() == 1
    shoot(page, name)
