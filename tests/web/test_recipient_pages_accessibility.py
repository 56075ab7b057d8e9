"""Every recipient page in a real browser, checked with axe-core, and screenshots of the main ones.

test_pages_accessibility covers unsubscribing (confirm, link sent, done, undo) and asking for a
link; the survey has its own. This covers the rest a recipient can meet: the preference centre
(as a Statenlid, a griffier, someone who bounced, someone no mailing reaches; and saved), the web
version of a real newsletter, the archive (full and empty), an unsubscribe already done, the
undo pages' other answers, and the error pages (unknown page, unknown edition, expired link).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import update

from comms.collect.items import CollectedItem
from comms.collect.ledger import record_items
from comms.config import ItemKind
from comms.kinds import BuildRequest
from comms.kinds.newsletter import KIND as NEWSLETTER
from comms.store.models import Contact, Edition, EditionStatus
from comms.tokens import Purpose
from comms.track.suppressions import HARD_BOUNCE, UNSUBSCRIBED, suppress
from tests.web.screenshots import shoot
from tests.web.support import ANNA, NOW, Site, seed_contacts
from tests.web.test_survey_accessibility import (  # noqa: F401 (the fixtures)
    assert_accessible,
    axe_violations,
    browser,
    page,
    press,
    report,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

GRIFFIER = ("griet.hoekstra@fryslan.example.org", "d4d4d4d4d4d4d4d4")
STAFF = ("piet.ipo@ipo.example.org", "e5e5e5e5e5e5e5e5")
CATEGORIES = [(), ("Stikstof",), ("Fryslân",), ("Utrecht",), ("Algemene Vergadering",), ("Energie",)]


def goto(page: Page, site: Site, path: str) -> None:  # noqa: F811
    page.goto(str(site.client.base_url).rstrip("/") + path)


def preferences(site: Site, contact: tuple[str, str] = ANNA) -> str:
    return f"/voorkeuren/{site.token(Purpose.PREFERENCES, contact)}"


def seed_roles(site: Site, contact: tuple[str, str], roles: str, themes: str = ",") -> None:
    seed_contacts(site.service, (contact,))
    with site.service.db.session() as session:
        session.execute(update(Contact).where(Contact.email == contact[0]).values(roles=roles, themes=themes))


def sent_newsletter(site: Site) -> str:
    """December's newsletter built from the sample content and a few items, marked sent."""
    items = [
        CollectedItem(
            source="ipo-nieuws",
            kind=ItemKind.NEWS,
            title=f"Bericht {n} over {' en '.join(CATEGORIES[n % len(CATEGORIES)]) or 'het IPO'}",
            link=f"https://www.ipo.example.org/nieuws/{n}",
            summary_html="<p>Een korte samenvatting van het bericht, met <strong>nadruk</strong>.</p>",
            guid=f"nieuws-{n}",
            published_at=NOW - timedelta(days=3, minutes=n),
            categories=CATEGORIES[n % len(CATEGORIES)],
        )
        for n in range(12)
    ]
    with site.service.db.session() as session:
        record_items(session, items, NOW - timedelta(days=2))
    outcome = NEWSLETTER.build(site.service, BuildRequest(NOW - timedelta(days=1), period="2026-12"))
    with site.service.db.session() as session:
        session.execute(
            update(Edition)
            .where(Edition.key == outcome.key)
            .values(status=EditionStatus.SENT, sent_at=datetime(2026, 12, 1, 8, 30, tzinfo=UTC))
        )
    return outcome.key


def test_the_preference_centre_and_saved(page: Page, site: Site) -> None:  # noqa: F811
    with site.service.db.session() as session:
        session.execute(update(Contact).where(Contact.email == ANNA[0]).values(themes=",landelijk-gebied,"))
    goto(page, site, preferences(site))
    assert_accessible(page, "the preference centre of a Statenlid")
    shoot(page, "preference centre")

    page.uncheck("#kind-survey")
    press(page, "Voorkeuren opslaan")
    assert_accessible(page, "the preference centre, saved")
    assert page.get_by_role("status").inner_text() == "Uw voorkeuren zijn opgeslagen."


@pytest.mark.parametrize(
    ("contact", "roles"),
    [(GRIFFIER, ",griffier,"), (STAFF, ",ipo-staff,"), (ANNA, None)],
    ids=["a griffier", "someone no mailing reaches", "an address that bounced"],
)
def test_the_preference_centre_for_others(
    page: Page,  # noqa: F811
    site: Site,
    contact: tuple[str, str],
    roles: str | None,
) -> None:
    if roles is None:
        with site.service.db.session() as session:
            suppress(session, ANNA[0], "*", HARD_BOUNCE, NOW)
    else:
        seed_roles(site, contact, roles)
    goto(page, site, preferences(site, contact))
    assert_accessible(page, f"the preference centre of {contact[0]}")


def test_the_web_version_of_a_sent_newsletter(page: Page, site: Site) -> None:  # noqa: F811
    key = sent_newsletter(site)
    goto(page, site, f"/nieuwsbrief/{key}")

    violations = axe_violations(page)
    assert violations == [], (
        f"axe found {len(violations)} violation(s) on the web version:\n{report(violations)}"
    )
    assert page.locator("html").get_attribute("lang") == "nl"
    shoot(page, "web version")


def test_the_archive(page: Page, site: Site) -> None:  # noqa: F811
    key = sent_newsletter(site)
    goto(page, site, "/nieuwsbrief/")
    assert_accessible(page, "the archive")
    shoot(page, "archive")

    with page.expect_navigation():
        page.locator(f'a[href="/nieuwsbrief/{key}"]').click()
    assert page.url.endswith(f"/nieuwsbrief/{key}")


def test_the_empty_archive(page: Page, site: Site) -> None:  # noqa: F811
    goto(page, site, "/nieuwsbrief/")
    assert_accessible(page, "the empty archive")


def test_the_unsubscribe_and_undo_answers_not_covered_elsewhere(page: Page, site: Site) -> None:  # noqa: F811
    with site.service.db.session() as session:
        suppress(session, ANNA[0], "newsletter", UNSUBSCRIBED, NOW)
    goto(page, site, f"/afmelden/{site.token(Purpose.UNSUBSCRIBE)}")
    assert_accessible(page, "the unsubscribe page when already unsubscribed")

    goto(page, site, f"/afmelding-ongedaan/{site.token(Purpose.RESTORE, scope='agenda-digest')}")
    assert_accessible(page, "the undo page when nothing needs undoing")


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        (lambda site: "/bestaat-niet", "Deze pagina bestaat niet"),
        (lambda site: "/nieuwsbrief/nieuwsbrief-1999-01", "Deze nieuwsbrief is niet gevonden"),
        (
            lambda site: (
                f"/voorkeuren/{site.token(Purpose.PREFERENCES, expires_at=NOW - timedelta(seconds=1))}"
            ),
            "Deze link is verlopen",
        ),
        (lambda site: "/afmelden/niet-ondertekend", "Deze link werkt niet"),
    ],
    ids=["404", "unknown-edition", "expired-link", "broken-link"],
)
def test_the_error_pages(page: Page, site: Site, path: Callable[[Site], str], heading: str) -> None:  # noqa: F811
    goto(page, site, path(site))

    assert_accessible(page, f"the error page '{heading}'")
    assert page.locator("h1").inner_text() == heading
