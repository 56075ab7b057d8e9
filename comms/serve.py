"""`comms serve`: the scheduler (when leader), a delivery worker and the web app in one process.

Leadership (schedule/leadership.py) decides which of several `comms serve` runs the
schedules; the others are standby and keep trying every `leader_poll_seconds`. The leader
confirms its lock in a thread of its own and leads only within a lease of the last
confirmation; a new leader waits one lease before it leads, so two never lead at once.
The takeover time is at most `leader_poll_seconds + leader_lease_seconds`. Every one of
them delivers and serves the web app, so a standby is not idle. On SIGTERM the worker
finishes or releases its batch, the scheduler stops between jobs, and the leadership is
given up for the next one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import uvicorn
from sqlalchemy.exc import DBAPIError

from comms.clock import Clock
from comms.errors import CommsError
from comms.operations import bounces
from comms.operations.schedules import schedules
from comms.schedule import jobs
from comms.schedule.leadership import Leadership, leadership_for
from comms.schedule.scheduler import SteppedScheduler, make_scheduler, reminder_adder, sync_jobs
from comms.service import Service
from comms.store.database import database_away, database_reason
from comms.web.app import create_app
from comms.web.logs import server_arguments
from comms.worker import Worker

log = logging.getLogger(__name__)
Role = Literal["starting", "standby", "leader", "stopped"]


@dataclass
class ScheduleRunner:
    """The leader's part: keeps the job store in step with the files and runs what is due."""

    service: Service
    clock: Clock
    scheduler: SteppedScheduler | None = None
    context: jobs.JobContext | None = None
    _seen: tuple[tuple[str, float], ...] = field(default=())

    leads: Callable[[], bool] = lambda: True

    def start(self) -> None:
        self.context = jobs.JobContext(self.service, self.clock, {}, leads=self.leads)
        self.scheduler = make_scheduler(self.context)
        self.context.add_reminder = reminder_adder(self.scheduler)
        jobs.install(self.context)
        self.scheduler.start(paused=True)  # jobs are synced before anything may fire
        self.reload(force=True)
        self.scheduler.resume()

    def reload(self, force: bool = False) -> None:
        """Re-read the schedule files when they changed. A broken file changes nothing:
        the jobs stay as they were (removing them would silently drop sends)."""
        assert self.scheduler is not None and self.context is not None
        seen = self._stamp()
        if seen == self._seen and not force:
            return
        self._seen = seen
        loaded, problems = schedules(self.service.config)
        errors = [p for p in problems if p.is_error]
        if errors:
            for problem in errors:
                log.error("schedule not loaded: %s", problem)
            if self.context.schedules:
                log.error("keeping the schedules as they were until the files are fixed")
                return
        self.context.schedules = {s.name: s for s in loaded}
        for change in sync_jobs(self.scheduler, loaded):
            log.info("schedule %s", change)

    def tick(self) -> float | None:
        """Run what is due, then what the job-run ledger holds unfinished (retries, runs whose
        runner is gone); seconds until something is due next (None: nothing planned)."""
        assert self.scheduler is not None and self.context is not None
        self.reload()
        wait = self.scheduler.tick()
        retry = jobs.run_unfinished(self.context)
        if retry is None:
            return wait
        until_retry = max((retry - self.clock.now()).total_seconds(), 0.0)
        return until_retry if wait is None else min(wait, until_retry)

    def wake(self) -> None:
        if self.scheduler is not None:
            self.scheduler.wakeup()

    def stop(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        jobs.install(None)
        self.scheduler = None

    def _stamp(self) -> tuple[tuple[str, float], ...]:
        directory = self.service.config.resolve(self.service.config.schedules_dir)
        return tuple((str(p), p.stat().st_mtime) for p in sorted(Path(directory).glob("*.toml")))


class Serve:
    def __init__(
        self, service: Service, clock: Clock, stop: threading.Event, leadership: Leadership | None = None
    ):
        self.service = service
        self.clock = clock
        self.stop = stop
        settings = service.config.serve
        self.leadership = leadership or leadership_for(service.db, settings.leader_lease_seconds)
        self.role: Role = "starting"
        self.runner = ScheduleRunner(service, clock, leads=self.leadership.leads)

    def run_scheduler(self) -> None:
        """Standby until leader, then run the schedules until stopped or the lead is lost."""
        settings = self.service.config.serve
        try:
            while not self.stop.is_set():
                if not self.leadership.try_acquire():
                    self._become("standby")
                    self.stop.wait(settings.leader_poll_seconds)
                    continue
                # A leader that just lost this lock may believe it leads for one more lease.
                if self.role != "leader" and self.stop.wait(self.leadership.takeover_wait):
                    break
                if not self.leadership.confirm():
                    continue
                self._become("leader")
                try:
                    self._lead()
                except DBAPIError as exc:
                    if not database_away(exc):
                        raise
                    log.warning("database unavailable (%s); trying again", database_reason(exc))
                    self.stop.wait(settings.leader_poll_seconds)
                if not self.leadership.leads():
                    self._become("standby")
        finally:
            self.runner.stop()
            self.leadership.release()
            self._become("stopped")

    def _lead(self) -> None:
        settings = self.service.config.serve
        keeper = threading.Thread(target=self._keep_lease, name="leadership", daemon=True)
        try:
            self.runner.start()
            keeper.start()
            while not self.stop.is_set() and self.leadership.leads():
                try:
                    wait = self.runner.tick()
                except DBAPIError as exc:
                    if not database_away(exc):
                        raise
                    log.warning("database unavailable (%s); the scheduler tries again", database_reason(exc))
                    wait = settings.leader_poll_seconds
                assert self.runner.scheduler is not None
                wait = min(
                    wait if wait is not None else settings.scheduler_max_wait_seconds,
                    settings.scheduler_max_wait_seconds,
                    settings.leader_poll_seconds,
                )
                self.runner.scheduler.wait(max(wait, 0), self.stop)
            if not self.leadership.leads():
                log.error("leadership lost (lock connection gone or not confirmed); standing by")
        finally:
            self.runner.stop()
            if keeper.ident is not None:  # started
                keeper.join(timeout=5)

    def _keep_lease(self) -> None:
        """Confirm the lock three times a lease while leading; wake the loop when it is gone."""
        every = self.service.config.serve.leader_lease_seconds / 3
        while not self.stop.is_set() and self.runner.scheduler is not None:
            if not self.leadership.confirm():
                log.error("leadership lock lost; no further job step runs here")
                self.runner.wake()
                return
            self.stop.wait(every)

    def _become(self, role: Role) -> None:
        if role != self.role:
            log.info("scheduler: %s", role)
            self.role = role

    def health(self) -> dict[str, str]:
        # A lost lock shows at once, even while the loop is still busy with a step.
        role = self.role
        return {"scheduler": "standby" if role == "leader" and not self.leadership.leads() else role}


def run_service(
    service: Service,
    clock: Clock,
    stop: threading.Event,
    host: str | None = None,
    port: int | None = None,
    with_worker: bool = True,
) -> None:
    """`comms serve`: the web app and a delivery worker in threads, the scheduler in this one,
    until `stop` is set (SIGTERM); then each finishes what it has in hand."""
    process = Serve(service, clock, stop)
    settings = service.config.serve
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(service, clock, process.health),
            host=host or settings.host,
            port=port or settings.port,
            log_level="warning",
            **server_arguments(),  # no token in any log line (comms/web/logs.py)
        )
    )
    threads = [threading.Thread(target=server.run, name="web", daemon=True)]
    if with_worker:
        threads.append(
            threading.Thread(target=_deliver, args=(Worker(service, clock, stop), stop), name="worker")
        )
    if service.config.bounces.reads_mailbox:
        threads.append(threading.Thread(target=_read_bounces, args=(service, clock, stop), name="bounces"))
    for thread in threads:
        thread.daemon = True
        thread.start()
    try:
        process.run_scheduler()
    finally:
        stop.set()
        server.should_exit = True
        for thread in threads:
            thread.join(timeout=60)


def _deliver(worker: Worker, stop: threading.Event) -> None:
    try:
        worker.run(exit_when_idle=False)
    except Exception:  # the whole process stops, so its supervisor restarts it whole
        log.exception("the delivery worker stopped; stopping")
        stop.set()


def _read_bounces(service: Service, clock: Clock, stop: threading.Event) -> None:
    """The bounce mailbox every `[bounces] poll_seconds`. A mailbox or database that is away
    is logged and tried again next round; every `comms serve` may read it (effects count once)."""
    while not stop.is_set():
        try:
            bounces.read_bounce_mailbox(service, clock)
        except (CommsError, DBAPIError) as exc:
            log.error("bounce mailbox not read: %s", exc)
        stop.wait(service.config.bounces.poll_seconds)
