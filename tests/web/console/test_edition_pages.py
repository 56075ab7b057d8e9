"""The calendar, the edition page and its forms over HTTP: roles, CSRF, four eyes, refusals in Dutch,
and a POST-redirect-GET with a confirmation for every step."""

from __future__ import annotations

import pytest

from comms.config import ApprovalConfig
from comms.operations import audit, editions
from comms.store.models import TeamRole
from tests.web.console.conftest import ConsoleFactory
from tests.web.console.editions import KEY, MONDAY, build_newsletter
from tests.web.console.support import ConsoleClient, add_member
from tests.web.support import Site, SiteFactory

# One database is enough here: the pages, not the storage, are under test.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def signed_in(console: ConsoleClient, username: str) -> ConsoleClient:
    assert console.sign_in(username).status_code == 303
    return console


def test_the_calendar_lists_the_draft_with_what_it_needs(newsletter: Site, console: ConsoleClient) -> None:
    page = signed_in(console, "fenna").get("/console/")
    assert page.status_code == 200
    text = page.text
    assert f'href="/console/edities/{KEY}"' in text
    assert "donderdag 3 december 2026, 9.00 uur (Nederlandse tijd)" in text
    assert "goedkeuring nodig van een goedkeurder vóór dinsdag 1 december 2026, 9.00 uur" in text
    assert "segment statenleden (5 ontvangers)" in text  # six Statenleden, one bounced

    only_digests = console.get("/console/?soort=agenda-digest")
    assert KEY not in only_digests.text
    assert "Wekelijks agendaoverzicht voor griffies" in only_digests.text


def test_the_edition_page_shows_previews_recipients_and_who_is_left_out(
    newsletter: Site, console: ConsoleClient
) -> None:
    page = signed_in(console, "fenna").get(f"/console/edities/{KEY}?variant=1")
    assert page.status_code == 200
    assert "frame-src 'self'" in page.headers["content-security-policy"]
    for expected in (
        f'src="/console/edities/{KEY}/voorbeeld/1"',
        'width="600"',
        'width="375"',
        "Tekstversie",
        '<td>Zeeland</td><td class="number">2</td>',
        "adres bestaat niet (harde bounce): 1 persoon",
        "Gone Test (Gelderland)",  # names only here, for the team
        "Testversie versturen",
        "Aanhouden",
    ):
        assert expected in page.text, expected
    assert "Goedkeuren kan alleen een goedkeurder." in page.text  # an editor sees no approve button

    frame = console.get(f"/console/edities/{KEY}/voorbeeld/1")
    assert frame.status_code == 200
    assert frame.headers["x-frame-options"] == "SAMEORIGIN"
    assert "sandbox" in frame.headers["content-security-policy"]
    assert "[voornaam]" in frame.text or "<html" in frame.text


@pytest.mark.parametrize(
    ("username", "four_eyes", "status", "expected"),
    [
        ("fenna", False, 403, "Hiervoor is de rol goedkeurder nodig"),  # an editor may not approve
        ("joris", False, 303, "Goedgekeurd. De editie gaat uit op de geplande tijd."),
    ],
)
def test_who_may_approve(
    newsletter: Site, console: ConsoleClient, username: str, four_eyes: bool, status: int, expected: str
) -> None:
    signed_in(console, username).get(f"/console/edities/{KEY}")
    response = console.post(f"/console/edities/{KEY}/goedkeuren", {})
    assert response.status_code == status
    shown = console.get(response.headers["location"]).text if status == 303 else response.text
    assert expected in shown
    [report] = editions.status(newsletter.service, KEY)
    assert report.status == ("approved" if status == 303 else "draft")


def test_four_eyes_refuses_approving_ones_own_build(
    make_site: SiteFactory, console_for: ConsoleFactory
) -> None:
    site = make_site(approval=ApprovalConfig(four_eyes=True))
    site.clock.moment = MONDAY
    add_member(site.service, "joris", TeamRole.APPROVER)
    build_newsletter(site.service, "joris")
    console = signed_in(console_for(site), "joris")
    console.get(f"/console/edities/{KEY}")

    response = console.post(f"/console/edities/{KEY}/goedkeuren", {})

    assert response.status_code == 409
    assert "Iemand anders moet deze versie goedkeuren (vier-ogenprincipe)." in response.text
    [report] = editions.status(site.service, KEY)
    assert report.status == "draft"


def test_a_post_without_csrf_changes_nothing(newsletter: Site, console: ConsoleClient) -> None:
    signed_in(console, "joris").get(f"/console/edities/{KEY}")
    response = console.post(f"/console/edities/{KEY}/vervallen", {}, with_csrf=False)
    assert response.status_code == 403
    [report] = editions.status(newsletter.service, KEY)
    assert report.status == "draft"


def test_hold_needs_a_reason_and_is_in_the_editions_log(newsletter: Site, console: ConsoleClient) -> None:
    signed_in(console, "fenna").get(f"/console/edities/{KEY}")
    assert console.post(f"/console/edities/{KEY}/aanhouden", {"reden": "  "}).status_code == 400

    response = console.post(f"/console/edities/{KEY}/aanhouden", {"reden": "Wacht op de AV-datum"})

    assert response.status_code == 303
    page = console.get(response.headers["location"])
    assert "Aangehouden. De editie gaat niet uit" in page.text
    assert "aangehouden" in page.text
    assert [e.actor for e in audit.recent(newsletter.service, KEY) if e.label == "aangehouden"] == ["fenna"]


def test_early_send_asks_first_then_starts(newsletter: Site, console: ConsoleClient) -> None:
    signed_in(console, "joris").get(f"/console/edities/{KEY}")
    console.post(f"/console/edities/{KEY}/goedkeuren", {})

    confirm = console.get(f"/console/edities/{KEY}/nu-versturen")
    assert confirm.status_code == 200
    assert "Weet u het zeker?" in confirm.text
    assert "5 ontvangers" in confirm.text
    assert "donderdag 3 december 2026, 9.00 uur" in confirm.text
    [report] = editions.status(newsletter.service, KEY)
    assert report.status == "approved"  # asking sent nothing

    response = console.post(f"/console/edities/{KEY}/nu-versturen", {"bevestigd": "ja"})

    assert response.status_code == 303
    assert response.headers["location"] == f"/console/edities/{KEY}/voortgang"
    progress = console.get(response.headers["location"])
    assert "0 van de 5 berichten afgehandeld" in progress.text
    assert "script-src 'self'" in progress.headers["content-security-policy"]
    assert console.get(f"/console/edities/{KEY}/voortgang.json").json()["percent"] == 0


def test_editing_the_introduction_makes_a_new_revision_to_approve(
    newsletter: Site, console: ConsoleClient
) -> None:
    signed_in(console, "joris").get(f"/console/edities/{KEY}")
    console.post(f"/console/edities/{KEY}/goedkeuren", {})
    console.get(f"/console/edities/{KEY}")

    response = console.post(
        f"/console/edities/{KEY}/inleiding", {"inleiding": "Beste Statenleden,\n\nEen *nieuwe* inleiding."}
    )

    assert response.status_code == 303
    page = console.get(response.headers["location"]).text
    assert "moet opnieuw worden goedgekeurd" in page
    [report] = editions.status(newsletter.service, KEY)
    assert report.status == "draft"
    assert [r.number for r in editions.revisions(newsletter.service, KEY)] == [2, 1]


def test_an_unknown_edition_is_a_dutch_404(newsletter: Site, console: ConsoleClient) -> None:
    response = signed_in(console, "fenna").get("/console/edities/bestaat-niet")
    assert response.status_code == 404
    assert "Editie niet gevonden" in response.text


@pytest.mark.parametrize(
    ("addresses", "status", "expected"),
    [
        ("a.test@example.org\nb.test@example.org", 303, "Testversie verstuurd naar 2 adressen."),
        ("a.test@example.org", 303, "Testversie verstuurd naar 1 adres."),
        ("  ", 400, "Vul minstens één adres in."),
    ],
)
def test_a_test_copy_to_named_addresses(
    newsletter: Site, console: ConsoleClient, addresses: str, status: int, expected: str
) -> None:
    signed_in(console, "fenna").get(f"/console/edities/{KEY}")
    response = console.post(f"/console/edities/{KEY}/testversie", {"adressen": addresses})
    assert response.status_code == status
    shown = console.get(response.headers["location"]).text if status == 303 else response.text
    assert expected in shown
    sent = [e for e in audit.recent(newsletter.service, KEY) if e.label == "testversie verstuurd"]
    assert len(sent) == (1 if status == 303 else 0)


@pytest.mark.parametrize(
    ("path", "signed_in_as", "status", "expected"),
    [
        (
            "/console/bestaat-niet",
            "fenna",
            404,
            ("Pagina niet gevonden", "Uitloggen", "Kies een pagina in het menu."),
        ),
        ("/console/bestaat-niet", None, 404, ("Pagina niet gevonden", "Log in en kies", "Naar inloggen")),
        ("/console/uitloggen", "fenna", 405, ("Dit kan hier niet", "Naar de kalender")),  # a form's address
        ("/console/?weken=veel", "fenna", 400, ("Dit adres klopt niet", "Naar de kalender")),
        (f"/console/edities/{KEY}/voorbeeld/een", "fenna", 400, ("Dit adres klopt niet",)),
    ],
)
def test_a_console_path_without_a_page_gets_the_consoles_own_page(
    newsletter: Site,
    console: ConsoleClient,
    path: str,
    signed_in_as: str | None,
    status: int,
    expected: tuple[str, ...],
) -> None:
    if signed_in_as:
        signed_in(console, signed_in_as)
    response = console.get(path)
    assert response.status_code == status
    assert all(text in response.text for text in expected), response.text
    assert "Console IPO-communicatie" in response.text
    public = newsletter.client.get("/bestaat-niet")  # outside /console: the recipients' page, as before
    assert (public.status_code, "Console" in public.text) == (404, False)
