"""Addresses that must not receive mail of a kind ('*': every kind).

Who may lift a suppression depends on why it exists. What a person chose (afmelden, the
preference centre) or what the communications team added by hand, the person may undo.
What the mail system decided (a hard bounce, repeated soft bounces, a spam complaint, a
provider drop) stays until an administrator has checked the address; undoing it from a link
in an old e-mail would hurt the sender's reputation for everyone.

The delivery queue reads the table at claim time, so a new suppression holds for every
message not yet claimed.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from comms.store.database import rows_changed
from comms.store.models import Contact, Suppression
from comms.track.sql import insert_once

log = logging.getLogger(__name__)

EVERY_KIND = "*"

# Reasons, short and fixed: they are stored, counted and shown to the team.
UNSUBSCRIBED = "unsubscribed"
PREFERENCE_CENTRE = "preference centre"
ADDED_BY_HAND = "added by hand"
HARD_BOUNCE = "hard bounce"
SOFT_BOUNCES = "soft bounces"  # repeated on separate days (track.bounces)
SPAM_REPORT = "spamreport"
DROPPED = "dropped"

UNDOABLE_REASONS = frozenset({UNSUBSCRIBED, PREFERENCE_CENTRE, ADDED_BY_HAND})
PERMANENT_REASONS = frozenset({HARD_BOUNCE, SOFT_BOUNCES, SPAM_REPORT, DROPPED})
REASONS = UNDOABLE_REASONS | PERMANENT_REASONS


def normalise_email(email: str) -> str:
    return email.strip().lower()


def scopes_stopping(kind: str) -> tuple[str, str]:
    """The one rule: a suppression stops mail of `kind` when its scope is '*' or `kind`."""
    return (EVERY_KIND, kind)


def contact_suppressed(kind: str) -> ColumnElement[bool]:
    """The rule as SQL, for a query over contacts (the delivery queue's snapshot and claims)."""
    return exists().where(Suppression.email == Contact.email, Suppression.scope.in_(scopes_stopping(kind)))


def person_may_undo(reason: str) -> bool:
    # An unknown reason (an old row, a manual SQL fix) counts as permanent: the safe side.
    return reason in UNDOABLE_REASONS


@dataclass(frozen=True, slots=True)
class Block:
    """One suppression as a rule: which kinds it stops, and whether its owner may lift it."""

    scope: str
    reason: str

    def covers(self, kind: str) -> bool:
        return self.scope in scopes_stopping(kind)

    @property
    def person_may_undo(self) -> bool:
        return person_may_undo(self.reason)

    @property
    def is_permanent(self) -> bool:
        return not self.person_may_undo


def suppress(session: Session, email: str, scope: str, reason: str, now: datetime) -> bool:
    """Stop `scope` mail to `email`; True if the suppression is new. Repeating it is harmless.

    A permanent reason replaces a personal one on the same scope, so an address that
    unsubscribed and then bounced cannot be 'resubscribed' past its bounce.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown suppression reason {reason!r}")
    if not scope:
        raise ValueError("a suppression needs a scope ('*' for every kind)")
    address = normalise_email(email)
    values = {"email": address, "scope": scope, "reason": reason, "created_at": now}
    new = insert_once(session, Suppression, values, ["email", "scope"]) is not None
    if new:
        log.info("suppression added: scope=%s reason=%s", scope, reason)
    elif reason in PERMANENT_REASONS:
        upgraded = session.execute(
            update(Suppression)
            .where(
                Suppression.email == address,
                Suppression.scope == scope,
                Suppression.reason.in_(UNDOABLE_REASONS),
            )
            .values(reason=reason)
        )
        if rows_changed(upgraded):
            log.info("suppression made permanent: scope=%s reason=%s", scope, reason)
    return new


def unsuppress(session: Session, email: str, scope: str, reasons: Collection[str] = UNDOABLE_REASONS) -> int:
    """Lift the suppressions on `scope` that a person may undo; how many were lifted.

    0 when there was none or only a permanent one: the caller says which (see `blocks`).
    `reasons` narrows what is lifted (a SendGrid resubscribe lifts only 'unsubscribed').
    """
    allowed = frozenset(reasons) & UNDOABLE_REASONS
    if allowed != frozenset(reasons):
        raise ValueError("only suppressions a person may undo can be lifted here")
    result = session.execute(
        delete(Suppression).where(
            Suppression.email == normalise_email(email),
            Suppression.scope == scope,
            Suppression.reason.in_(allowed),
        )
    )
    lifted = rows_changed(result)
    if lifted:
        log.info("suppression lifted: scope=%s", scope)
    return lifted


def list_suppressions(session: Session, email: str | None = None) -> list[Suppression]:
    query = select(Suppression).order_by(Suppression.email, Suppression.scope)
    if email is not None:
        query = query.where(Suppression.email == normalise_email(email))
    return list(session.scalars(query))


def blocks(session: Session, email: str) -> list[Block]:
    return [Block(s.scope, s.reason) for s in list_suppressions(session, email)]


def is_suppressed(session: Session, email: str, kind: str) -> bool:
    """Whether mail of `kind` to the address is stopped (the same rule as the delivery queue's)."""
    query = exists().where(
        Suppression.email == normalise_email(email), Suppression.scope.in_(scopes_stopping(kind))
    )
    return bool(session.scalar(select(query)))
