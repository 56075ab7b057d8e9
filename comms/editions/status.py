"""An edition's status with its ledger counts: what `comms status`, the scheduler's jobs and the
console show. Apart from comms.editions.views so that `comms status` loads the ledger queries
only, not the renderer and the transports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from comms.reasons import Reason
from comms.store.editions import find_edition
from comms.store.models import Edition, EditionStatus, Message, MessageStatus

if TYPE_CHECKING:
    from comms.service import Service


@dataclass(frozen=True, slots=True)
class EditionStatusReport:
    key: str
    subject: str
    status: EditionStatus
    reason: Reason | None  # why it is held or cancelled
    built_at: datetime
    counts: dict[str, int]
    failures: list[tuple[str, int]]
    kind: str = ""
    send_at: datetime | None = None  # the planned send, once planned
    # Handed to the relay without a verdict: perhaps delivered (retried once, much later).
    uncertainties: tuple[tuple[str, int], ...] = ()
    sent_at: datetime | None = None  # when it started going out

    def is_current(self, now: datetime) -> bool:
        """Still to be dealt with, or sent recently: what `comms status` lists by default."""
        if not self.status.is_finished:
            return True
        return self.status is EditionStatus.SENT and (self.sent_at or self.built_at) >= now - RECENTLY

    @property
    def timeline_moment(self) -> datetime | None:
        """Where it stands in time: its planned send, else when it went out; None: not planned."""
        return self.send_at or self.sent_at


RECENTLY = timedelta(days=30)  # sent editions `comms status` still lists


@dataclass(frozen=True, slots=True)
class StatusListing:
    shown: list[EditionStatusReport]  # by planned time
    left_out: int  # finished editions not listed (sent before RECENTLY, or discarded)


def _in_time(report: EditionStatusReport) -> tuple[bool, datetime, str]:
    """By planned time; those without one last, by their build."""
    moment = report.timeline_moment
    return (moment is None, moment or report.built_at, report.key)


def listing(service: Service, now: datetime, everything: bool = False) -> StatusListing:
    """The editions to look at now, by planned time (unplanned ones last): every unfinished one
    and those sent in the last 30 days (`everything`: all of them)."""
    reports = status(service)
    shown = sorted((r for r in reports if everything or r.is_current(now)), key=_in_time)
    return StatusListing(shown, len(reports) - len(shown))


def status(service: Service, key: str | None = None) -> list[EditionStatusReport]:
    """One edition, or every edition (newest build first), with its ledger counts."""
    with service.db.session() as session:
        if key:
            editions = [find_edition(session, key)]
        else:
            editions = list(session.scalars(select(Edition).order_by(Edition.built_at.desc())))
        counts = _ledger_counts(session, [e.id for e in editions])
        return [_report(session, e, counts.get(e.id, {})) for e in editions]


def _ledger_counts(session: Session, edition_ids: list[int]) -> dict[int, dict[str, int]]:
    """Messages by edition and status, in one query for all of them."""
    found: dict[int, dict[str, int]] = {}
    query = (
        select(Message.edition_id, Message.status, func.count())
        .where(Message.edition_id.in_(edition_ids))
        .group_by(Message.edition_id, Message.status)
    )
    for edition_id, state, n in session.execute(query):
        found.setdefault(edition_id, {})[state] = n
    return found


def _report(session: Session, e: Edition, found: dict[str, int]) -> EditionStatusReport:
    counts = {state.value: found.get(state.value, 0) for state in MessageStatus}
    failures: list[tuple[str, int]] = []
    uncertainties: list[tuple[str, int]] = []
    if counts[MessageStatus.FAILED] or counts[MessageStatus.UNCERTAIN]:
        # Only an edition with failures loads the delivery queue (and its renderer) for the reasons.
        from comms.deliver import queue

        failures = queue.failure_reasons(session, e.id)
        uncertainties = queue.failure_reasons(session, e.id, status=MessageStatus.UNCERTAIN)
    return EditionStatusReport(
        e.key,
        e.subject,
        EditionStatus(e.status),
        e.reason,
        e.built_at,
        counts,
        failures,
        e.kind,
        e.send_at,
        tuple(uncertainties),
        e.sending_at or e.sent_at,
    )
