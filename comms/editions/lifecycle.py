"""The life of any edition, whatever its kind: draft → approved → sending → sent, or held or
discarded, and the planned send time.

Each step checks the state it starts from and refuses (ValidationFailed, Refused) anything
else, so no front end can move an edition past a step: an unapproved edition is never sent.
Each step also checks who takes it (editions.team) and writes the audit log in the same
transaction as the change.
What differs per kind (its audience, who is skipped, what happens once it started) the
edition's kind answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from comms import kinds
from comms.clock import Clock
from comms.dates import utcnow
from comms.deliver import queue
from comms.editions.team import check_actor, check_four_eyes
from comms.errors import Refused
from comms.kinds import TriggeredKind
from comms.problems import Problem, ValidationFailed
from comms.reasons import Reason
from comms.service import Service
from comms.store import audit
from comms.store.actors import UNKNOWN_ACTOR, schedule_actor
from comms.store.audit import AuditAction
from comms.store.database import rows_changed
from comms.store.editions import audience_size, current_revision, due_for_sending, find_edition
from comms.store.models import Edition, EditionStatus

# The team may stop an edition until its audience is in the message ledger.
_HOLDABLE = (EditionStatus.DRAFT, EditionStatus.APPROVED)
_DISCARDABLE = (EditionStatus.DRAFT, EditionStatus.APPROVED, EditionStatus.HELD)
# Contacts copied into the message ledger per transaction when sending starts (PostgreSQL:
# about 0.5 s each); an audience up to this size is complete when `start_sending` returns.
LEDGER_BATCH = 50_000


def approve(service: Service, key: str, by: str, now: datetime) -> Edition:
    """draft → approved: the current revision is released for its planned send (not earlier:
    that is `start_early`). With [approval] four_eyes, not by whoever built or changed it."""
    with service.db.session() as session:
        check_actor(session, by, AuditAction.APPROVE)
        edition = find_edition(session, key)
        if edition.status != EditionStatus.DRAFT:
            reason = f": {edition.status_reason}" if edition.status_reason else ""
            problem = Problem(key, f"only a draft can be approved; this edition is {edition.status}{reason}")
            raise ValidationFailed([problem])
        if service.config.approval.four_eyes:
            check_four_eyes(edition, by)
        edition.status, edition.approved_at, edition.approved_by = EditionStatus.APPROVED, now, by
        revision = current_revision(session, edition)
        if revision is not None:
            revision.approved_at, revision.approved_by = now, by
        audit.record(session, now, by, AuditAction.APPROVE, key, f"versie {edition.revision}")
        return edition


def hold(service: Service, key: str, by: str, reason: str, now: datetime | None = None) -> Edition:
    """draft or approved → held: it does not go out until it is rebuilt (and approved again)."""
    if not reason.strip():
        raise ValidationFailed([Problem(key, "say why the edition is held")])
    why = Reason(f"held by {by}: {reason.strip()}", f"aangehouden door {by}: {reason.strip()}")
    step = _Withdrawal(EditionStatus.HELD, AuditAction.HOLD, _HOLDABLE, "a draft or an approved edition")
    return _withdraw(service, key, by, why, step, now, f"reden: {reason.strip()}")


def discard(service: Service, key: str, by: str, now: datetime | None = None) -> Edition:
    """draft, approved or held → cancelled: it does not go out, and no schedule builds it again
    (a person may: `comms newsletter build --month`)."""
    allowed = "a draft, an approved or a held edition"
    step = _Withdrawal(EditionStatus.CANCELLED, AuditAction.DISCARD, _DISCARDABLE, allowed)
    return _withdraw(
        service, key, by, Reason(f"discarded by {by}", f"vervallen verklaard door {by}"), step, now
    )


@dataclass(frozen=True, slots=True)
class _Withdrawal:
    status: EditionStatus
    action: AuditAction
    allowed: tuple[EditionStatus, ...]
    allowed_text: str


def _withdraw(
    service: Service,
    key: str,
    by: str,
    why: Reason,
    step: _Withdrawal,
    now: datetime | None,
    detail: str = "",
) -> Edition:
    with service.db.session() as session:
        check_actor(session, by, step.action)
        edition = find_edition(session, key)
        if edition.status not in step.allowed:
            done = "held" if step.status == EditionStatus.HELD else "discarded"
            raise Refused(f"{key} is {edition.status}; only {step.allowed_text} can be {done}")
        kinds.find(edition.kind).on_withdrawn(session, edition)
        edition.set_status(step.status, why)
        audit.record(session, now or utcnow(), by, step.action, key, detail)
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


def start_sending(
    service: Service,
    key: str,
    clock: Clock,
    by: str | None = None,
    *,
    early: bool = False,
    batch: int = LEDGER_BATCH,
) -> Edition:
    """approved → sending: the audience goes into the message ledger, once.

    The first `batch` contacts are copied in this same transaction, which for most audiences
    is all of them; a larger audience is completed by `prepare_ledger`, which whoever delivers
    the edition runs first (a worker, `comms serve`, `comms send`). So a scheduler job or a
    console request that starts a national mailing takes as long as one batch, not a million.
    From here any worker may deliver it. Refuses (ValidationFailed) anything not approved.
    `by` is logged (a schedule: "schema:<name>"); `early` logs it as sent before its time.
    """
    with service.db.session() as session:
        edition = find_edition(session, key)
        check_sendable(edition)
        if edition.status == EditionStatus.APPROVED:
            kind = kinds.find(edition.kind)
            count = audience_size(session, kind.audience_clause(service, edition))
            edition.status, edition.sending_at = EditionStatus.SENDING, clock.now()
            edition.ledger_through = 0
            action = AuditAction.SEND_EARLY if early else AuditAction.SEND_START
            detail = f"versie {edition.revision}, {count} ontvanger" + ("" if count == 1 else "s")
            audit.record(session, clock.now(), by or UNKNOWN_ACTOR, action, key, detail)
            _add_batch(service, session, edition, batch)
        return edition


def prepare_ledger(service: Service, key: str, batch: int = LEDGER_BATCH) -> None:
    """Complete the ledger of an edition that started sending: the rest of its audience, in
    batches of `batch` contacts (by id), each committed with the point it reached.

    Killed halfway, it loses at most the batch in hand, and the next run goes on from the
    last one committed: nobody is skipped, and the (edition, contact) constraint with ON
    CONFLICT DO NOTHING keeps anyone from being queued twice. Several processes may run it at
    once: each batch first locks the edition's row, so they take turns.
    """
    while True:
        with service.db.session() as session:
            edition = find_edition(session, key)
            # A write first: it locks the row (PostgreSQL) or the database (SQLite) before the
            # point reached is read, so two preparers never copy the same batch at once.
            locked = session.execute(
                update(Edition)
                .where(Edition.id == edition.id, Edition.ledger_through.is_not(None))
                .values(ledger_through=Edition.ledger_through)
            )
            if not rows_changed(locked):
                return
            session.refresh(edition)
            if not edition.is_being_prepared or not _add_batch(service, session, edition, batch):
                return


def _add_batch(service: Service, session: Session, edition: Edition, batch: int) -> bool:
    """The next batch of the audience into the ledger; False once it is complete (and then
    the kind is told it started: a survey notes whom it invited)."""
    after = edition.ledger_through or 0
    through = queue.range_end(session, after, batch)
    kind = kinds.find(edition.kind)
    if through is not None:
        queue.snapshot(session, edition.id, kind.key, kind.audience_clause(service, edition), after, through)
        edition.ledger_through = through
        if queue.range_end(session, through, 1) is not None:
            return True
    edition.ledger_through = None
    if isinstance(kind, TriggeredKind):
        kind.on_started(session, edition, edition.sending_at or utcnow())
    return False


def start_due(service: Service, kind: TriggeredKind, clock: Clock, by: str | None = None) -> list[str]:
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
                edition.set_status(EditionStatus.CANCELLED, reason)
        if reason is None:
            start_sending(service, key, clock, by or schedule_actor(kind.key))
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
