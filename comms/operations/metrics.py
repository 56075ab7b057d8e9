"""What /metrics reports, read from the database at scrape time: the message ledger by kind and
state, the send rate, the queue, the webhook's lag and the scheduler's job runs.

Every figure comes from a grouped query (a handful of rows, whatever the ledger's size) or an
indexed max/min, so a scrape stays cheap at a million messages and every process (web, worker,
scheduler) reports the same numbers. Series are filled with zeros for every known kind and
state, so a dashboard sees 0 rather than a missing series.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from comms import kinds
from comms.service import Service
from comms.store.models import DeliveryEvent, Edition, JobRun, JobRunOutcome, Message, MessageStatus

RATE_WINDOW = timedelta(minutes=5)
# Waiting to go out: not yet taken, taken by a worker, or failed/uncertain with a retry planned.
_QUEUED = (MessageStatus.PENDING, MessageStatus.CLAIMED)
_RETRYABLE = (MessageStatus.FAILED, MessageStatus.UNCERTAIN)


@dataclass(frozen=True)
class Snapshot:
    """The figures of one scrape; dicts keyed by label values."""

    messages: dict[tuple[str, str], int]  # (kind, state) → messages
    sent_recently: dict[str, int]  # kind → messages sent in the last RATE_WINDOW
    queue_depth: dict[str, int]  # kind → pending + claimed + retries waiting
    job_runs: dict[tuple[str, str, str], int]  # (schedule, step, outcome) → runs
    job_last_run: dict[tuple[str, str], float]  # (schedule, step) → unix time of the latest start
    webhook_last_batch_at: float | None = None  # unix time the latest post was received
    webhook_lag_seconds: float = 0.0  # its oldest event's age when it was applied
    kinds: tuple[str, ...] = field(default=())

    def sent_total(self, kind: str) -> int:
        return self.messages.get((kind, MessageStatus.SENT.value), 0)

    def send_rate(self, kind: str) -> float:
        """Messages per second over the last RATE_WINDOW."""
        return self.sent_recently.get(kind, 0) / RATE_WINDOW.total_seconds()


def snapshot(service: Service, now: datetime) -> Snapshot:
    with service.db.session() as session:
        by_edition = _messages_by_edition(session)
        kind_of = {edition_id: kind for edition_id, kind in session.execute(select(Edition.id, Edition.kind))}
        known = tuple(sorted(set(kinds.all_keys()) | set(kind_of.values())))
        messages = {(kind, state.value): 0 for kind in known for state in MessageStatus}
        queue = dict.fromkeys(known, 0)
        for (edition_id, status), count in by_edition.items():
            kind = kind_of[edition_id]
            messages[(kind, status)] = messages.get((kind, status), 0) + count
            if status in _QUEUED:
                queue[kind] += count
        for kind, count in _retries_waiting(session):
            queue[kind] += count
        recent = dict.fromkeys(known, 0) | dict(_sent_since(session, now - RATE_WINDOW))
        runs, last_runs = _job_runs(session)
        last_batch_at, lag = _webhook_lag(session)
    return Snapshot(messages, recent, queue, runs, last_runs, last_batch_at, lag, known)


def _messages_by_edition(session: Session) -> dict[tuple[int, str], int]:
    # Grouped on (edition_id, status), which ix_messages_queue covers: an index scan, no sort.
    rows = session.execute(
        select(Message.edition_id, Message.status, func.count()).group_by(Message.edition_id, Message.status)
    )
    return {(edition_id, status): count for edition_id, status, count in rows}


def _retries_waiting(session: Session) -> list[tuple[str, int]]:
    rows = session.execute(
        select(Edition.kind, func.count())
        .join(Message, Message.edition_id == Edition.id)
        .where(Message.status.in_(_RETRYABLE), Message.retry_at.is_not(None))
        .group_by(Edition.kind)
    )
    return [(kind, count) for kind, count in rows]


def _sent_since(session: Session, since: datetime) -> list[tuple[str, int]]:
    # ix_messages_sent_at: only the last few minutes' rows are read.
    rows = session.execute(
        select(Edition.kind, func.count())
        .join(Message, Message.edition_id == Edition.id)
        .where(Message.sent_at >= since, Message.status == MessageStatus.SENT)
        .group_by(Edition.kind)
    )
    return [(kind, count) for kind, count in rows]


def _job_runs(session: Session) -> tuple[dict[tuple[str, str, str], int], dict[tuple[str, str], float]]:
    # max() keeps the column's type: aware UTC datetimes on SQLite as on PostgreSQL.
    last_start = func.max(JobRun.started_at)
    rows = session.execute(
        select(JobRun.schedule, JobRun.step, JobRun.outcome, func.count(), last_start).group_by(
            JobRun.schedule, JobRun.step, JobRun.outcome
        )
    )
    runs: dict[tuple[str, str, str], int] = {}
    last: dict[tuple[str, str], float] = {}
    for schedule, step, outcome, count, started in rows:
        for known in JobRunOutcome:  # every outcome of a job that ran, 0 where none
            runs.setdefault((schedule, step, known.value), 0)
        runs[(schedule, step, outcome)] = count
        if started is not None:
            last[(schedule, step)] = max(last.get((schedule, step), 0.0), started.timestamp())
    return runs, last


def _webhook_lag(session: Session) -> tuple[float | None, float]:
    """When the latest post was applied, and how old its oldest event was by then. Events are
    applied while their post is answered, so this is the delay SendGrid's batching adds; a
    large value says SendGrid has been retrying (this endpoint failed or was away)."""
    latest = session.scalar(select(func.max(DeliveryEvent.received_at)))  # ix_delivery_events_received_at
    if latest is None:
        return None, 0.0
    oldest = session.scalar(
        select(func.min(DeliveryEvent.occurred_at)).where(DeliveryEvent.received_at == latest)
    )
    lag = (latest - oldest).total_seconds() if oldest is not None else 0.0
    return latest.timestamp(), max(lag, 0.0)
