"""The life of any edition, whatever its kind: draft → approved → sending → sent, or held or
discarded, and the planned send time.

Each step checks the state it starts from and refuses (ValidationFailed, Refused) anything
else, so no front end can move an edition past a step: an unapproved edition is never sent.
What differs per kind (its audience, who is skipped, what happens once it started) the
edition's kind answers.
"""

from __future__ import annotations

from datetime import datetime

from comms import kinds
from comms.clock import Clock
from comms.deliver import queue
from comms.errors import Refused
from comms.kinds import TriggeredKind
from comms.problems import Problem, ValidationFailed
from comms.service import Service
from comms.store.editions import due_for_sending, find_edition
from comms.store.models import Edition, EditionStatus

# The team may stop an edition until its audience is in the message ledger.
_HOLDABLE = (EditionStatus.DRAFT, EditionStatus.APPROVED)
_DISCARDABLE = (EditionStatus.DRAFT, EditionStatus.APPROVED, EditionStatus.HELD)


def approve(service: Service, key: str, by: str, now: datetime) -> Edition:
    """draft → approved: released for its planned send."""
    with service.db.session() as session:
        edition = find_edition(session, key)
        if edition.status != EditionStatus.DRAFT:
            reason = f": {edition.status_reason}" if edition.status_reason else ""
            problem = Problem(key, f"only a draft can be approved; this edition is {edition.status}{reason}")
            raise ValidationFailed([problem])
        edition.status, edition.approved_at, edition.approved_by = EditionStatus.APPROVED, now, by
        return edition


def hold(service: Service, key: str, by: str, reason: str) -> Edition:
    """draft or approved → held: it does not go out until it is rebuilt (and approved again)."""
    if not reason.strip():
        raise ValidationFailed([Problem(key, "say why the edition is held")])
    why = f"held by {by}: {reason.strip()}"
    return _withdraw(service, key, EditionStatus.HELD, why, _HOLDABLE, "a draft or an approved edition")


def discard(service: Service, key: str, by: str) -> Edition:
    """draft, approved or held → cancelled: it does not go out."""
    allowed = "a draft, an approved or a held edition"
    return _withdraw(service, key, EditionStatus.CANCELLED, f"discarded by {by}", _DISCARDABLE, allowed)


def _withdraw(
    service: Service,
    key: str,
    status: EditionStatus,
    why: str,
    allowed: tuple[EditionStatus, ...],
    allowed_text: str,
) -> Edition:
    with service.db.session() as session:
        edition = find_edition(session, key)
        if edition.status not in allowed:
            action = "held" if status == EditionStatus.HELD else "discarded"
            raise Refused(f"{key} is {edition.status}; only {allowed_text} can be {action}")
        kinds.find(edition.kind).on_withdrawn(session, edition)
        edition.status, edition.status_reason = status, why
        return edition


def schedule_send(service: Service, key: str, send_at: datetime, schedule: str | None = None) -> Edition:
    """Plan when an edition goes out (and which schedule planned it); approving releases it then."""
    with service.db.session() as session:
        edition = find_edition(session, key)
        if edition.status in (EditionStatus.SENDING, EditionStatus.SENT):
            raise Refused(f"{key} is {edition.status}; its send time cannot change")
        edition.send_at = send_at
        if schedule is not None:
            edition.schedule = schedule
        return edition


def start_sending(service: Service, key: str, clock: Clock) -> Edition:
    """approved → sending: the audience is snapshotted into the message ledger, once.

    From here any worker may deliver it. Refuses (ValidationFailed) anything not approved.
    """
    with service.db.session() as session:
        edition = find_edition(session, key)
        check_sendable(edition)
        if edition.status == EditionStatus.APPROVED:
            kind = kinds.find(edition.kind)
            queue.snapshot(session, edition.id, kind.key, kind.audience_clause(service, edition))
            edition.status, edition.sending_at = EditionStatus.SENDING, clock.now()
            if isinstance(kind, TriggeredKind):
                kind.on_started(session, edition, clock.now())
        return edition


def start_due(service: Service, kind: TriggeredKind, clock: Clock) -> list[str]:
    """Start every approved edition of the kind whose planned time has come; returns their keys.

    One the kind no longer wants (a survey that closed meanwhile) is cancelled, with the reason.
    """
    now = clock.now()
    with service.db.session() as session:
        keys = due_for_sending(session, kind.key, now)
    started = []
    for key in keys:
        with service.db.session() as session:
            edition = find_edition(session, key)
            reason = kind.cancel_reason(edition, now)
            if reason is not None:
                edition.status, edition.status_reason = EditionStatus.CANCELLED, reason
        if reason is None:
            start_sending(service, key, clock)
            started.append(key)
    return started


def check_sendable(edition: Edition) -> None:
    if edition.status in (EditionStatus.APPROVED, EditionStatus.SENDING):
        return
    why = {
        EditionStatus.DRAFT: f"it is a draft that nobody approved yet (run: comms approve {edition.key})",
        EditionStatus.HELD: f"it is held: {edition.status_reason}",
        EditionStatus.CANCELLED: "it was cancelled",
    }.get(EditionStatus(edition.status), edition.status)
    raise ValidationFailed([Problem(edition.key, f"not sent: {why}")])
