"""The bounce mailbox: DSNs become bounces, ARF reports complaints, mail to the unsubscribe
address unsubscribes. `comms serve` runs this every `[bounces] poll_seconds`; `comms bounces
read` once.

Each message is applied in its own transaction and then marked in the mailbox; a message
that cannot be read is set aside and reported, and the others go on.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from comms.clock import Clock, FixedClock
from comms.operations import recipients
from comms.problems import Problem, ValidationFailed
from comms.service import Service
from comms.store.models import Contact, DeliveryEvent, Edition, Message
from comms.tokens import InvalidToken, Purpose
from comms.track.bounces import Bounce, SoftBouncePolicy, record_bounce
from comms.track.mailbox import BounceMailbox
from comms.track.reports import IncomingReport, OriginalMessage, read_report
from comms.track.sql import insert_once
from comms.track.suppressions import EVERY_KIND, SPAM_REPORT, suppress
from comms.track.verp import ReturnPaths

log = logging.getLogger(__name__)
PASSWORD_VARIABLE = "COMMS_BOUNCES_IMAP_PASSWORD"
COMPLAINT_EVENT = "complaint"


@dataclass
class MailboxOutcome:
    """What one read of the mailbox did: counts and reasons, never addresses."""

    read: Counter[str] = field(default_factory=Counter)  # by report kind
    suppressed: int = 0  # addresses newly stopped by a bounce, complaint or unsubscribe
    unreadable: list[str] = field(default_factory=list)  # why each set-aside message was

    def summary(self) -> str:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.read.items())) or "nothing new"
        return f"bounce mailbox: {kinds}; {self.suppressed} address(es) suppressed"


def mailbox_password() -> str | None:
    return os.environ.get(PASSWORD_VARIABLE)


def read_bounce_mailbox(service: Service, clock: Clock, limit: int = 500) -> MailboxOutcome:
    """Read what is new in the bounce mailbox and apply it. MailboxUnavailable when the
    server cannot be used (the next round tries again)."""
    settings = service.config.bounces
    if not settings.reads_mailbox:
        raise ValidationFailed([Problem(str(service.config.path), "[bounces] imap_host is not set")])
    password = mailbox_password()
    if not password:
        raise ValidationFailed(
            [Problem("environment", f"{PASSWORD_VARIABLE} is not set; [bounces] needs it")]
        )
    outcome = MailboxOutcome()
    with BounceMailbox(settings, password) as mailbox:
        for uid, raw in mailbox.unread(limit):
            report = read_report(raw, _return_paths(service))
            problem = apply_report(service, report, clock.now(), outcome)
            if problem is None:
                mailbox.mark_handled(uid)
            else:
                outcome.unreadable.append(problem)
                log.warning("bounce mailbox: message %s set aside: %s", uid, problem)
                mailbox.mark_unreadable(uid)
    log.info(outcome.summary())
    return outcome


def apply_report(
    service: Service, report: IncomingReport, now: datetime, outcome: MailboxOutcome
) -> str | None:
    """Apply one report; the reason it cannot be, or None when it was handled."""
    if not report.is_readable:
        return report.reason
    if report.kind == "unsubscribe":
        return _unsubscribe(service, report, now, outcome)
    if report.kind == "ignored":
        outcome.read["ignored"] += 1
        return None
    policy = SoftBouncePolicy.from_config(service.config.bounces)
    with service.db.session() as session:
        found = _message_of(session, report.original)
        if found is None:
            return f"{report.kind} names a message this ledger does not have"
        message_id, address = found
        if report.kind == "bounce":
            assert report.reply is not None
            bounce = Bounce(address, report.reply, report.key, "dsn", message_id, given_up=True)
            result = record_bounce(session, bounce, policy, now)
            outcome.suppressed += result.suppressed
            outcome.read[f"bounce ({result.verdict})"] += 1
        else:
            outcome.suppressed += _complaint(session, report, message_id, address, now)
            outcome.read["complaint"] += 1
    return None


def _complaint(
    session: Session, report: IncomingReport, message_id: int, address: str, now: datetime
) -> bool:
    """A spam complaint stops every kind, as SendGrid's spam reports do (track.webhook)."""
    record = {
        "event_key": report.key,
        "event": COMPLAINT_EVENT,
        "email": address,
        "message_id": message_id,
        "occurred_at": now,
        "received_at": now,
        "detail": json.dumps({"source": "arf"}),
    }
    if insert_once(session, DeliveryEvent, record, ["event_key"]) is None:
        return False  # read before
    return suppress(session, address, EVERY_KIND, SPAM_REPORT, now)


def _unsubscribe(
    service: Service, report: IncomingReport, now: datetime, outcome: MailboxOutcome
) -> str | None:
    """The mailto of List-Unsubscribe: the same unsubscribe as the one-click link, for the kind
    the token was made for."""
    assert report.token is not None
    try:
        claims = service.signer().verify(report.token, Purpose.UNSUBSCRIBE, now)
    except (InvalidToken, UnicodeDecodeError, ValueError) as exc:
        return f"unsubscribe request with an invalid token ({exc})"
    email = recipients.contact_email(service, claims.subject)
    if email is None:
        return "unsubscribe request for a contact that no longer exists"
    already = recipients.is_unsubscribed(service, email, claims.scope)
    if recipients.unsubscribe(service, email, claims.scope, now):
        # The mailto is in a forwarded digest's headers too: the owner hears of it (and can undo).
        recipients.mail_unsubscribe_notice(service, email, claims.scope, FixedClock(now))
    outcome.suppressed += not already
    outcome.read["unsubscribe"] += 1
    return None


def _message_of(session: Session, original: OriginalMessage) -> tuple[int, str] | None:
    """(ledger id, the contact's address) of the message a report is about."""
    query = select(Message.id, Contact.email).join(Contact, Message.contact_id == Contact.id)
    if original.ledger_id is not None:
        row = session.execute(query.where(Message.id == original.ledger_id)).first()
    elif original.message_ref is not None:
        edition_key, public_id = original.message_ref
        query = query.join(Edition, Message.edition_id == Edition.id)
        row = session.execute(query.where(Edition.key == edition_key, Contact.public_id == public_id)).first()
    else:
        row = None
    return (row[0], row[1]) if row else None


def _return_paths(service: Service) -> ReturnPaths | None:
    settings, key = service.config.bounces, service.config.secret_key
    return ReturnPaths(settings.address, key) if settings.uses_verp and key else None
