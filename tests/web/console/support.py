"""Shared support for the console's tests: members, and a client that signs in.

`add_member(service, "fenna", TeamRole.APPROVER)` makes an account (password PASSWORD);
`ConsoleClient` keeps the console's cookies itself: httpx (like a browser) would not send a
Secure cookie over the tests' plain-http loopback, and the tests' base URL is https.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from comms.operations import team
from comms.service import Service
from comms.store.models import TeamRole
from comms.web.console.sessions import COOKIE, FLASH_COOKIE
from tests.web.support import NOW

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

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self._keep(self.client.get(path, headers=self._headers(), **kwargs))  # type: ignore[arg-type]

    def post(
        self, path: str, data: dict[str, str], with_csrf: bool = True, **kwargs: object
    ) -> httpx.Response:
        fields = {"csrf": self.csrf, **data} if with_csrf else data
        return self._keep(self.client.post(path, data=fields, headers=self._headers(), **kwargs))  # type: ignore[arg-type]

    def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        self.get("/console/inloggen")
        return self.post("/console/inloggen", {"gebruikersnaam": username, "wachtwoord": password})

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
