"""Whom an edition reaches and who is left out, its progress while sending, and its results per
province: on the sample project with eight synthetic Statenleden in four provinces."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from comms.deliver.transport import Transport
from comms.deliver.transports import make_transport
from comms.editions import lifecycle
from comms.operations import editions, reach, results
from comms.store.models import Contact, DeliveryEvent, Message
from comms.track.suppressions import HARD_BOUNCE, UNSUBSCRIBED, suppress
from tests.deliver.conftest import KEY, NOW, Edition, EditionFactory

# synthetic_audience: lid0 Utrecht (also AV member), lid1 Zeeland, lid2 Fryslân, lid3 Gelderland, …
BOUNCED = "lid1@zeeland.example.org"
UNSUBSCRIBED_ADDRESS = "lid2@fryslan.example.org"
GONE = "lid3@gelderland.example.org"


@pytest.fixture
def edition(approved_edition: EditionFactory) -> Edition:
    made = approved_edition(8)
    with made.service.db.session() as session:
        suppress(session, BOUNCED, "*", HARD_BOUNCE, NOW)
        suppress(session, UNSUBSCRIBED_ADDRESS, "newsletter", UNSUBSCRIBED, NOW)
        session.execute(update(Contact).where(Contact.email == GONE).values(active=False))
    return made


@pytest.mark.parametrize("started", [False, True], ids=["before-sending", "from-the-ledger"])
def test_recipients_per_province_and_role_and_who_is_left_out(edition: Edition, started: bool) -> None:
    if started:
        lifecycle.start_sending(edition.service, KEY, edition.clock)

    seen = reach.reach(edition.service, KEY)

    assert seen.from_ledger is started
    assert seen.recipients_text == "5 ontvangers"
    assert seen.by_province == [("Fryslân", 1), ("Gelderland", 1), ("Utrecht", 2), ("Zeeland", 1)]
    assert seen.by_role == [("Statenlid", 5), ("Lid Algemene Vergadering", 1)]
    texts = {e.text for e in seen.excluded}
    expected = {
        "adres bestaat niet (harde bounce): 1 persoon",
        "afgemeld: 1 persoon",
    }
    if not started:  # the ledger only holds the active: an inactive contact is not in it
        expected.add("niet meer in de contactexport (inactief): 1 persoon")
    assert texts == expected
    names = {e.reason: e.names for e in seen.excluded}
    assert names["afgemeld"] == ("Lid Nummer 2 (Fryslân)",)


def test_progress_while_sending_and_once_sent(edition: Edition) -> None:
    lifecycle.start_sending(edition.service, KEY, edition.clock)

    before = results.progress(edition.service, KEY, NOW)
    assert (before.to_send, before.settled, before.percent, before.suppressed) == (5, 0, 0, 2)
    assert before.summary == "0 van de 5 berichten afgehandeld"
    assert (before.rate_text, before.end_text) == ("nog niets verstuurd", "nog niet te schatten")

    editions.deliver(edition.service, KEY, _outbox(edition), edition.clock)
    after = results.progress(edition.service, KEY, NOW + timedelta(minutes=2))
    assert (after.settled, after.percent, after.is_finished, after.end_text) == (5, 100, True, "klaar")


def test_estimated_end_from_the_rate_so_far(edition: Edition) -> None:
    lifecycle.start_sending(edition.service, KEY, edition.clock)
    with edition.service.db.session() as session:  # two sent in the first two minutes, three open
        first_two = select(Message.id).where(Message.status == "pending").order_by(Message.id).limit(2)
        session.execute(
            update(Message)
            .where(Message.id.in_(first_two.scalar_subquery()))
            .values(status="sent", sent_at=NOW + timedelta(minutes=2))
        )

    seen = results.progress(edition.service, KEY, NOW + timedelta(minutes=2))

    assert seen.rate_text == "1 per minuut"
    assert seen.estimated_end == NOW + timedelta(minutes=5)
    assert seen.end_text == "naar verwachting klaar op dinsdag 1 december 2026, 8.05 uur"


def test_results_per_province(edition: Edition) -> None:
    lifecycle.start_sending(edition.service, KEY, edition.clock)
    editions.deliver(edition.service, KEY, _outbox(edition), edition.clock)
    later = NOW + timedelta(days=1)
    with edition.service.db.session() as session:
        ids = {email: mid for email, mid in session.execute(select(Contact.email, Message.id).join(Message))}
        for n, (email, event) in enumerate(
            [("lid0@utrecht.example.org", "bounce"), ("lid4@utrecht.example.org", "complaint")]
        ):
            session.add(
                DeliveryEvent(
                    event_key=f"test:{n}",
                    event=event,
                    email=email,
                    message_id=ids[email],
                    occurred_at=later,
                    received_at=later,
                )
            )
        suppress(session, "lid6@fryslan.example.org", "newsletter", UNSUBSCRIBED, later)

    seen = results.results(edition.service, KEY)

    table = {
        t.name: (t.recipients, t.delivered, t.failed, t.bounced, t.complained, t.unsubscribed)
        for t in seen.provinces
    }
    assert table == {
        "Fryslân": (1, 1, 0, 0, 0, 1),
        "Gelderland": (1, 1, 0, 0, 0, 0),
        "Utrecht": (2, 1, 0, 1, 1, 0),
        "Zeeland": (1, 1, 0, 0, 0, 0),
    }
    assert (seen.total.recipients, seen.total.delivered, seen.suppressed) == (5, 4, 2)
    assert seen.total.delivered_share == "80%"
    assert not seen.tracks_opens  # the outbox reports no opens: shown as unknown


def _outbox(edition: Edition) -> Transport:
    return make_transport(edition.service.config, KEY, edition.clock, ledger=True)
