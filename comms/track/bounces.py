"""The bounce policy: which refusals of a recipient stop mail to that address, and when.

Read from the SMTP reply (RFC 5321 reply code, RFC 3463 enhanced status code), whether it
came back during the SMTP session or later in a DSN (RFC 3464):

- **hard**: the address does not exist or cannot receive mail (5.1.0–5.1.4, 5.1.6, 5.1.10
  null MX, 5.2.1 mailbox disabled). Suppressed for every kind at once.
- **soft**: the mailbox or its system cannot take mail now (x.2.2 mailbox full, other x.2.x,
  5.3.x, 5.4.x, a 5xx without an enhanced code, a DSN whose queue gave up on a 4.x.x).
  Suppressed once soft bounces fall on `limit` different days within `window_days`, with no
  delivery since: one full mailbox is a holiday, three editions in a row is an abandoned one.
  Days, not attempts, so the retries of one send (all on one day) count once.
- **about us**: the refusal is about our message or our sending (x.7.x policy, spam, DMARC;
  x.5.x protocol; x.6.x content; x.1.7 and x.1.8 our sender address; x.2.3 and x.3.4 too big).
  Recorded for the team, never suppressed: suppressing would punish the recipient for our fault.
- **passing**: a transient 4xx during the SMTP session that is not about the mailbox (4.3.x,
  4.4.x, greylisting); the queue retries it and it counts for nothing.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session

from comms.config import BouncesConfig
from comms.dates import local
from comms.store.models import Contact, DeliveryEvent, Message
from comms.track.sql import insert_once
from comms.track.suppressions import EVERY_KIND, HARD_BOUNCE, SOFT_BOUNCES, normalise_email, suppress

log = logging.getLogger(__name__)

# "550 5.1.1 User unknown", "smtp; 452-4.2.2 Mailbox full", "5.1.10": code and status, each optional.
_REPLY = re.compile(
    r"^\s*(?:[a-z-]+\s*;\s*)?(?P<code>[245]\d\d)?[ -]?\s*(?P<status>[245]\.\d{1,3}\.\d{1,3})?"
)
_STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")

HARD_STATUSES = frozenset({"1.0", "1.1", "1.2", "1.3", "1.4", "1.6", "1.10", "2.1"})
ABOUT_US_STATUSES = frozenset({"1.7", "1.8", "2.3", "3.4"})
ABOUT_US_SUBJECTS = frozenset({"5", "6", "7"})  # protocol, content, security or policy

# Event names in DeliveryEvent (beside SendGrid's own): what the team can count and look up.
BOUNCE_EVENT = "bounce"
SOFT_BOUNCE_EVENT = "soft-bounce"
REFUSED_EVENT = "refused"  # about us: recorded, not acted on
_COUNTED = (BOUNCE_EVENT, SOFT_BOUNCE_EVENT)


class Verdict(StrEnum):
    HARD = "hard"
    SOFT = "soft"
    ABOUT_US = "about us"
    PASSING = "passing"


@dataclass(frozen=True, slots=True)
class SmtpReply:
    """What a server said about one recipient; either part may be missing."""

    code: int | None
    status: str | None  # enhanced status code, "5.1.1"
    text: str = ""

    @classmethod
    def parse(cls, text: str, code: int | None = None, status: str | None = None) -> SmtpReply:
        """Fill in what the caller does not know from the reply text ("550 5.1.1 User unknown")."""
        found = _REPLY.match(text or "")
        if found:
            code = code if code is not None else (int(found["code"]) if found["code"] else None)
            status = status or found["status"]
        if status and not _STATUS.match(status):
            status = None
        return cls(code, status, (text or "").strip())

    @property
    def is_permanent(self) -> bool:
        if self.status:
            return self.status.startswith("5")
        return self.code is not None and self.code >= 500

    def verdict(self, given_up: bool = False) -> Verdict:
        """The policy above. `given_up`: delivery is over (a DSN saying 'failed'), so even a
        4.x.x is a bounce rather than something the queue will retry."""
        if self.status is None:
            return Verdict.SOFT if self.is_permanent or given_up else Verdict.PASSING
        klass, subject, detail = self.status.split(".")
        about = f"{subject}.{int(detail)}"
        if subject in ABOUT_US_SUBJECTS or about in ABOUT_US_STATUSES:
            return Verdict.ABOUT_US
        if klass == "5":
            return Verdict.HARD if about in HARD_STATUSES else Verdict.SOFT
        return Verdict.SOFT if subject == "2" or given_up else Verdict.PASSING

    def as_detail(self) -> dict[str, object]:
        return {"code": self.code, "status": self.status, "reply": self.text[:500]}


@dataclass(frozen=True, slots=True)
class SoftBouncePolicy:
    limit: int = 3  # different days with a soft bounce …
    window_days: int = 90  # … within this many days, with no delivery since

    @classmethod
    def from_config(cls, settings: BouncesConfig) -> SoftBouncePolicy:
        return cls(settings.soft_bounce_limit, settings.soft_bounce_window_days)


@dataclass(frozen=True, slots=True)
class Bounce:
    """One refusal of one address, from the SMTP session or a DSN."""

    email: str
    reply: SmtpReply
    key: str  # deduplication: the same refusal read twice counts once
    source: str  # "smtp" or "dsn"
    message_id: int | None = None  # the ledger row it is about, when known
    given_up: bool = False

    @property
    def verdict(self) -> Verdict:
        return self.reply.verdict(self.given_up)


@dataclass(frozen=True, slots=True)
class BounceOutcome:
    verdict: Verdict
    new: bool  # False: seen before, nothing changed
    suppressed: bool  # the address is now suppressed (for every kind)


def record_bounce(session: Session, bounce: Bounce, policy: SoftBouncePolicy, now: datetime) -> BounceOutcome:
    """Record a refusal once and apply the policy: suppress a hard bounce at once, a soft one
    when it has repeated on enough days; a refusal about us is only recorded."""
    verdict = bounce.verdict
    if verdict is Verdict.PASSING:
        return BounceOutcome(verdict, new=False, suppressed=False)
    event = {Verdict.HARD: BOUNCE_EVENT, Verdict.SOFT: SOFT_BOUNCE_EVENT}.get(verdict, REFUSED_EVENT)
    address = normalise_email(bounce.email)
    detail = {"source": bounce.source, **bounce.reply.as_detail()}
    record = {
        "event_key": bounce.key,
        "event": event,
        "email": address,
        "message_id": bounce.message_id,
        "occurred_at": now,
        "received_at": now,
        "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True),
    }
    if insert_once(session, DeliveryEvent, record, ["event_key"]) is None:
        return BounceOutcome(verdict, new=False, suppressed=False)
    if bounce.message_id is not None and bounce.source != "smtp":
        # Accepted earlier, refused later: the ledger says so (as SendGrid's bounce events do).
        session.execute(update(Message).where(Message.id == bounce.message_id).values(last_event="bounce"))
    if verdict is Verdict.HARD:
        suppress(session, address, EVERY_KIND, HARD_BOUNCE, now)
        return BounceOutcome(verdict, new=True, suppressed=True)
    if verdict is Verdict.SOFT and soft_bounce_days(session, address, policy, now) >= policy.limit:
        suppress(session, address, EVERY_KIND, SOFT_BOUNCES, now)
        return BounceOutcome(verdict, new=True, suppressed=True)
    log.info("%s recorded (%s): %s", event, bounce.source, bounce.reply.status or bounce.reply.code)
    return BounceOutcome(verdict, new=True, suppressed=False)


def soft_bounce_days(session: Session, email: str, policy: SoftBouncePolicy, now: datetime) -> int:
    """Different days (Dutch time) with a soft bounce of the address in the window, after its
    last delivery that no bounce followed."""
    since = now - timedelta(days=policy.window_days)
    last_delivery = _last_unbounced_delivery(session, email)
    if last_delivery is not None and last_delivery > since:
        since = last_delivery
    moments = session.scalars(
        select(DeliveryEvent.occurred_at).where(
            DeliveryEvent.email == email,
            DeliveryEvent.event == SOFT_BOUNCE_EVENT,
            DeliveryEvent.occurred_at > since,
        )
    )
    return len({local(moment).date() for moment in moments})


def _last_unbounced_delivery(session: Session, email: str) -> datetime | None:
    bounced = exists().where(
        DeliveryEvent.message_id == Message.id,
        DeliveryEvent.event.in_(_COUNTED),
        DeliveryEvent.occurred_at >= Message.sent_at,
    )
    query = (
        select(func.max(Message.sent_at))
        .join(Contact, Message.contact_id == Contact.id)
        .where(and_(Contact.email == email, Message.sent_at.is_not(None), ~bounced))
    )
    return session.scalar(query)


@dataclass(frozen=True, slots=True)
class SmtpRefusal:
    """A recipient the SMTP server refused during the session (deliver's results, as data)."""

    ledger_id: int
    email: str
    reply: SmtpReply


def record_smtp_refusals(
    session: Session, refusals: Sequence[SmtpRefusal], policy: SoftBouncePolicy, now: datetime
) -> int:
    """Apply the policy to a batch's refusals; how many addresses became suppressed.

    Keyed by ledger row and attempt, so an acknowledgement written twice counts once."""
    refusals = [r for r in refusals if r.reply.verdict() is not Verdict.PASSING]
    if not refusals:
        return 0
    attempts = dict(
        session.execute(
            select(Message.id, Message.attempts).where(Message.id.in_([r.ledger_id for r in refusals]))
        ).all()
    )
    suppressed = 0
    for refusal in refusals:
        key = f"smtp:{refusal.ledger_id}:{attempts.get(refusal.ledger_id, 0)}"
        bounce = Bounce(refusal.email, refusal.reply, key, "smtp", refusal.ledger_id)
        suppressed += record_bounce(session, bounce, policy, now).suppressed
    return suppressed
