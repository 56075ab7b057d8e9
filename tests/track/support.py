"""The next edition, built and sent for real, and what the ledger says about one address."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from comms.clock import FixedClock
from comms.collect.items import CollectedItem
from comms.collect.ledger import record_items
from comms.config import ItemKind
from comms.deliver.transports import make_transport
from comms.editions import delivery, lifecycle
from comms.editions.delivery import SendOutcome
from comms.kinds import BuildRequest
from comms.operations import editions
from comms.service import Service
from comms.store.models import Contact, Edition, Message


def send_next_edition(service: Service, moment: datetime) -> SendOutcome:
    """A new month's newsletter with one new item, approved and sent through the configured
    transport at `moment`."""
    period = f"{moment:%Y-%m}"
    with service.db.session() as session:
        item = CollectedItem(
            source="ipo-nieuws",
            kind=ItemKind.NEWS,
            title=f"Nieuw in {period}",
            link=f"https://www.ipo.example.org/nieuws/{period}",
            summary_html=f"<p>{period}</p>",
            guid=period,
            published_at=moment - timedelta(days=3),
        )
        record_items(session, [item], moment)
    build = editions.build(service, "newsletter", BuildRequest(moment, period=period))
    lifecycle.approve(service, build.key, "test", moment)
    clock = FixedClock(moment)
    return delivery.send(
        service, build.key, make_transport(service.config, build.key, clock, ledger=True), clock
    )


def ledger_status(service: Service, edition_key: str, email: str) -> str:
    with service.db.session() as session:
        return session.execute(
            select(Message.status)
            .join(Contact, Message.contact_id == Contact.id)
            .join(Edition, Message.edition_id == Edition.id)
            .where(Contact.email == email, Edition.key == edition_key)
        ).scalar_one()
