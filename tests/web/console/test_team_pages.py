"""The console's team pages over HTTP: Blokkades (look up, lift by role), Logboek (filters),
Agenda (by date, filters) and Enquêtes (status and results link)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from comms.collect.meeting_ledger import record_meetings
from comms.collect.meetings.model import AgendaItem, Meeting, MeetingStatus
from comms.store.models import AuditEvent, Suppression, TeamRole
from comms.track.suppressions import ADDED_BY_HAND, HARD_BOUNCE, SPAM_REPORT, UNSUBSCRIBED, suppress
from tests.web.console.support import ConsoleClient, add_member
from tests.web.support import NOW, Site
from tests.web.survey_pages import open_round

ADDRESS = "anna.devries@utrecht.example.org"


def block(site: Site, reason: str, scope: str = "*") -> None:
    with site.service.db.session() as session:
        suppress(session, ADDRESS, scope, reason, NOW)


def blocked(site: Site) -> list[tuple[str, str]]:
    with site.service.db.session() as session:
        return [(s.scope, s.reason) for s in session.scalars(select(Suppression).order_by(Suppression.scope))]


def signed_in(site: Site, console: ConsoleClient, role: TeamRole) -> ConsoleClient:
    add_member(site.service, "fenna", role)
    console.sign_in("fenna")
    return console


def test_the_suppression_page_searches_one_address_and_lists_nobody_by_default(
    site: Site, console: ConsoleClient
) -> None:
    block(site, UNSUBSCRIBED, "newsletter")
    signed_in(site, console, TeamRole.EDITOR)
    assert ADDRESS not in console.get("/console/blokkades").text

    page = console.get(f"/console/blokkades?adres={ADDRESS.upper()}")
    assert "afgemeld door de ontvanger" in page.text
    assert "IPO-nieuwsbrief" in page.text or "nieuwsbrief" in page.text.lower()
    assert "Blijft staan: besluit van de ontvanger." in page.text
    assert "Opheffen" not in page.text


@pytest.mark.parametrize(
    ("role", "reason", "status", "lifted"),
    [
        (TeamRole.EDITOR, HARD_BOUNCE, 403, False),  # an editor: Geen toegang
        (TeamRole.APPROVER, HARD_BOUNCE, 403, False),
        (TeamRole.ADMIN, HARD_BOUNCE, 303, True),
        (TeamRole.ADMIN, ADDED_BY_HAND, 303, True),
        (TeamRole.ADMIN, UNSUBSCRIBED, 409, False),  # the recipient's own choice
        (TeamRole.ADMIN, SPAM_REPORT, 409, False),
    ],
)
def test_only_an_admin_lifts_and_only_a_bounce_or_the_teams_own_block(
    site: Site, console: ConsoleClient, role: TeamRole, reason: str, status: int, lifted: bool
) -> None:
    block(site, reason)
    signed_in(site, console, role)
    console.get(f"/console/blokkades?adres={ADDRESS}")

    response = console.post("/console/blokkades/opheffen", {"adres": ADDRESS, "bereik": "*"})

    assert response.status_code == status
    assert blocked(site) == ([] if lifted else [("*", reason)])
    if status == 403:
        assert "Geen toegang" in response.text
        assert "beheerder" in response.text
    with site.service.db.session() as session:
        lifts = session.scalars(select(AuditEvent).where(AuditEvent.action == "lift-suppression")).all()
        assert [(e.actor, ADDRESS in e.detail) for e in lifts] == ([("fenna", False)] if lifted else [])
    if lifted:
        assert "Blokkade opgeheven (alle mailings" in console.get(response.headers["location"]).text


def test_a_lift_without_the_csrf_token_is_refused_and_changes_nothing(
    site: Site, console: ConsoleClient
) -> None:
    block(site, HARD_BOUNCE)
    signed_in(site, console, TeamRole.ADMIN)
    refused = console.post("/console/blokkades/opheffen", {"adres": ADDRESS, "bereik": "*"}, with_csrf=False)
    assert refused.status_code == 403
    assert blocked(site) == [("*", HARD_BOUNCE)]


def test_the_logbook_shows_the_newest_first_in_dutch_time_and_filters_by_person(
    site: Site, console: ConsoleClient
) -> None:
    add_member(site.service, "joris")
    console.sign_in("joris")
    console.post("/console/uitloggen", {})
    signed_in(site, console, TeamRole.EDITOR)

    page = console.get("/console/logboek").text
    rows = page.split("<tbody>")[1]
    assert rows.index("Fenna de Wit") < rows.index("Joris Bakker")  # newest first, by name
    assert "1 december 2026, 9.00 uur" in rows  # 08:00 UTC
    assert "uitgelogd" in rows
    only_joris = console.get("/console/logboek?persoon=joris").text.split("<tbody>")[1]
    assert "Fenna" not in only_joris
    assert "2 gebeurtenissen" in console.get("/console/logboek?persoon=joris").text


def _meeting(uid: str, starts_at: datetime) -> Meeting:
    items = (AgendaItem("1", "Opening", "", ()),)
    return Meeting(
        uid,
        "av",
        "Algemene Vergadering",
        starts_at,
        None,
        "Den Haag",
        MeetingStatus.PLANNED,
        items,
        None,
        "agenda-av",
    )


def test_the_agenda_is_sorted_by_date_and_filters_by_province(site: Site, console: ConsoleClient) -> None:
    february = _meeting("av-feb@ipo", datetime(2027, 2, 10, 13, 0, tzinfo=UTC))  # woensdag 10 februari
    january = _meeting("av-jan@ipo", datetime(2027, 1, 21, 13, 0, tzinfo=UTC))  # donderdag 21 januari
    with site.service.db.session() as session:
        record_meetings(session, [february, january], NOW)
    signed_in(site, console, TeamRole.EDITOR)

    page = console.get("/console/agenda").text
    assert page.index("21 januari 2027") < page.index("10 februari 2027")  # by date, not by label text
    assert "gepland, nog niet opgebouwd" in page

    utrecht = console.get("/console/agenda?provincie=Utrecht").text
    rows = utrecht.split("<tbody>")[1]
    assert rows.count("<tr>") == 2
    assert "Groningen" not in rows


def test_the_survey_page_shows_each_round_with_its_response_and_results_link(
    site: Site, console: ConsoleClient
) -> None:
    survey = open_round(site)
    signed_in(site, console, TeamRole.EDITOR)
    page = console.get("/console/enquetes").text
    assert survey.definition.title in page
    assert ">open<" in page
    assert "0,0%" in page
    link = page.split('href="/resultaten/')[1].split('"')[0]
    assert console.client.get(f"/resultaten/{link}").status_code == 200


def test_a_post_without_a_session_is_sent_to_sign_in_and_changes_nothing(
    site: Site, console: ConsoleClient
) -> None:
    block(site, HARD_BOUNCE)
    console.get("/console/inloggen")  # an anonymous session and its valid CSRF token
    response = console.post("/console/blokkades/opheffen", {"adres": ADDRESS, "bereik": "*"})
    assert response.status_code == 303
    assert response.headers["location"] == "/console/inloggen"
    assert blocked(site) == [("*", HARD_BOUNCE)]
