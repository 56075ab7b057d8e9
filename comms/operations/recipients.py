"""What a recipient does from a link in a mail: unsubscribe, choose preferences, ask for a
preference link, read the web version; and what SendGrid reports about them (events)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text

from comms import kinds
from comms.clock import Clock
from comms.editions.views import web_version
from comms.kinds import UnknownKind
from comms.notify import TeamNotice, send_notice
from comms.service import Service
from comms.store.models import Contact
from comms.tokens import Purpose
from comms.track.preferences import PreferenceView, get_preferences
from comms.track.preferences import save_preferences as store_preferences
from comms.track.suppressions import UNSUBSCRIBED, is_suppressed, suppress
from comms.track.webhook import apply_events

__all__ = [
    "REQUESTED_LINK_LIFETIME",
    "apply_sendgrid_events",
    "contact_email",
    "is_unsubscribed",
    "kind_label",
    "kind_labels",
    "mail_preferences_link",
    "ping",
    "preferences",
    "save_preferences",
    "unsubscribe",
    "web_version",
]

REQUESTED_LINK_LIFETIME = timedelta(days=7)


def kind_labels() -> dict[str, str]:
    """Every mailing kind a recipient can choose, key → the name they know it by."""
    return kinds.labels()


def kind_label(key: str) -> str:
    try:
        return kinds.find(key).label
    except UnknownKind:  # a link for a kind that no longer exists
        return "deze mailing"


def contact_email(service: Service, public_id: str) -> str | None:
    with service.db.session() as session:
        return session.scalars(select(Contact.email).where(Contact.public_id == public_id)).first()


def is_unsubscribed(service: Service, email: str, kind: str) -> bool:
    with service.db.session() as session:
        return is_suppressed(session, email, kind)


def unsubscribe(service: Service, email: str, kind: str, now: datetime) -> None:
    with service.db.session() as session:
        suppress(session, email, kind, UNSUBSCRIBED, now)


def preferences(service: Service, email: str) -> PreferenceView:
    with service.db.session() as session:
        return get_preferences(session, email, kinds.all_keys())


def save_preferences(
    service: Service, email: str, wanted: Collection[str], themes: Collection[str], now: datetime
) -> PreferenceView:
    with service.db.session() as session:
        return store_preferences(session, email, wanted, themes, now, kinds.all_keys())


def mail_preferences_link(service: Service, email: str, clock: Clock) -> None:
    """Mail a personal preference link to the address, if it belongs to a contact."""
    address = email.strip().lower()
    if len(address) > 320 or any(c in address for c in "\r\n"):
        return
    public_id = _public_id(service, address)
    if public_id is None:
        return
    signer = service.signer()
    expires = clock.now() + REQUESTED_LINK_LIFETIME
    token = signer.sign(Purpose.PREFERENCES, public_id, _requested_link_scope(), expires)
    notice = TeamNotice(
        "Uw voorkeuren bij het IPO",
        [
            "U vroeg om een link om uw voorkeuren te wijzigen of u af te melden voor e-mail van het IPO.",
            "De link werkt zeven dagen. Heeft u dit niet gevraagd, dan kunt u deze e-mail negeren.",
        ],
        ("Uw voorkeuren", f"{service.config.web_base_url}/voorkeuren/{token}"),
    )
    send_notice(service.config, signer, notice, (address,), clock)


def _requested_link_scope() -> str:
    """The kind a requested preference link is for: it is asked for from forward-safe mail,
    which carries no personal link of its own."""
    return next((k.key for k in kinds.every() if k.forward_safe), kinds.all_keys()[0])


def _public_id(service: Service, address: str) -> str | None:
    with service.db.session() as session:
        contact = session.scalars(select(Contact).where(Contact.email == address)).first()
        return contact.public_id if contact else None


def apply_sendgrid_events(service: Service, events: list[Any], now: datetime) -> dict[str, int]:
    """Bounces, drops, spam reports and unsubscribes from SendGrid's (verified) event webhook."""
    with service.db.session() as session:
        return apply_events(session, events, service.config, now).as_json()


def ping(service: Service) -> None:
    """A query, so a health check fails when the database does."""
    with service.db.session() as session:
        session.execute(text("SELECT 1"))
