"""The one-click link in a delivered message's own header, posted over HTTP, keeps that
contact out of the next edition."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from comms.clock import FixedClock
from comms.collect.items import CollectedItem
from comms.collect.ledger import record_items
from comms.config import ItemKind
from comms.deliver.outbox import OutboxTransport
from comms.editions import delivery, lifecycle
from comms.kinds import BuildRequest
from comms.operations import editions
from comms.store.models import Contact, Edition, Message, Suppression
from comms.web.app import create_app
from tests.deliver.conftest import NOW, EditionFactory
from tests.web.support import serve

JANUARY = NOW + timedelta(days=31)


def test_one_click_from_the_header_unsubscribes_for_the_next_edition(
    approved_edition: EditionFactory,
) -> None:
    edition = approved_edition(20)
    service = edition.service
    delivery.send(service, edition.key, OutboxTransport(service.outbox_dir, edition.key), edition.clock)
    first = sorted((service.outbox_dir / edition.key / "messages").glob("*.eml"))[0]
    message = message_from_bytes(first.read_bytes(), policy=policy.default)
    leaver = message["To"].addresses[0].addr_spec
    https = next(part.strip(" <>") for part in message["List-Unsubscribe"].split(",") if "https://" in part)

    with (
        serve(create_app(service, FixedClock(NOW + timedelta(days=2)))) as base,
        httpx.Client(base_url=base) as client,
    ):
        path = urlsplit(https).path
        forged = client.post(path[:-3] + "AAA", data={"List-Unsubscribe": "One-Click"})
        assert forged.status_code == 400
        with service.db.session() as session:
            assert session.scalars(select(Suppression)).all() == []
        response = client.post(path, data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
        assert "set-cookie" not in response.headers and response.is_success and not response.is_redirect

    with service.db.session() as session:
        item = CollectedItem(
            source="ipo-nieuws",
            kind=ItemKind.NEWS,
            title="Nieuw in januari",
            link="https://www.ipo.example.org/nieuws/januari",
            summary_html="<p>Januari</p>",
            guid="januari",
            published_at=JANUARY - timedelta(days=3),
        )
        record_items(session, [item], JANUARY)
    build = editions.build(service, "newsletter", BuildRequest(JANUARY, period="2027-01"))
    lifecycle.approve(service, build.key, "test", JANUARY)
    january = build.key
    outcome = delivery.send(
        service, january, OutboxTransport(service.outbox_dir, january), FixedClock(JANUARY)
    )

    assert outcome.counts["sent"] == 19 and outcome.counts["suppressed"] == 1
    with service.db.session() as session:
        status = session.execute(
            select(Message.status)
            .join(Contact)
            .join(Edition)
            .where(Contact.email == leaver, Edition.key == january)
        ).scalar_one()
    assert status == "suppressed"
    sent_to = {
        message_from_bytes(p.read_bytes(), policy=policy.default)["To"].addresses[0].addr_spec
        for p in (service.outbox_dir / january / "messages").glob("*.eml")
    }
    assert leaver not in sent_to and len(sent_to) == 19
