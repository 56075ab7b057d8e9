"""The job-run ledger: each planned run of a scheduled job happens at most once.

APScheduler's job store says when a job is due next; it is updated after the job ran,
so a leader that dies mid-run leaves the run due again for its successor. This ledger
decides: a run that finished is never repeated; a run left unfinished by a runner that
is gone is finished by the new leader (every step is idempotent: a rebuild of a draft,
a send that resumes from the message ledger).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from comms.store.database import Database
from comms.store.models import JobRun, JobRunOutcome
from comms.store.owners import worker_name


@dataclass(frozen=True, slots=True)
class RunKey:
    schedule: str
    step: str
    planned_for: datetime

    def __str__(self) -> str:
        return f"{self.schedule}:{self.step}@{self.planned_for:%Y-%m-%dT%H:%MZ}"


def begin(db: Database, key: RunKey, now: datetime) -> int | None:
    """Claim the run; its id, or None when it already ran (or runs here right now)."""
    runner = worker_name()
    try:
        with db.session() as session:
            run = JobRun(
                schedule=key.schedule,
                step=key.step,
                planned_for=key.planned_for,
                started_at=now,
                runner=runner,
                outcome=JobRunOutcome.RUNNING,
            )
            session.add(run)
            session.flush()
            return run.id
    except IntegrityError:
        pass
    with db.session() as session:
        run = session.scalars(_find(key).with_for_update()).one()
        if run.outcome != JobRunOutcome.RUNNING or run.runner == runner:
            return None
        # Left unfinished by a leader that is gone (only the leader runs jobs): finish it.
        run.runner, run.started_at, run.detail = runner, now, f"taken over from {run.runner}"
        return run.id


def finish(
    db: Database, run_id: int, outcome: JobRunOutcome, detail: str, now: datetime, edition: str | None = None
) -> None:
    with db.session() as session:
        run = session.get_one(JobRun, run_id)
        run.outcome, run.detail, run.finished_at = outcome, detail, now
        run.edition_key = edition or run.edition_key


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
