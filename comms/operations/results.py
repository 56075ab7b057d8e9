"""How a send goes and went: live progress from the message ledger, and the results per province.

Results count each ledger message that was meant to go out (not the suppressed ones):
- delivered: handed over and not bounced since;
- failed: refused for good, or still waiting for a retry;
- bounced, complained: a bounce or spam report about that message (the bounce mailbox or
  SendGrid's events);
- unsubscribed: the person unsubscribed from this kind (or from everything) after sending started;
- opened, clicked: only where the provider reports them (SendGrid); otherwise unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from comms.deliver import queue
from comms.dutch import Noun, moment, number, share
from comms.service import Service
from comms.store.editions import find_edition
from comms.store.models import (
    Contact,
    DeliveryEvent,
    Edition,
    EditionStatus,
    Message,
    MessageStatus,
    Suppression,
)
from comms.track.suppressions import PREFERENCE_CENTRE, UNSUBSCRIBED, scopes_stopping

MESSAGES = Noun("bericht", "berichten")

NO_PROVINCE = "geen provincie"
BOUNCE_EVENTS = ("bounce", "soft-bounce")  # the bounce mailbox's and SendGrid's event names
BOUNCED_STATES = ("bounce", "blocked", "dropped")  # Message.last_event after SendGrid's verdict
COMPLAINT_EVENTS = ("complaint", "spamreport")  # an ARF report; SendGrid's spam report


# -- progress -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendProgress:
    key: str
    subject: str
    status: EditionStatus
    counts: dict[str, int]  # per MessageStatus value
    waiting: int  # failed or uncertain with a retry still to come (counted in `counts` too)
    started_at: datetime | None
    last_sent_at: datetime | None
    now: datetime

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def suppressed(self) -> int:
        return self.counts[MessageStatus.SUPPRESSED]

    @property
    def to_send(self) -> int:
        """Everyone in the ledger who should get it (the suppressed never do)."""
        return self.total - self.suppressed

    @property
    def settled(self) -> int:
        """Sent, or failed or uncertain for good."""
        return self.to_send - self.open

    @property
    def open(self) -> int:
        """Still to do: pending, claimed, or waiting for a retry."""
        return self.counts[MessageStatus.PENDING] + self.counts[MessageStatus.CLAIMED] + self.waiting

    @property
    def percent(self) -> int:
        return 100 if self.to_send == 0 else int(100 * self.settled / self.to_send)

    @property
    def is_finished(self) -> bool:
        return self.status == EditionStatus.SENT

    @property
    def has_started(self) -> bool:
        return self.status in (EditionStatus.SENDING, EditionStatus.SENT)

    @property
    def per_minute(self) -> float | None:
        """Messages sent per minute since sending started (None before the first)."""
        sent = self.counts[MessageStatus.SENT]
        if not sent or self.started_at is None or self.last_sent_at is None:
            return None
        elapsed = max(self.last_sent_at - self.started_at, timedelta(minutes=1))
        return sent / (elapsed.total_seconds() / 60)

    @property
    def estimated_end(self) -> datetime | None:
        rate = self.per_minute
        if self.is_finished or not rate or not self.open:
            return None
        return self.now + timedelta(minutes=self.open / rate)

    @property
    def summary(self) -> str:
        """'412 van de 681 berichten afgehandeld'."""
        return f"{number(self.settled)} van de {MESSAGES.count(self.to_send)} afgehandeld"

    @property
    def rate_text(self) -> str:
        rate = self.per_minute
        return "nog niets verstuurd" if rate is None else f"{number(round(rate))} per minuut"

    @property
    def end_text(self) -> str:
        if self.is_finished:
            return "klaar"
        end = self.estimated_end
        return f"naar verwachting klaar op {moment(end)}" if end else "nog niet te schatten"

    def as_json(self) -> dict[str, object]:
        """For the page's progressive enhancement (polled): counts and the Dutch texts."""
        return {
            "status": self.status.value,
            "finished": self.is_finished,
            "percent": self.percent,
            "counts": self.counts,
            "waiting": self.waiting,
            "summary": self.summary,
            "rate": self.rate_text,
            "end": self.end_text,
        }


def progress(service: Service, key: str, now: datetime) -> SendProgress:
    with service.db.session() as session:
        edition = find_edition(session, key)
        counts = queue.counts(session, edition.id)
        waiting = session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.edition_id == edition.id, queue.is_waiting())
        )
        last = session.scalar(select(func.max(Message.sent_at)).where(Message.edition_id == edition.id))
        return SendProgress(
            edition.key,
            edition.subject,
            EditionStatus(edition.status),
            counts,
            waiting or 0,
            edition.sending_at,
            last,
            now,
        )


# -- results ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tally:
    """The results of one province (or of the whole edition)."""

    name: str
    recipients: int
    delivered: int
    failed: int
    bounced: int
    complained: int
    unsubscribed: int
    opened: int
    clicked: int

    @property
    def delivered_share(self) -> str:
        return share(self.delivered, self.recipients)

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.name,
            *(getattr(self, f) + getattr(other, f) for f in _COUNTS),
        )


_COUNTS = ("recipients", "delivered", "failed", "bounced", "complained", "unsubscribed", "opened", "clicked")


@dataclass
class EditionResults:
    key: str
    subject: str
    status: EditionStatus
    sent_at: datetime | None
    provinces: list[Tally]
    suppressed: int  # in the audience, never sent
    tracks_opens: bool  # the provider reports opens and clicks (else: unknown)
    total: Tally = field(init=False)

    def __post_init__(self) -> None:
        empty = Tally("totaal", 0, 0, 0, 0, 0, 0, 0, 0)
        self.total = sum(self.provinces, empty)

    @property
    def has_started(self) -> bool:
        return self.status in (EditionStatus.SENDING, EditionStatus.SENT)


def results(service: Service, key: str) -> EditionResults:
    with service.db.session() as session:
        edition = find_edition(session, key)
        columns = [func.count(), *(func.sum(case((rule, 1), else_=0)) for rule in _rules(edition))]
        rows = session.execute(
            select(Contact.province, *columns)
            .join(Contact, Message.contact_id == Contact.id)
            .where(Message.edition_id == edition.id, Message.status != MessageStatus.SUPPRESSED)
            .group_by(Contact.province)
        )
        provinces = [
            Tally(province or NO_PROVINCE, *(int(n or 0) for n in counts)) for province, *counts in rows
        ]
        provinces.sort(key=lambda t: (t.name == NO_PROVINCE, t.name))
        suppressed = queue.counts(session, edition.id)[MessageStatus.SUPPRESSED]
        return EditionResults(
            edition.key,
            edition.subject,
            EditionStatus(edition.status),
            edition.sent_at,
            provinces,
            suppressed,
            any(t.opened or t.clicked for t in provinces) or _has_provider_events(session, edition),
        )


def _rules(edition: Edition) -> list[ColumnElement[bool]]:
    """delivered, failed, bounced, complained, unsubscribed, opened, clicked: one rule per column."""
    bounced = or_(
        func.coalesce(Message.last_event, "").in_(BOUNCED_STATES),  # NULL would make NOT unknown
        exists().where(DeliveryEvent.message_id == Message.id, DeliveryEvent.event.in_(BOUNCE_EVENTS)),
    )
    complained = exists().where(
        DeliveryEvent.message_id == Message.id, DeliveryEvent.event.in_(COMPLAINT_EVENTS)
    )
    since = edition.sending_at or edition.built_at
    unsubscribed = exists().where(
        Suppression.email == Contact.email,
        Suppression.scope.in_(scopes_stopping(edition.kind)),
        Suppression.reason.in_((UNSUBSCRIBED, PREFERENCE_CENTRE)),
        Suppression.created_at >= since,
    )
    failed = and_(Message.status == MessageStatus.FAILED, Message.retry_at.is_(None))  # for good
    return [
        and_(Message.status == MessageStatus.SENT, ~bounced),
        failed,
        bounced,
        complained,
        unsubscribed,
        Message.opened_at.is_not(None),
        Message.clicked_at.is_not(None),
    ]


def _has_provider_events(session: Session, edition: Edition) -> bool:
    query = select(Message.id).where(Message.edition_id == edition.id, Message.last_event.is_not(None))
    return session.scalars(query.limit(1)).first() is not None
