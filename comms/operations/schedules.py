"""The scheduled jobs (schedules/*.toml) and what the scheduler did with them."""

from __future__ import annotations

from datetime import datetime

from comms.config import Config
from comms.problems import Problem
from comms.schedules import Schedule, schedules_of
from comms.service import Service
from comms.store import job_runs
from comms.store.models import JobRun

__all__ = ["Schedule", "recent_runs", "schedules"]


def schedules(config: Config, now: datetime | None = None) -> tuple[list[Schedule], list[Problem]]:
    """The valid schedules and every problem, checked as `comms check` does (no database)."""
    return schedules_of(config, now)


def recent_runs(service: Service, limit: int = 50) -> list[JobRun]:
    """Each planned run the scheduler recorded, newest first, and its outcome."""
    return job_runs.recent(service.db, limit)
