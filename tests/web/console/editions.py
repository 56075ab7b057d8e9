"""A console with something to show: the sample feeds collected, contacts in three provinces,
December's newsletter built by an editor and planned for its send (Thursday 3 December, 9.00)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from comms.collect.run import collect_all
from comms.kinds import BuildRequest
from comms.operations import editions
from comms.service import Service
from comms.store.models import Contact
from comms.track.suppressions import HARD_BOUNCE, suppress
from tests.web.support import NOW

KEY = "nieuwsbrief-2026-12"
SEND_AT = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)  # Thursday 3 December 2026, 9.00 Dutch time
# Monday 30 November, 10.00: the build is done, approval is due on Tuesday 1 December, 9.00.
MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
# (address, province): Statenleden beside the site's two in Utrecht; the last one bounced before.
STATENLEDEN = (
    ("sanne.bos@zeeland.example.org", "Zeeland"),
    ("pieter.visser@zeeland.example.org", "Zeeland"),
    ("ilse.mulder@gelderland.example.org", "Gelderland"),
    ("gone.away@gelderland.example.org", "Gelderland"),
)
BOUNCED = "gone.away@gelderland.example.org"


def add_statenleden(service: Service) -> None:
    with service.db.session() as session:
        for n, (email, province) in enumerate(STATENLEDEN):
            first = email.split(".")[0].title()
            session.add(
                Contact(
                    public_id=f"c{n:015d}",
                    email=email,
                    first_name=first,
                    infix="",
                    last_name="Test",
                    province=province,
                    party=None,
                    roles=",statenlid,",
                    themes=",",
                    active=True,
                    source_file="seed",
                    updated_at=NOW,
                )
            )
        suppress(session, BOUNCED, "*", HARD_BOUNCE, NOW - timedelta(days=30))


def build_newsletter(service: Service, by: str, now: datetime = MONDAY) -> str:
    """December's newsletter built by `by` and planned for SEND_AT, as the schedule plans it."""
    collect_all(service.config, service.db, now)
    outcome = editions.build(service, "newsletter", BuildRequest(now, period="2026-12", by=by))
    editions.schedule_send(service, outcome.key, SEND_AT, "newsletter")
    return outcome.key
