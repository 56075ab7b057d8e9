"""Signing in to the console over HTTP: sessions and their cookie, CSRF, the lock-out, roles."""

from __future__ import annotations

from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from sqlalchemy import select

from comms.operations import team
from comms.store.models import AuditEvent, TeamRole
from comms.web.console.sessions import COOKIE
from tests.web.console.support import ConsoleClient, add_member
from tests.web.support import NOW, Site


def audit_actions(site: Site) -> list[tuple[str, str]]:
    with site.service.db.session() as session:
        return [(e.actor, e.action) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_a_member_signs_in_and_returns_to_the_page_they_asked_for(site: Site, console: ConsoleClient) -> None:
    add_member(site.service, "fenna", TeamRole.EDITOR)
    asked = console.get("/console/logboek?persoon=fenna")
    assert asked.status_code == 303
    assert asked.headers["location"] == "/console/inloggen?terug=/console/logboek%3Fpersoon%3Dfenna"

    console.get(asked.headers["location"])
    signed_in = console.post(
        "/console/inloggen",
        {
            "gebruikersnaam": "fenna",
            "wachtwoord": "correct horse battery staple",
            "terug": "/console/logboek",
        },
    )

    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/console/logboek"
    page = console.get("/console/logboek")
    assert page.status_code == 200
    assert "Welkom, Fenna de Wit." in page.text
    assert "Welkom" not in console.get("/console/logboek").text  # the confirmation is shown once
    assert ("fenna", "login") in audit_actions(site)


@pytest.mark.parametrize("back", ["https://evil.example.org/", "//evil.example.org/console", "/elders"])
def test_after_sign_in_it_never_leaves_the_console(site: Site, console: ConsoleClient, back: str) -> None:
    add_member(site.service, "fenna")
    console.get("/console/inloggen")
    response = console.post(
        "/console/inloggen",
        {"gebruikersnaam": "fenna", "wachtwoord": "correct horse battery staple", "terug": back},
    )
    assert response.headers["location"] == "/console/"


def test_the_session_cookie_is_signed_httponly_strict_secure_and_rotated(
    site: Site, console: ConsoleClient
) -> None:
    add_member(site.service, "fenna")
    form = console.get("/console/inloggen")
    before_cookie, before_csrf = console.cookies[COOKIE], console.csrf
    signed_in = console.sign_in("fenna")

    [header] = [h for h in signed_in.headers.get_list("set-cookie") if h.startswith(f"{COOKIE}=")]
    morsel = SimpleCookie(header)[COOKIE]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "strict"
    assert morsel["secure"] is True  # the tests' base URL is https
    assert morsel["path"] == "/console"
    assert morsel["max-age"] == ""  # ends with the browser; the server ends it sooner
    assert console.cookies[COOKIE] != before_cookie  # a new session id at sign-in …
    console.get("/console/")
    assert console.csrf != before_csrf  # … so the anonymous session's CSRF token is worthless
    assert form.headers["cache-control"] == "no-store"
    assert form.headers["x-frame-options"] == "DENY"
    assert form.headers["referrer-policy"] == "same-origin"  # so a form post carries its Origin
    assert "frame-ancestors 'none'" in form.headers["content-security-policy"]


def test_a_tampered_cookie_is_no_session(site: Site, console: ConsoleClient) -> None:
    add_member(site.service, "fenna", TeamRole.ADMIN)
    console.sign_in("fenna")
    body, mac = console.cookies[COOKIE].split(".")
    console.cookies[COOKIE] = f"{body}.{mac[:-2]}AA"
    assert console.get("/console/").status_code == 303


@pytest.mark.parametrize(
    ("username", "password"),
    [("fenna", "wrong password 123"), ("niemand", "correct horse battery staple"), ("fenna", "")],
)
def test_unknown_user_and_wrong_password_get_the_same_page(
    site: Site, console: ConsoleClient, username: str, password: str
) -> None:
    add_member(site.service, "fenna")
    response = console.sign_in(username, password)
    assert response.status_code == 200
    assert "Gebruikersnaam of wachtwoord klopt niet." in response.text
    assert "geblokkeerd" not in response.text
    assert console.get("/console/").status_code == 303
    assert "niemand" not in {actor for actor, _ in audit_actions(site)}  # what was typed is not logged


def test_a_wrong_password_repeated_locks_the_account_until_the_lock_expires(
    site: Site, console: ConsoleClient
) -> None:
    add_member(site.service, "fenna")
    answers = [console.sign_in("fenna", f"wrong password {i}").text for i in range(5)]  # [console] default
    assert all("klopt niet" in text for text in answers[:4])
    assert "tijdelijk geblokkeerd" in answers[4]
    assert "Probeer het na 9.15 uur opnieuw" in answers[4]  # 08:00 UTC + 15 minutes, Dutch time

    site.clock.moment = NOW + timedelta(minutes=14)
    refused = console.sign_in("fenna")  # the right password, during the lock
    assert "tijdelijk geblokkeerd" in refused.text
    assert console.get("/console/").status_code == 303

    site.clock.moment = NOW + timedelta(minutes=15)
    assert console.sign_in("fenna").status_code == 303
    assert console.get("/console/").status_code == 200
    assert [a for _, a in audit_actions(site)].count("locked-out") == 1


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    site: Site, console: ConsoleClient
) -> None:
    add_member(site.service, "fenna")
    console.get("/console/inloggen")
    refused = console.post(
        "/console/inloggen",
        {"gebruikersnaam": "fenna", "wachtwoord": "correct horse battery staple"},
        with_csrf=False,
    )
    assert refused.status_code == 403
    assert "Formulier niet geaccepteerd" in refused.text
    assert audit_actions(site) == [("opdrachtregel", "user-added")]  # no sign-in, not even a failed one
    assert console.get("/console/").status_code == 303


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "https://evil.example.org"}, 403),
        ({"Origin": "null"}, 403),
        ({"Referer": "https://evil.example.org/page"}, 403),
        ({"Origin": "https://comms.ipo.example.org"}, 303),  # the configured base URL
        ({}, 303),  # no header at all: the token decides
    ],
)
def test_a_post_from_another_origin_is_refused(
    site: Site, console: ConsoleClient, headers: dict[str, str], status: int
) -> None:
    assert site.config.web_base_url == "https://comms.ipo.example.org"
    add_member(site.service, "fenna")
    console.get("/console/inloggen")
    response = console.post(
        "/console/inloggen",
        {"gebruikersnaam": "fenna", "wachtwoord": "correct horse battery staple"},
        headers=headers,
    )
    assert response.status_code == status


def test_signing_out_ends_the_session(site: Site, console: ConsoleClient) -> None:
    add_member(site.service, "fenna")
    console.sign_in("fenna")
    page = console.get("/console/")
    old_cookie = console.cookies[COOKIE]
    assert "Uitloggen" in page.text

    signed_out = console.post("/console/uitloggen", {})
    assert signed_out.headers["location"] == "/console/inloggen"
    assert "U bent uitgelogd." in console.get("/console/inloggen").text
    assert console.get("/console/").status_code == 303
    assert console.cookies[COOKIE] != old_cookie
    assert ("fenna", "logout") in audit_actions(site)


@pytest.mark.parametrize(
    "change",
    [
        lambda site: team.disable(site.service, "fenna", NOW),
        lambda site: team.set_role(site.service, "fenna", TeamRole.EDITOR, NOW),
        lambda site: team.set_password(site.service, "fenna", "a brand new password", NOW),
    ],
    ids=["disabled", "role changed", "password changed"],
)
def test_an_account_change_ends_its_open_sessions(site: Site, console: ConsoleClient, change: object) -> None:
    add_member(site.service, "fenna", TeamRole.ADMIN)
    console.sign_in("fenna")
    assert console.get("/console/").status_code == 200
    change(site)  # type: ignore[operator]
    ended = console.get("/console/")
    assert ended.status_code == 303
    assert "Uw sessie is verlopen" in console.get(ended.headers["location"]).text


@pytest.mark.parametrize(
    ("steps", "ended"),
    [
        ([timedelta(minutes=29)], False),
        ([timedelta(minutes=30)], True),  # idle for [console] session_idle_minutes
        ([timedelta(minutes=25)] * 23, False),  # in use all along: 9 h 35 min
        ([timedelta(minutes=25)] * 24, True),  # 10 h after sign-in, however busy
    ],
    ids=["idle 29 min", "idle 30 min", "busy 9.35 h", "busy 10 h"],
)
def test_a_session_ends_when_idle_and_after_its_lifetime(
    site: Site, console: ConsoleClient, steps: list[timedelta], ended: bool
) -> None:
    add_member(site.service, "fenna")
    console.sign_in("fenna")
    statuses = []
    for step in steps:
        site.clock.moment += step
        statuses.append(console.get("/console/").status_code)
    assert statuses[:-1] == [200] * (len(steps) - 1)
    assert statuses[-1] == (303 if ended else 200)
