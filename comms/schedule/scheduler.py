"""APScheduler 3 wired for comms: jobs in the service's database, run by our own loop.

Choices made on purpose:
- The job store is the service's database (SQLAlchemyJobStore on `apscheduler_jobs`,
  created by our migrations), so a restart or a new leader knows what was due.
- `misfire_grace_time` of a job is its schedule's staleness limit: a run that is
  later than that is reported and skipped, never sent late by surprise.
- `coalesce` is off, so the executor sees *every* missed run time: it runs only the
  newest one that is still within grace (coalescing, done here) and reports each older
  one, where APScheduler's own coalescing would drop them without a word.
- The executor runs the job in the scheduler's thread and hands it the planned run
  time, which APScheduler does not pass to job functions; jobs are short (the workers
  deliver), so nothing waits behind them for long.
- Only the leader touches the job store (`GuardedJobStore`): a process that lost its lock
  runs no step and moves no job, so the new leader finds the run still due.
- `tick()` instead of a scheduler thread: `comms serve` decides when to wake (and steps
  down when leadership is lost), and tests drive it with a fake clock, without sleeping.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.base import BaseExecutor
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.date import DateTrigger

from comms.dates import AMSTERDAM
from comms.reasons import Reason
from comms.schedule import jobs
from comms.schedules import Schedule
from comms.store.database import database_away

log = logging.getLogger(__name__)
JOB_FUNCTION = "comms.schedule.jobs:run_step"


class SteppedScheduler(BaseScheduler):
    """A scheduler without a thread of its own: `tick()` runs what is due."""

    def __init__(self, **options: object):
        self._woken = threading.Event()
        super().__init__(**options)

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)  # abstract in BaseScheduler only to make subclasses think about it

    def wakeup(self) -> None:
        self._woken.set()  # a job was added or changed: the serve loop should tick soon

    def tick(self) -> float | None:
        """Run every due job; seconds until the next one is due (None: nothing planned)."""
        self._woken.clear()
        return self._process_jobs()

    def wait(self, seconds: float, stop: threading.Event) -> None:
        """Until `seconds` pass, a job is added, or `stop` is set."""
        deadline = datetime.now(UTC) + timedelta(seconds=seconds)
        while not stop.is_set() and not self._woken.is_set():
            left = (deadline - datetime.now(UTC)).total_seconds()
            if left <= 0:
                return
            stop.wait(min(left, 0.5))


class GuardedJobStore(SQLAlchemyJobStore):
    """The job store as only the leader may use it. APScheduler moves a job to its next run
    time right after running it, whatever happened; so a process that no longer leads finds
    nothing due and moves nothing (the new leader finds the run still due), and a job whose run
    could not even be claimed because the database was away stays due (`hold_back`)."""

    def __init__(self, leads: Callable[[], bool], **options: object):
        super().__init__(**options)
        self.leads = leads
        self.held_back: set[str] = set()

    def get_due_jobs(self, now: datetime) -> list[Job]:
        return super().get_due_jobs(now) if self.leads() else []

    def update_job(self, job: Job) -> None:
        if self._keep(job.id):
            super().update_job(job)

    def remove_job(self, job_id: str) -> None:
        if self._keep(job_id):
            super().remove_job(job_id)

    def hold_back(self, job_id: str) -> None:
        self.held_back.add(job_id)

    def _keep(self, job_id: str) -> bool:
        if job_id in self.held_back:
            self.held_back.discard(job_id)
            log.warning("job %s stays due: its run could not be claimed", job_id)
            return False
        if not self.leads():
            log.warning("job %s left as it is: this process no longer leads", job_id)
            return False
        return True


class LedgerExecutor(BaseExecutor):
    """Runs a job in the calling thread with its planned time; reports what is too late."""

    def __init__(self, context: jobs.JobContext, store: GuardedJobStore):
        super().__init__()
        self.context = context
        self.store = store

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        if not self.context.leads():  # fenced: no step, no report; the new leader does both
            self._run_job_success(job.id, [])
            return
        now = self.context.clock.now()
        grace = timedelta(seconds=job.misfire_grace_time) if job.misfire_grace_time is not None else None
        schedule_name, step = job.args[0], job.args[1]
        schedule = self.context.schedules.get(schedule_name)
        due = [t for t in run_times if grace is None or now - t <= grace]
        events: list[JobExecutionEvent] = []
        for run_time in run_times:
            if due and run_time == due[-1]:
                continue
            why = (
                Reason(
                    f"{_late(now - run_time)} late, beyond the staleness limit of {_late(grace)}",
                    f"{jobs.late_text(now - run_time)} te laat, langer dan de toegestane "
                    f"{jobs.late_text(grace) if grace else 'tijd'}",
                )
                if run_time not in due
                else Reason(
                    "a later run of the same job was due as well; only that one was run",
                    "een latere uitvoering van dezelfde taak was ook aan de beurt; alleen die is uitgevoerd",
                )
            )
            if schedule is not None:
                jobs.report_missed(self.context, schedule, step, run_time, why)
            events.append(JobExecutionEvent(EVENT_JOB_MISSED, job.id, job._jobstore_alias, run_time))
        if due:
            events.append(self._run(job, due[-1]))
        self._run_job_success(job.id, events)

    def _run(self, job: Job, run_time: datetime) -> JobExecutionEvent:
        try:
            job.func(*job.args, planned_for=run_time.astimezone(UTC), **job.kwargs)
        except Exception as exc:  # run_step catches its own; this is a last resort
            if database_away(exc):  # not even claimed (or not recorded): keep it due
                self.store.hold_back(job.id)
                log.warning("job %s not run: database unavailable (%s)", job.id, exc)
            else:
                log.exception("job %s raised", job.id)
            return JobExecutionEvent(EVENT_JOB_ERROR, job.id, job._jobstore_alias, run_time, exception=exc)
        return JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, job._jobstore_alias, run_time)


def make_scheduler(context: jobs.JobContext) -> SteppedScheduler:
    store = GuardedJobStore(context.leads, engine=context.service.db.engine, tablename="apscheduler_jobs")
    return SteppedScheduler(
        jobstores={"default": store},
        executors={"default": LedgerExecutor(context, store)},
        timezone=AMSTERDAM,
    )


def job_id(schedule: Schedule, step: str) -> str:
    return f"{schedule.name}:{step}"


def sync_jobs(scheduler: SteppedScheduler, schedules: Iterable[Schedule]) -> list[str]:
    """Make the job store match the schedule files; returns what changed, for the log.

    A job whose schedule did not change is left alone, with its stored next run time:
    replacing it would compute the next run from now and silently skip a run that came
    due while the service was down. A changed schedule starts afresh from now.
    """
    changes: list[str] = []
    wanted: set[str] = set()
    existing = {job.id: job for job in scheduler.get_jobs()}
    for schedule in schedules:
        for step in schedule.steps:
            ident, name = job_id(schedule, step), f"{schedule.name}:{step}@{schedule.fingerprint}"
            wanted.add(ident)
            current = existing.get(ident)
            if current is not None and current.name == name:
                continue
            scheduler.add_job(
                JOB_FUNCTION,
                trigger=schedule.trigger(step),
                args=[schedule.name, str(step)],  # plain values: the job store pickles them
                id=ident,
                name=name,
                misfire_grace_time=int(schedule.stale_after(step).total_seconds()),
                coalesce=False,
                max_instances=1,
                replace_existing=True,
            )
            changes.append(f"{'changed' if current else 'added'} {ident}")
    for ident, job in existing.items():
        reminder = ident.split(":")[1:2] == [jobs.APPROVAL_DEADLINE]
        if ident not in wanted and not reminder:
            scheduler.remove_job(job.id)
            changes.append(f"removed {ident}")
    return changes


def reminder_adder(scheduler: SteppedScheduler) -> Callable[[Schedule, str, datetime], None]:
    """The function the build step calls to plan its approval reminder, as a one-off job."""

    def add(schedule: Schedule, edition_key: str, at: datetime) -> None:
        send_at = at + schedule.approval_deadline
        scheduler.add_job(
            JOB_FUNCTION,
            trigger=DateTrigger(at, timezone=AMSTERDAM),
            args=[schedule.name, str(jobs.APPROVAL_DEADLINE)],
            kwargs={"edition_key": edition_key},
            id=f"{schedule.name}:{jobs.APPROVAL_DEADLINE}:{edition_key}",
            # Still worth a reminder until the send itself; after that the send step reports.
            misfire_grace_time=max(int((send_at - at).total_seconds()), 1),
            coalesce=False,
            replace_existing=True,
        )

    return add


def _late(delta: timedelta | None) -> str:
    if delta is None:
        return "unlimited"
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
