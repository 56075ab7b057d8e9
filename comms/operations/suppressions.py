"""Suppressions by hand: who must not get mail (of one kind, or of every kind), and lifting them.

Bounces and spam reports cannot be lifted here: see track.suppressions for who may lift what.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete

from comms import kinds
from comms.errors import Refused
from comms.problems import Problem, ValidationFailed
from comms.service import Service
from comms.store import audit
from comms.store.audit import AuditAction
from comms.store.database import rows_changed
from comms.store.models import Suppression
from comms.track.suppressions import (
    ADDED_BY_HAND,
    DROPPED,
    EVERY_KIND,
    HARD_BOUNCE,
    PREFERENCE_CENTRE,
    SOFT_BOUNCES,
    SPAM_REPORT,
    UNSUBSCRIBED,
    list_suppressions,
    normalise_email,
    suppress,
    unsuppress,
)

# Why an address is blocked, as the team reads it in the console.
REASON_LABELS = {
    UNSUBSCRIBED: "afgemeld door de ontvanger",
    PREFERENCE_CENTRE: "afgemeld via de voorkeuren",
    ADDED_BY_HAND: "toegevoegd door het team",
    HARD_BOUNCE: "onbestelbaar (harde bounce)",
    SOFT_BOUNCES: "herhaald onbestelbaar (zachte bounces)",
    SPAM_REPORT: "als spam gemeld door de ontvanger",
    DROPPED: "geweigerd door de verzenddienst",
}
# What an administrator may lift in the console, once the address has been checked: bounces
# and the team's own blocks. A recipient's own opt-out or spam report is theirs to undo, never
# the team's; a provider's drop is left to the provider.
TEAM_LIFTABLE = frozenset({HARD_BOUNCE, SOFT_BOUNCES, ADDED_BY_HAND})


def scopes() -> tuple[str, ...]:
    """What a suppression can stop: one mailing kind, or '*' for every kind."""
    return (*kinds.all_keys(), EVERY_KIND)


def check_scope(scope: str) -> None:
    if scope not in scopes():
        known = ", ".join(kinds.all_keys())
        raise ValidationFailed([Problem("--scope", f"{scope!r} is not a mailing kind ({known}) or *")])


def listed(service: Service, email: str | None = None) -> list[Suppression]:
    with service.db.session() as session:
        return list_suppressions(session, email)


def add(service: Service, email: str, scope: str, now: datetime) -> bool:
    """Stop all mail (or one kind) to an address, at once and for every later send; False when
    it was suppressed already."""
    check_scope(scope)
    with service.db.session() as session:
        return suppress(session, email, scope, ADDED_BY_HAND, now)


def lift(service: Service, email: str, scope: str) -> bool:
    """Lift a suppression a person may lift; False when there is none (or only a bounce or spam
    report, which stay)."""
    check_scope(scope)
    with service.db.session() as session:
        return unsuppress(session, email, scope) > 0


@dataclass(frozen=True, slots=True)
class Blocked:
    """One suppression as the console shows it."""

    email: str
    scope: str
    reason: str
    since: datetime

    @property
    def scope_label(self) -> str:
        if self.scope == EVERY_KIND:
            return "alle mailings"
        try:
            return kinds.find(self.scope).label
        except kinds.UnknownKind:  # a kind that no longer exists
            return self.scope

    @property
    def reason_label(self) -> str:
        return REASON_LABELS.get(self.reason, self.reason)

    @property
    def team_may_lift(self) -> bool:
        """An administrator may lift it (see TEAM_LIFTABLE)."""
        return self.reason in TEAM_LIFTABLE


def look_up(service: Service, email: str) -> list[Blocked]:
    """The suppressions of one address (a search, never the whole list)."""
    with service.db.session() as session:
        return [
            Blocked(s.email, s.scope, s.reason, s.created_at)
            for s in list_suppressions(session, normalise_email(email))
        ]


def lift_by_team(service: Service, email: str, scope: str, now: datetime, actor: str) -> Blocked:
    """Lift a bounce or the team's own block (an administrator's decision, in the audit log);
    Refused for a recipient's own opt-out or spam report."""
    address = normalise_email(email)
    with service.db.session() as session:
        found = next((s for s in list_suppressions(session, address) if s.scope == scope), None)
        if found is None:
            raise Refused("no such suppression")
        blocked = Blocked(found.email, found.scope, found.reason, found.created_at)
        if not blocked.team_may_lift:
            raise Refused(f"a suppression for reason {found.reason!r} is not lifted by the team")
        removed = session.execute(
            delete(Suppression).where(
                Suppression.email == address, Suppression.scope == scope, Suppression.reason == found.reason
            )
        )
        if not rows_changed(removed):
            raise Refused("no such suppression")
        detail = f"{blocked.scope_label}: {blocked.reason_label}"  # no address: the log is read widely
        audit.record(session, now, actor, AuditAction.LIFT_SUPPRESSION, detail=detail)
        return blocked
