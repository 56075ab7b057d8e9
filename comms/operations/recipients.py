"""What a recipient does from a link in a mail: unsubscribe, choose preferences, ask for a
preference link, read the web version and the archive of sent editions; and what SendGrid
reports about them (events)."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, text, true
from sqlalchemy.sql.elements import ColumnElement

from comms import kinds
from comms.clock import Clock
from comms.dates import date_and_time
from comms.editions.views import Published, published, web_version
from comms.kinds import UnknownKind
from comms.notify import TeamNotice, send_notice
from comms.problems import ValidationFailed
from comms.service import Service
from comms.store.models import Contact
from comms.tokens import Purpose
from comms.track.preferences import PreferenceView, get_preferences
from comms.track.preferences import save_preferences as store_preferences
from comms.track.suppressions import (
    EVERY_KIND,
    UNSUBSCRIBED,
    blocks,
    is_suppressed,
    normalise_email,
    suppress,
    unsuppress,
)
from comms.track.webhook import apply_events

__all__ = [
    "REQUESTED_LINK_LIFETIME",
    "RESTORE_LINK_LIFETIME",
    "Published",
    "apply_sendgrid_events",
    "asks_themes",
    "contact_email",
    "is_forward_safe",
    "is_unsubscribed",
    "kind_label",
    "kind_labels",
    "kind_name",
    "mail_preferences_link",
    "mail_unsubscribe_notice",
    "offered_kinds",
    "ping",
    "preferences",
    "published",
    "restore",
    "save_preferences",
    "unsubscribe",
    "web_version",
]

log = logging.getLogger(__name__)

REQUESTED_LINK_LIFETIME = timedelta(days=7)
# The undo in the notice after an unsubscribe from forward-safe mail: long enough to notice a
# missing weekly digest after a holiday, short enough that an old notice is no standing key.
RESTORE_LINK_LIFETIME = timedelta(days=30)


def kind_labels() -> dict[str, str]:
    """Every mailing kind a recipient can choose, key → the name they know it by."""
    return kinds.labels()


def kind_label(key: str) -> str:
    try:
        return kinds.find(key).label
    except UnknownKind:  # a link for a kind that no longer exists
        return "deze mailing"


def kind_name(key: str) -> str:
    """The kind in mid-sentence, with its article: 'U ontvangt {kind_name} niet meer'."""
    try:
        return kinds.find(key).label_definite
    except UnknownKind:
        return "deze mailing"


def contact_email(service: Service, public_id: str) -> str | None:
    with service.db.session() as session:
        return session.scalars(select(Contact.email).where(Contact.public_id == public_id)).first()


def is_unsubscribed(service: Service, email: str, kind: str) -> bool:
    with service.db.session() as session:
        return is_suppressed(session, email, kind)


def unsubscribe(service: Service, email: str, kind: str, now: datetime) -> bool:
    """Stop `kind` mail to the address; True when it was not stopped already."""
    with service.db.session() as session:
        return suppress(session, email, kind, UNSUBSCRIBED, now)


def restore(service: Service, email: str, kind: str) -> bool:
    """Undo an unsubscribe from `kind` (that one kind, that one reason); whether `kind` mail
    to the address is still stopped afterwards.

    A preference-centre choice, a suppression by hand, a bounce or a complaint stays.
    """
    with service.db.session() as session:
        unsuppress(session, email, kind, reasons={UNSUBSCRIBED})
        return is_suppressed(session, email, kind)


def is_forward_safe(kind: str) -> bool:
    try:
        return kinds.find(kind).forward_safe
    except UnknownKind:
        return False


def preferences(service: Service, email: str, now: datetime) -> PreferenceView:
    """The preference centre of an address: the kinds that can reach it, and its themes."""
    offered = offered_kinds(service, email, now)
    with service.db.session() as session:
        return get_preferences(session, email, offered)


def save_preferences(
    service: Service, email: str, wanted: Collection[str], themes: Collection[str], now: datetime
) -> PreferenceView:
    """Save a choice from the preference centre: only the kinds offered change, and the themes
    only where a kind offered follows them."""
    offered = offered_kinds(service, email, now)
    chosen = set(wanted) & set(offered)
    themes_asked = asks_themes(offered)
    with service.db.session() as session:
        return store_preferences(
            session, email, chosen, themes if themes_asked else None, now, offered, kinds.all_keys()
        )


def offered_kinds(service: Service, email: str, now: datetime) -> tuple[str, ...]:
    """The kinds whose mail can reach the contact with this address (its roles, seats and
    province as they are now), in listing order; each kind says whom it reaches."""
    every = kinds.every()
    with service.db.session() as session:
        contact_id = session.scalar(select(Contact.id).where(Contact.email == normalise_email(email)))
        if contact_id is None:
            return ()
        reached = [exists().where(Contact.id == contact_id, _reach(service, kind, now)) for kind in every]
        answers = session.execute(select(*reached)).one()
    return tuple(kind.key for kind, reaches in zip(every, answers, strict=True) if reaches)


def _reach(service: Service, kind: kinds.MailingKind, now: datetime) -> ColumnElement[bool]:
    """The kind's reach; when a broken rules file hides it, everyone (`comms check` reports the
    file): better a kind too many on the page than a person who cannot stop its mail."""
    try:
        return kind.reach(service, now)
    except ValidationFailed:
        log.warning("the reach of %s is unknown (invalid rules); offered to everyone", kind.key)
        return true()


def asks_themes(offered: Collection[str]) -> bool:
    """Whether the preference centre asks for themes: a kind offered follows them."""
    return any(kinds.find(key).by_theme for key in offered)


def mail_preferences_link(service: Service, email: str, clock: Clock, scope: str | None = None) -> None:
    """Mail a personal preference link to the address, if it belongs to a contact.

    `scope`: the kind the link was asked for from (the unsubscribe page's); by default the
    forward-safe kind, whose mail carries the general /voorkeuren link.
    """
    address = email.strip().lower()
    if len(address) > 320 or any(c in address for c in "\r\n"):
        return
    public_id = _mailable_public_id(service, address)
    if public_id is None:
        return
    signer = service.signer()
    expires = clock.now() + REQUESTED_LINK_LIFETIME
    token = signer.sign(Purpose.PREFERENCES, public_id, scope or _requested_link_scope(), expires)
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


def mail_unsubscribe_notice(service: Service, email: str, kind: str, clock: Clock) -> bool:
    """After an unsubscribe from forward-safe mail: tell the owner, with a one-click undo.

    The List-Unsubscribe header of a forwarded digest still holds the owner's link, so anyone
    who reads it can unsubscribe them; this notice means that never happens unnoticed. True
    when a notice went out (only for forward-safe kinds, and never to a bounced address).
    """
    if not is_forward_safe(kind):
        return False
    public_id = _mailable_public_id(service, normalise_email(email))
    if public_id is None:
        return False
    now = clock.now()
    signer = service.signer()
    token = signer.sign(Purpose.RESTORE, public_id, kind, now + RESTORE_LINK_LIFETIME)
    name = kind_name(kind)
    notice = TeamNotice(
        f"U bent afgemeld voor {name}",
        [
            f"Dit adres is op {date_and_time(now)} afgemeld voor {name} van het IPO,"
            " via de afmeldfunctie in een van onze e-mails.",
            "Heeft u dat zelf gedaan, dan hoeft u niets te doen. Kreeg iemand anders ons bericht"
            " van u doorgestuurd, dan kan die persoon de afmelding hebben gedaan.",
            f"Wilt u {name} blijven ontvangen? Maak de afmelding dan ongedaan met de link"
            " hieronder. De link werkt 30 dagen.",
        ],
        ("Afmelding ongedaan maken", f"{service.config.web_base_url}/afmelding-ongedaan/{token}"),
    )
    return send_notice(service.config, signer, notice, (normalise_email(email),), clock) > 0


def _mailable_public_id(service: Service, address: str) -> str | None:
    """The contact's public id, unless the address bounced or complained (then no mail at all)."""
    with service.db.session() as session:
        contact = session.scalars(select(Contact).where(Contact.email == address)).first()
        if contact is None:
            return None
        if any(b.scope == EVERY_KIND and b.is_permanent for b in blocks(session, address)):
            return None
        return contact.public_id


def apply_sendgrid_events(service: Service, events: list[Any], now: datetime) -> dict[str, int]:
    """Bounces, drops, spam reports and unsubscribes from SendGrid's (verified) event webhook."""
    return apply_events(service.db, events, service.config, now).as_json()


def ping(service: Service) -> None:
    """A query, so a health check fails when the database does."""
    with service.db.session() as session:
        session.execute(text("SELECT 1"))
