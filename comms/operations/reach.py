"""Whom an edition reaches: its recipients per province and per role, and who is left out and why.

Before sending starts this is the audience as the ledger would snapshot it now (active
contacts of the kind's audience, less the suppressed); once sending started it is the ledger
itself. Names of the people left out are for the team's edition page only: never logged.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import case, func, not_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from comms import kinds
from comms.domain import ROLES
from comms.dutch import Noun
from comms.service import Service
from comms.store.editions import find_edition
from comms.store.models import Contact, Edition, EditionStatus, Message, MessageStatus, Suppression
from comms.track.suppressions import (
    ADDED_BY_HAND,
    DROPPED,
    HARD_BOUNCE,
    PERMANENT_REASONS,
    PREFERENCE_CENTRE,
    SOFT_BOUNCES,
    SPAM_REPORT,
    UNSUBSCRIBED,
    contact_suppressed,
    scopes_stopping,
)

PEOPLE = Noun("persoon", "personen")
RECIPIENTS = Noun("ontvanger", "ontvangers")

NAMES_SHOWN = 100  # per reason: the page stays readable, the count says how many there are
NO_PROVINCE = "geen provincie"
INACTIVE = "inactive"

REASON_LABELS = {
    UNSUBSCRIBED: "afgemeld",
    PREFERENCE_CENTRE: "afgemeld in het voorkeurencentrum",
    ADDED_BY_HAND: "met de hand geblokkeerd",
    HARD_BOUNCE: "adres bestaat niet (harde bounce)",
    SOFT_BOUNCES: "herhaaldelijk onbestelbaar (zachte bounces)",
    SPAM_REPORT: "heeft een bericht als spam gemeld",
    DROPPED: "geweigerd door de verzenddienst",
    INACTIVE: "niet meer in de contactexport (inactief)",
    "answered the survey already": "heeft de enquête al ingevuld",
    "the survey closed before this message went out": "de enquête was al gesloten",
}


@dataclass(frozen=True, slots=True)
class Exclusion:
    """People of the audience who get nothing, for one reason."""

    reason: str  # Dutch
    count: int
    names: tuple[str, ...]  # at most NAMES_SHOWN

    @property
    def text(self) -> str:
        return f"{self.reason}: {PEOPLE.count(self.count)}"

    @property
    def names_cut(self) -> int:
        return self.count - len(self.names)


@dataclass
class Reach:
    key: str
    audience: str  # Audience.label
    from_ledger: bool  # sending started: the ledger's snapshot, else the audience as it is now
    total: int
    by_province: list[tuple[str, int]]
    by_role: list[tuple[str, int]]  # one person with two roles counts for both
    excluded: list[Exclusion] = field(default_factory=list)
    outside_audience: int = 0  # active contacts this kind's audience does not take in

    @property
    def recipients_text(self) -> str:
        return RECIPIENTS.count(self.total)

    @property
    def excluded_total(self) -> int:
        return sum(e.count for e in self.excluded)


def reach(service: Service, key: str) -> Reach:
    with service.db.session() as session:
        edition = find_edition(session, key)
        kind = kinds.find(edition.kind)
        audience = kind.audience(edition.audience)
        clause = audience.clause(service)
        if _has_ledger(edition):
            included = _in_ledger(edition, (MessageStatus.SUPPRESSED,), negate=True)
            excluded = _ledger_exclusions(session, edition)
        else:
            included = Contact.active.is_(True) & clause & not_(contact_suppressed(kind.key))
            excluded = _audience_exclusions(session, clause, kind.key)
        outside = Contact.active.is_(True) & not_(clause)
        return Reach(
            key,
            audience.label,
            _has_ledger(edition),
            _count(session, included),
            _by_province(session, included),
            _by_role(session, included),
            excluded,
            _count(session, outside),
        )


def _has_ledger(edition: Edition) -> bool:
    return edition.status in (EditionStatus.SENDING, EditionStatus.SENT)


def _in_ledger(
    edition: Edition, statuses: tuple[MessageStatus, ...], negate: bool = False
) -> ColumnElement[bool]:
    status = Message.status.in_([s.value for s in statuses])
    rows = select(Message.contact_id).where(
        Message.edition_id == edition.id, not_(status) if negate else status
    )
    return Contact.id.in_(rows.scalar_subquery())


def _count(session: Session, where: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count()).select_from(Contact).where(where)) or 0


def _by_province(session: Session, where: ColumnElement[bool]) -> list[tuple[str, int]]:
    rows = session.execute(
        select(Contact.province, func.count())
        .where(where)
        .group_by(Contact.province)
        .order_by(Contact.province)
    )
    counts = [(province or NO_PROVINCE, n) for province, n in rows]
    return sorted(counts, key=lambda pair: (pair[0] == NO_PROVINCE, pair[0]))


def _by_role(session: Session, where: ColumnElement[bool]) -> list[tuple[str, int]]:
    sums = [func.sum(case((Contact.roles.like(f"%,{role},%"), 1), else_=0)) for role in ROLES]
    row = session.execute(select(*sums).where(where)).one()
    return [(label, int(n or 0)) for label, n in zip(ROLES.values(), row, strict=True) if n]


def _name(contact: Contact) -> str:
    name = " ".join(p for p in (contact.first_name, contact.infix, contact.last_name) if p)
    return f"{name} ({contact.province})" if contact.province else name


def _audience_exclusions(session: Session, clause: ColumnElement[bool], kind: str) -> list[Exclusion]:
    """Suppressed members of the audience (by their weightiest suppression), and inactive ones."""
    rows = session.execute(
        select(Contact, Suppression.reason, Suppression.scope)
        .join(Suppression, Suppression.email == Contact.email)
        .where(Contact.active.is_(True), clause, Suppression.scope.in_(scopes_stopping(kind)))
        .order_by(Contact.last_name, Contact.first_name, Contact.id)
    )
    reason_of: dict[int, tuple[str, Contact]] = {}
    for contact, reason, _scope in rows:
        known = reason_of.get(contact.id)
        if known is None or (reason in PERMANENT_REASONS and known[0] not in PERMANENT_REASONS):
            reason_of[contact.id] = (reason, contact)
    groups: dict[str, list[Contact]] = defaultdict(list)
    for reason, contact in reason_of.values():
        groups[reason].append(contact)
    inactive = list(
        session.scalars(
            select(Contact).where(Contact.active.is_(False), clause).order_by(Contact.last_name, Contact.id)
        )
    )
    if inactive:
        groups[INACTIVE] = inactive
    return _exclusions(groups)


def _ledger_exclusions(session: Session, edition: Edition) -> list[Exclusion]:
    """The ledger's suppressed messages, by the reason they were skipped."""
    rows = session.execute(
        select(Contact, Message.error, Suppression.reason)
        .join(Message, Message.contact_id == Contact.id)
        .outerjoin(
            Suppression,
            (Suppression.email == Contact.email) & Suppression.scope.in_(scopes_stopping(edition.kind)),
        )
        .where(Message.edition_id == edition.id, Message.status == MessageStatus.SUPPRESSED)
        .order_by(Contact.last_name, Contact.first_name, Contact.id)
    )
    groups: dict[str, list[Contact]] = defaultdict(list)
    seen: set[int] = set()
    for contact, error, reason in rows:
        if contact.id not in seen:
            seen.add(contact.id)
            groups[error or reason or ADDED_BY_HAND].append(contact)
    return _exclusions(groups)


def _exclusions(groups: dict[str, list[Contact]]) -> list[Exclusion]:
    found = [
        Exclusion(
            REASON_LABELS.get(reason, reason), len(people), tuple(_name(c) for c in people[:NAMES_SHOWN])
        )
        for reason, people in groups.items()
    ]
    return sorted(found, key=lambda e: (-e.count, e.reason))
