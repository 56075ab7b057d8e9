"""The console shows an edition's state and the reason for it in Dutch, whatever the reason is
stored as for the operator (English, in `comms status`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from comms.operations import editions
from comms.service import Service
from comms.store.models import TeamRole
from tests.web.console.editions import KEY, MONDAY, add_statenleden, build_newsletter
from tests.web.console.support import ConsoleClient, add_member
from tests.web.support import Site

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def held(service: Service) -> None:
    editions.hold(service, KEY, "fenna", "wacht op de AV-datum", MONDAY)


def discarded(service: Service) -> None:
    editions.discard(service, KEY, "joris", MONDAY)


@pytest.mark.parametrize(
    ("change", "shown", "english"),
    [
        (held, "aangehouden</span> – aangehouden door fenna: wacht op de AV-datum", "held by fenna"),
        (discarded, "vervallen</span> – vervallen verklaard door joris", "discarded by joris"),
    ],
)
def test_the_edition_page_says_why_in_dutch(
    site: Site, console: ConsoleClient, change: Callable[[Service], None], shown: str, english: str
) -> None:
    add_member(site.service, "fenna", TeamRole.EDITOR)
    add_member(site.service, "joris", TeamRole.APPROVER)
    add_statenleden(site.service)
    site.clock.moment = MONDAY
    build_newsletter(site.service, "fenna")
    change(site.service)

    assert console.sign_in("fenna").status_code == 303
    page = console.get(f"/console/edities/{KEY}")

    assert page.status_code == 200
    assert shown in page.text
    assert english not in page.text
    [report] = editions.status(site.service, KEY)
    assert report.reason is not None and report.reason.en.startswith(english)  # the operator's
