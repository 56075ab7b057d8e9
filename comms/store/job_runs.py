"""The job-run ledger: each planned run of a scheduled job happens at most once.

APScheduler's job store says when a job is due next; it is updated after the job ran,
so a leader that dies mid-run leaves the run due again for its successor. This ledger
decides: a run that finished is never repeated; a run left unfinished by a runner that
is gone is finished by the new leader (every step is idempotent: a rebuild of a draft,
a send that resumes from the message ledger).

A run cut short because the database went away is not a failure of the job: it is
`retrying` with a time to try again, and whichever process leads then runs it (the
ledger, not APScheduler's store, remembers it: the store has moved on to the next run).
A runner renews the heartbeat of its run while the step runs, so a successor can tell a
run in progress elsewhere from one whose runner is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.exc import IntegrityError

from comms.store.database import Database
from comms.store.models import JobRun, JobRunOutcome
from comms.store.owners import died_on_this_host, worker_name


@dataclass(frozen=True, slots=True)
class RunKey:
    schedule: str
    step: str
    planned_for: datetime

    def __str__(self) -> str:
        return f"{self.schedule}:{self.step}@{self.planned_for:%Y-%m-%dT%H:%MZ}"


@dataclass(frozen=True, slots=True)
class Unfinished:
    """A run the leader should (re)run now: retrying and due, or left by a runner that is gone."""

    key: RunKey
    edition_key: str | None


def begin(
    db: Database, key: RunKey, now: datetime, heartbeat_expiry: timedelta, edition_key: str | None = None
) -> int | None:
    """Claim the run; its id, or None when it already ran, runs elsewhere, or waits for its retry time."""
    runner = worker_name()
    try:
        with db.session() as session:
            run = JobRun(
                schedule=key.schedule,
                step=key.step,
                planned_for=key.planned_for,
                started_at=now,
                heartbeat_at=now,
                runner=runner,
                outcome=JobRunOutcome.RUNNING,
                edition_key=edition_key,
                attempts=1,
            )
            session.add(run)
            session.flush()
            return run.id
    except IntegrityError:
        pass
    with db.session() as session:
        run = session.scalars(_find(key).with_for_update()).one()
        if run.outcome == JobRunOutcome.RETRYING and (run.retry_at is None or run.retry_at <= now):
            why = f"attempt {run.attempts + 1} (earlier: {run.detail})"
        elif run.outcome == JobRunOutcome.RUNNING and owner_gone(run, now, heartbeat_expiry):
            why = f"taken over from {run.runner}"
        else:
            return None
        run.runner, run.started_at, run.heartbeat_at, run.detail = runner, now, now, why
        run.outcome, run.retry_at, run.attempts = JobRunOutcome.RUNNING, None, run.attempts + 1
        return run.id


def owner_gone(run: JobRun, now: datetime, heartbeat_expiry: timedelta) -> bool:
    """The runner of a `running` run will not finish it: its process is gone from this host, or
    it stopped renewing the heartbeat (the only sign another host gives)."""
    if run.runner != worker_name() and died_on_this_host(run.runner):
        return True
    return (run.heartbeat_at or run.started_at) < now - heartbeat_expiry


def beat(db: Database, run_id: int, now: datetime) -> None:
    """Renew the heartbeat of a run this process runs."""
    with db.session() as session:
        session.execute(
            update(JobRun)
            .where(
                JobRun.id == run_id, JobRun.runner == worker_name(), JobRun.outcome == JobRunOutcome.RUNNING
            )
            .values(heartbeat_at=now)
        )


def finish(
    db: Database, run_id: int, outcome: JobRunOutcome, detail: str, now: datetime, edition: str | None = None
) -> bool:
    """Record how the run ended; False (nothing written) when another runner took it over meanwhile."""
    with db.session() as session:
        run = session.get_one(JobRun, run_id, with_for_update=True)
        if run.runner != worker_name() or run.outcome != JobRunOutcome.RUNNING:
            return False
        run.outcome, run.detail, run.finished_at = outcome, detail, now
        run.edition_key = edition or run.edition_key
        return True


def retry_later(db: Database, run_id: int, detail: str, now: datetime, at: datetime) -> bool:
    """The run was cut short by the database: try it again at `at` (False: taken over meanwhile)."""
    with db.session() as session:
        run = session.get_one(JobRun, run_id, with_for_update=True)
        if run.runner != worker_name() or run.outcome != JobRunOutcome.RUNNING:
            return False
        run.outcome, run.detail, run.retry_at, run.finished_at = JobRunOutcome.RETRYING, detail, at, now
        return True


def attempts(db: Database, run_id: int) -> int:
    with db.session() as session:
        return session.get_one(JobRun, run_id).attempts


def unfinished(db: Database, now: datetime, heartbeat_expiry: timedelta) -> list[Unfinished]:
    """Runs to (re)run now, oldest first: retries that are due, and runs whose runner is gone."""
    with db.session() as session:
        runs = session.scalars(
            select(JobRun)
            .where(
                or_(
                    (JobRun.outcome == JobRunOutcome.RETRYING) & (JobRun.retry_at <= now),
                    JobRun.outcome == JobRunOutcome.RUNNING,
                )
            )
            .order_by(JobRun.planned_for, JobRun.id)
        ).all()
        return [
            Unfinished(RunKey(r.schedule, r.step, r.planned_for), r.edition_key)
            for r in runs
            if r.outcome == JobRunOutcome.RETRYING or owner_gone(r, now, heartbeat_expiry)
        ]


def next_retry(db: Database) -> datetime | None:
    """When the earliest waiting retry is due (None: none waits)."""
    with db.session() as session:
        return session.scalar(
            select(JobRun.retry_at).where(JobRun.outcome == JobRunOutcome.RETRYING).order_by(JobRun.retry_at)
        )


def record_missed(db: Database, key: RunKey, now: datetime, detail: str) -> bool:
    """Note a run that was not made; False when the run is already in the ledger."""
    try:
        with db.session() as session:
            session.add(
                JobRun(
                    schedule=key.schedule,
                    step=key.step,
                    planned_for=key.planned_for,
                    started_at=now,
                    finished_at=now,
                    runner=worker_name(),
                    outcome=JobRunOutcome.MISSED,
                    detail=detail,
                )
            )
        return True
    except IntegrityError:
        return False


def recent(db: Database, limit: int = 50) -> list[JobRun]:
    with db.session() as session:
        return list(session.scalars(select(JobRun).order_by(JobRun.planned_for.desc()).limit(limit)))


def _find(key: RunKey) -> Select[Any]:
    return select(JobRun).where(
        JobRun.schedule == key.schedule, JobRun.step == key.step, JobRun.planned_for == key.planned_for
    )
