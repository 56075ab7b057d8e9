"""Signing in to the console, its session cookie, CSRF checks and the lock-out, over HTTP."""

from __future__ import annotations

import pytest

from comms.store.models import TeamRole
from tests.web.console.support import ConsoleClient, add_member
from tests.web.support import Site


def test_a_member_signs_in_and_sees_the_console(site: Site, console: ConsoleClient) -> None:
    add_member(site.service, "fenna", TeamRole.EDITOR)
    assert console.get("/console/").status_code == 303  # not signed in: to the sign-in page

    response = console.sign_in("fenna")

    assert response.status_code == 303
    page = console.get("/console/")
    assert page.status_code == 200
    assert "Fenna de Wit" in page.text
    assert "Welkom, Fenna de Wit." in page.text
    assert page.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("password", ["wrong password 123", ""])
def test_a_wrong_password_is_refused(site: Site, console: ConsoleClient, password: str) -> None:
    add_member(site.service, "fenna")
    response = console.sign_in("fenna", password)
    assert response.status_code == 200
    assert "Gebruikersnaam of wachtwoord klopt niet." in response.text
    assert console.get("/console/").status_code == 303
