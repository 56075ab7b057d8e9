"""Suppressions by hand: who must not get mail (of one kind, or of every kind), and lifting them.

Bounces and spam reports cannot be lifted here: see track.suppressions for who may lift what.
"""

from __future__ import annotations

from datetime import datetime

from comms import kinds
from comms.problems import Problem, ValidationFailed
from comms.service import Service
from comms.store.models import Suppression
from comms.track.suppressions import ADDED_BY_HAND, EVERY_KIND, list_suppressions, suppress, unsuppress


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
