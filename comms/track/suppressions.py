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
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, bindparam, delete, exists, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
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


@dataclass(frozen=True, slots=True)
class Change:
    """One `suppress` (or, with `lift`, one `unsuppress` of `reason` only), to apply in a batch."""

    email: str
    scope: str
    reason: str
    lift: bool = False

    def after(self, current: str | None) -> str | None:
        """The reason on (email, scope) after this change, given the one before (None: none):
        the same rules as `suppress` and `unsuppress`."""
        if self.lift:
            return None if current == self.reason and current in UNDOABLE_REASONS else current
        if current is None or (self.reason in PERMANENT_REASONS and current in UNDOABLE_REASONS):
            return self.reason
        return current


def apply_changes(session: Session, changes: Sequence[Change], now: datetime) -> None:
    """`suppress` and `unsuppress` for many addresses at once (a webhook post's events): the
    rows concerned are read in one query, the changes folded in order in memory, and only the
    end result written, three statements at most. The writes keep the single calls' guards
    (ON CONFLICT DO NOTHING, upgrade only an undoable reason, lift only `reason`), so an
    unsubscribe committed meanwhile by a recipient page is neither lost nor doubled."""
    if not changes:
        return
    for change in changes:
        if change.reason not in REASONS or not change.scope:
            raise ValueError(f"unknown suppression reason {change.reason!r} or empty scope")
    table = cast(Table, Suppression.__table__)
    addresses = sorted({normalise_email(c.email) for c in changes})
    before: dict[tuple[str, str], str] = {}
    for start in range(0, len(addresses), 500):  # stays under every driver's parameter limit
        rows = session.execute(
            select(table.c.email, table.c.scope, table.c.reason).where(
                table.c.email.in_(addresses[start : start + 500])
            )
        )
        before.update({(email, scope): reason for email, scope, reason in rows})
    after: dict[tuple[str, str], str | None] = dict(before)
    for change in changes:
        key = (normalise_email(change.email), change.scope)
        after[key] = change.after(after.get(key))
    added: list[dict[str, object]] = []
    permanent: list[dict[str, str]] = []
    lifted: list[dict[str, str]] = []
    upgraded = 0
    for (email, scope), reason in after.items():
        old = before.get((email, scope))
        if reason == old:
            continue
        row = {"e": email, "s": scope, "r": reason or old or ""}
        if reason is None:
            lifted.append(row)
            continue
        if old is None:
            added.append({"email": email, "scope": scope, "reason": reason, "created_at": now})
        if reason in PERMANENT_REASONS:  # also for a new row: a page may add an undoable one meanwhile
            permanent.append(row)
            upgraded += old is not None
    if added:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        session.execute(insert(table).on_conflict_do_nothing(index_elements=["email", "scope"]), added)
    if permanent:
        session.execute(
            update(table)
            # literal()s, not one expanding IN parameter: executemany cannot expand a list
            .where(_row_is(table), table.c.reason.in_([literal(r) for r in sorted(UNDOABLE_REASONS)]))
            .values(reason=bindparam("r")),
            permanent,
        )
    if lifted:
        session.execute(delete(table).where(_row_is(table), table.c.reason == bindparam("r")), lifted)
    if added or permanent or lifted:
        log.info(
            "suppressions: %d added, %d made permanent, %d lifted",
            len(added),
            upgraded,
            len(lifted),
            extra={"added": len(added), "made_permanent": upgraded, "lifted": len(lifted)},
        )


def _row_is(table: Table) -> ColumnElement[bool]:
    return and_(table.c.email == bindparam("e"), table.c.scope == bindparam("s"))


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
