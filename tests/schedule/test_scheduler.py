"""The scheduler driven by a fake clock: local times across summer time, misfires, approval,
and the job-run ledger that keeps a job from firing twice.

time-machine moves the clock APScheduler and comms read; `tick()` runs what is due, so
nothing here sleeps.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest
import time_machine
from sqlalchemy import create_engine, event, func, select, text, update
from sqlalchemy.pool import NullPool

from comms.audience.contacts import read_audience
from comms.audience.sync import import_contacts
from comms.clock import FixedClock, SystemClock
from comms.config import load_config
from comms.dates import AMSTERDAM
from comms.editions import lifecycle
from comms.serve import ScheduleRunner
from comms.service import Service
from comms.store import job_runs as ledger
from comms.store.editions import find_edition
from comms.store.models import Edition, EditionStatus, JobRun, JobRunOutcome, Message, SchedulerJob
from comms.store.owners import worker_name
from comms.web.app import create_app
from comms.worker import Worker
from tests.fakes.smtp import FakeSMTPServer
from tests.web.support import serve


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM)


@pytest.fixture
def service(project: Path) -> Iterator[Service]:
    """The sample project with its newsletter schedule only (the agenda jobs run every half hour)."""
    for other in (project / "schedules").glob("*.toml"):
        if other.name != "newsletter.toml":
            other.unlink()
    config, problems = load_config(project / "comms.toml")
    assert config, problems
    service = Service.open(config)
    audience = read_audience(config.contact_files())
    with service.db.session() as session:
        import_contacts(session, audience.contacts, datetime(2026, 11, 1, tzinfo=UTC))
    yield service
    service.db.dispose()


def start_runner(service: Service) -> ScheduleRunner:
    runner = ScheduleRunner(service, SystemClock())
    runner.start()
    return runner


def job_runs(service: Service) -> list[tuple[str, str, str, str]]:
    """(step, planned local time with zone, outcome, detail) in planned order."""
    with service.db.session() as session:
        rows = session.scalars(select(JobRun).order_by(JobRun.planned_for, JobRun.id)).all()
        return [
            (r.step, f"{r.planned_for.astimezone(AMSTERDAM):%Y-%m-%d %H:%M %Z}", r.outcome, r.detail or "")
            for r in rows
        ]


def team_notices(project: Path) -> list[str]:
    """The subjects of the notices the team got (the outbox transport's files)."""
    folder = project / "outbox" / "meldingen" / "messages"
    subjects = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        subjects.append(str(message_from_bytes(path.read_bytes(), policy=policy.default)["Subject"]))
    return subjects


def team_text(project: Path, subject: str) -> str:
    """The text part of the team's notice with this subject, its wrapped lines joined."""
    for path in sorted((project / "outbox" / "meldingen" / "messages").glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["Subject"] == subject:
            body = message.get_body(("plain",))
            assert body is not None
            return " ".join(body.get_content().split())
    raise AssertionError(f"no notice {subject!r}")


def run_until(runner: ScheduleRunner, traveller: time_machine.Coordinates, end: datetime) -> None:
    """Tick, jump to the next due moment, tick again … until `end`."""
    while True:
        wait = runner.tick()
        if wait is None:
            return
        due = datetime.now(UTC) + timedelta(seconds=wait)
        if due > end:
            return
        traveller.move_to(due)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(
            local(2027, 2, 20, 12),
            local(2027, 4, 27, 0),
            [
                ("build", "2027-02-22 07:00 CET"),  # fourth Monday of February, winter time
                ("send", "2027-03-04 09:00 CET"),  # first Thursday of March
                ("build", "2027-03-22 07:00 CET"),
                ("send", "2027-04-01 09:00 CEST"),  # the clocks went forward on 28 March
                ("build", "2027-04-26 07:00 CEST"),
            ],
            id="spring-forward-2027-03-28",
        ),
        pytest.param(
            local(2027, 10, 20, 12),
            local(2027, 11, 23, 0),
            [
                ("build", "2027-10-25 07:00 CEST"),  # summer time, the week before the change
                ("send", "2027-11-04 09:00 CET"),  # after the clocks went back on 31 October
                ("build", "2027-11-22 07:00 CET"),
            ],
            id="fall-back-2027-10-31",
        ),
    ],
)
def test_jobs_fire_at_local_times_across_summer_time(
    service: Service, start: datetime, end: datetime, expected: list[tuple[str, str]]
) -> None:
    with time_machine.travel(start, tick=False) as traveller:
        runner = start_runner(service)
        run_until(runner, traveller, end)
        runner.stop()
    fired = [(step, when) for step, when, _, _ in job_runs(service) if step in ("build", "send")]
    assert fired == expected


@pytest.mark.parametrize(
    ("restart_at", "expected_outcome"),
    [
        pytest.param(local(2026, 11, 23, 9, 30), "ran", id="2.5h-late-within-24h-grace"),
        pytest.param(local(2026, 11, 24, 8, 0), "missed", id="25h-late-beyond-grace"),
    ],
)
def test_a_build_missed_while_down_runs_once_within_grace_and_is_reported_beyond(
    service: Service, project: Path, restart_at: datetime, expected_outcome: str
) -> None:
    with time_machine.travel(local(2026, 11, 20, 12), tick=False) as traveller:
        start_runner(service).stop()  # jobs stored; the service then goes down
        traveller.move_to(restart_at)
        runner = start_runner(service)
        runner.tick()
        runner.tick()  # a second look changes nothing
        runner.stop()
    builds = [r for r in job_runs(service) if r[0] == "build"]
    assert [(step, when) for step, when, _, _ in builds] == [("build", "2026-11-23 07:00 CET")]
    outcome, detail = builds[0][2], builds[0][3]
    if expected_outcome == "ran":
        assert outcome == JobRunOutcome.DONE, detail
        assert "waiting for approval" in detail
        assert team_notices(project) == ["Ter goedkeuring: nieuwsbrief-2026-12"]
    else:
        assert outcome == JobRunOutcome.MISSED
        assert "beyond the staleness limit" in detail
        assert team_notices(project) == ["Niet uitgevoerd: opbouw van newsletter"]
        text = team_text(project, "Niet uitgevoerd: opbouw van newsletter")
        assert "Reden: 25 uur te laat, langer dan de toegestane 24 uur." in text
        with service.db.session() as session:
            assert session.scalars(select(Edition)).all() == []


def test_every_missed_run_is_reported_and_only_the_newest_within_grace_runs(service: Service) -> None:
    """Down for two months: APScheduler's own coalescing would drop the older runs silently."""
    with time_machine.travel(local(2026, 10, 20, 12), tick=False) as traveller:
        start_runner(service).stop()
        traveller.move_to(local(2026, 11, 23, 8, 0))
        runner = start_runner(service)
        runner.tick()
        runner.stop()
    builds = [(when, outcome) for step, when, outcome, _ in job_runs(service) if step == "build"]
    assert builds == [("2026-10-26 07:00 CET", "missed"), ("2026-11-23 07:00 CET", "done")]


def approve_and_reach_send(service: Service, approve: bool) -> str:
    with time_machine.travel(local(2026, 11, 23, 6, 59), tick=False) as traveller:
        runner = start_runner(service)
        run_until(runner, traveller, local(2026, 11, 23, 8))
        key = "nieuwsbrief-2026-12"
        if approve:
            lifecycle.approve(service, key, "redacteur", datetime.now(UTC))
        run_until(runner, traveller, local(2026, 12, 3, 10))
        runner.stop()
    return key


def test_an_approved_edition_is_queued_for_the_workers_at_its_send_time(
    service: Service, project: Path
) -> None:
    key = approve_and_reach_send(service, approve=True)
    with service.db.session() as session:
        edition = find_edition(session, key)
        assert edition.status == EditionStatus.SENDING
        assert edition.send_at == local(2026, 12, 3, 9).astimezone(UTC)
        queued = session.scalar(select(Message.id).where(Message.edition_id == edition.id).limit(1))
    assert queued is not None
    steps = [(step, when, outcome) for step, when, outcome, _ in job_runs(service)]
    assert steps == [
        ("build", "2026-11-23 07:00 CET", "done"),
        ("approval-deadline", "2026-12-01 09:00 CET", "done"),  # approved: no reminder needed
        ("send", "2026-12-03 09:00 CET", "done"),
    ]
    assert team_notices(project) == ["Ter goedkeuring: nieuwsbrief-2026-12"]


def test_an_unapproved_edition_is_never_sent_and_the_team_is_told(service: Service, project: Path) -> None:
    key = approve_and_reach_send(service, approve=False)
    with service.db.session() as session:
        edition = find_edition(session, key)
        assert edition.status == EditionStatus.DRAFT
        assert session.scalar(select(Message.id).where(Message.edition_id == edition.id)) is None
    send = [r for r in job_runs(service) if r[0] == "send"]
    assert send[0][2] == JobRunOutcome.HELD and "not approved" in send[0][3]
    assert team_notices(project) == [
        "Ter goedkeuring: nieuwsbrief-2026-12",
        "Nog niet goedgekeurd: nieuwsbrief-2026-12",
        "Niet verstuurd: nieuwsbrief-2026-12",
    ]
    assert "Reden: niet goedgekeurd vóór de geplande verzendtijd." in team_text(
        project, "Niet verstuurd: nieuwsbrief-2026-12"
    )


def test_the_approval_request_links_to_a_signed_preview(service: Service, project: Path) -> None:
    approve_and_reach_send(service, approve=False)
    request = sorted((project / "outbox" / "meldingen" / "messages").glob("*.eml"))[0]
    body = message_from_bytes(request.read_bytes(), policy=policy.default).get_body(("plain",))
    assert body is not None
    found = re.search(r"https://comms\.ipo\.example\.org(/voorbeeld/\S+)", body.get_content())
    assert found, body.get_content()
    path = found[1]
    app = create_app(service, FixedClock(local(2026, 12, 1, 12)))
    with serve(app) as base, httpx.Client(base_url=base) as client:
        page = client.get(path)
        forged = client.get(path[:-3] + "AAA")
    assert page.status_code == 200 and "Statenleden" in page.text
    assert page.headers["cache-control"] == "no-store" and "[voornaam]" in page.text
    assert forged.status_code == 400


def test_a_run_finished_by_one_leader_is_not_fired_again_by_the_next(service: Service, project: Path) -> None:
    """The old leader ran the build but died before APScheduler stored the next run time."""
    with time_machine.travel(local(2026, 11, 23, 6, 59), tick=False) as traveller:
        runner = start_runner(service)
        runner.tick()
        with service.db.session() as session:
            before = session.scalar(
                select(SchedulerJob.next_run_time).where(SchedulerJob.id == "newsletter:build")
            )
        traveller.move_to(local(2026, 11, 23, 7, 0))
        runner.tick()
        runner.stop()
        with service.db.session() as session:  # what the store held while the job ran
            session.execute(
                update(SchedulerJob).where(SchedulerJob.id == "newsletter:build").values(next_run_time=before)
            )
        successor = start_runner(service)
        successor.tick()
        successor.stop()
    builds = [r for r in job_runs(service) if r[0] == "build"]
    assert len(builds) == 1
    assert team_notices(project) == ["Ter goedkeuring: nieuwsbrief-2026-12"]


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


HERE, ELSEWHERE, DEAD, ALIVE = "this process", "another host", "dead on this host", "alive on this host"


@pytest.mark.parametrize(
    ("existing", "runner", "heartbeat_age", "retry_in", "expected"),
    [
        pytest.param(None, HERE, 0, 0, "claimed", id="first-time"),
        pytest.param(JobRunOutcome.DONE, ELSEWHERE, 0, 0, "skipped", id="already-done"),
        pytest.param(JobRunOutcome.MISSED, ELSEWHERE, 0, 0, "skipped", id="already-reported-missed"),
        pytest.param(JobRunOutcome.FAILED, ELSEWHERE, 0, 0, "skipped", id="failed-for-a-reason-of-its-own"),
        pytest.param(JobRunOutcome.RUNNING, HERE, 0, 0, "skipped", id="running-here"),
        pytest.param(JobRunOutcome.RUNNING, ELSEWHERE, 29, 0, "skipped", id="running-on-another-host"),
        pytest.param(JobRunOutcome.RUNNING, ELSEWHERE, 31, 0, "claimed", id="other-host-heartbeat-expired"),
        pytest.param(JobRunOutcome.RUNNING, ALIVE, 0, 0, "skipped", id="running-in-another-process-here"),
        pytest.param(JobRunOutcome.RUNNING, DEAD, 0, 0, "claimed", id="its-process-here-is-gone"),
        pytest.param(JobRunOutcome.RETRYING, ELSEWHERE, 99, 5, "skipped", id="retry-not-yet-due"),
        pytest.param(JobRunOutcome.RETRYING, ELSEWHERE, 99, 0, "claimed", id="retry-due"),
    ],
)
def test_job_run_ledger(
    service: Service, existing: str | None, runner: str, heartbeat_age: int, retry_in: int, expected: str
) -> None:
    """A run is claimed once; a `running` one only when its runner is known to be gone (heartbeat
    30 s old: three of the default 10 s heartbeats)."""
    key = ledger.RunKey("newsletter", "build", datetime(2026, 11, 23, 6, tzinfo=UTC))
    now = datetime(2026, 11, 23, 6, 1, tzinfo=UTC)
    expiry = timedelta(seconds=30)
    host = socket.gethostname()
    names = {HERE: worker_name(), ELSEWHERE: "elsewhere:1", DEAD: f"{host}:{dead_pid()}", ALIVE: f"{host}:1"}
    if existing:
        run_id = ledger.begin(service.db, key, now - timedelta(seconds=heartbeat_age), expiry)
        assert run_id is not None
        with service.db.session() as session:
            run = session.get_one(JobRun, run_id)
            run.outcome, run.runner = existing, names[runner]
            run.retry_at = now + timedelta(seconds=retry_in)
    claimed = ledger.begin(service.db, key, now, expiry)
    assert ("claimed" if claimed else "skipped") == expected
    with service.db.session() as session:
        [run] = session.scalars(select(JobRun)).all()
    if claimed:
        assert (run.outcome, run.runner, run.attempts) == ("running", worker_name(), 2 if existing else 1)
    else:
        assert (run.outcome, run.runner) == (existing, names[runner])


def test_a_runner_whose_run_was_taken_over_records_nothing(service: Service) -> None:
    """The old runner comes back after its run was taken over: its outcome, retry and heartbeat
    change nothing, so the run is recorded once, by the runner that has it."""
    key = ledger.RunKey("newsletter", "build", datetime(2026, 11, 23, 6, tzinfo=UTC))
    now = datetime(2026, 11, 23, 6, 1, tzinfo=UTC)
    run_id = ledger.begin(service.db, key, now, timedelta(seconds=30))
    assert run_id is not None
    with service.db.session() as session:
        session.get_one(JobRun, run_id).runner = "elsewhere:1"  # what a takeover does
    later = now + timedelta(minutes=1)
    assert ledger.finish(service.db, run_id, JobRunOutcome.DONE, "late", later) is False
    assert ledger.retry_later(service.db, run_id, "late", later, later) is False
    ledger.beat(service.db, run_id, later)
    with service.db.session() as session:
        run = session.get_one(JobRun, run_id)
    assert (run.outcome, run.runner, run.heartbeat_at, run.finished_at) == (
        "running",
        "elsewhere:1",
        now,
        None,
    )


def test_a_broken_schedule_file_keeps_the_jobs_it_had(service: Service, project: Path) -> None:
    with time_machine.travel(local(2026, 11, 20, 12), tick=False):
        runner = start_runner(service)
        schedule = project / "schedules" / "newsletter.toml"
        schedule.write_text(schedule.read_text(encoding="utf-8").replace('cron = "0 9', 'cron = "0 99'))
        runner.reload(force=True)
        assert runner.scheduler is not None
        ids = sorted(job.id for job in runner.scheduler.get_jobs())
        runner.stop()
    assert ids == ["newsletter:build", "newsletter:send"]


# -- the database going away during a scheduled job ------------------------------------------


@pytest.fixture
def smtp_service(project: Path, smtp_server: FakeSMTPServer) -> Iterator[Service]:
    """The newsletter schedule approved by the schedule itself, delivered to an SMTP fake."""
    for other in (project / "schedules").glob("*.toml"):
        if other.name != "newsletter.toml":
            other.unlink()
    schedule = project / "schedules" / "newsletter.toml"
    schedule.write_text(schedule.read_text(encoding="utf-8").replace("required = true", "required = false"))
    config_file = project / "comms.toml"
    config_file.write_text(
        config_file.read_text(encoding="utf-8").replace('transport = "outbox"', 'transport = "smtp"')
        + f'\n[smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\nsecurity = "none"\n',
        encoding="utf-8",
    )
    config, problems = load_config(config_file)
    assert config, problems
    service = Service.open(config)
    with service.db.session() as session:
        import_contacts(
            session, read_audience(config.contact_files()).contacts, datetime(2026, 11, 1, tzinfo=UTC)
        )
    yield service
    service.db.dispose()


@contextmanager
def faults_on(service: Service, statement: str, fault: str, times: int) -> Iterator[list[str]]:
    """While the block runs, the first `times` statements starting with `statement` meet a fault:
    "database-lost" ends every connection to the database (pg_terminate_backend, as a restart or
    failover does) just before the statement runs; "bug" raises an error of comms' own."""
    admin = create_engine(service.db.engine.url, poolclass=NullPool)
    fired: list[str] = []

    def before(_conn, _cursor, sql: str, *_args) -> None:  # type: ignore[no-untyped-def]
        if not sql.lstrip().upper().startswith(statement) or len(fired) >= times:
            return
        fired.append(sql)
        if fault == "bug":
            raise RuntimeError("a bug in the build")
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )

    event.listen(service.db.engine, "before_cursor_execute", before)
    try:
        yield fired
    finally:
        event.remove(service.db.engine, "before_cursor_execute", before)
        admin.dispose()


@pytest.mark.postgresql_only
@pytest.mark.parametrize(
    ("fault", "times", "stale_hours", "build", "attempts", "delivered"),
    [
        pytest.param("database-lost", 1, 24, "done", 2, True, id="database-lost-once"),
        pytest.param("database-lost", 3, 24, "done", 4, True, id="database-lost-three-times"),
        pytest.param("database-lost", 99, 0.01, "failed", 4, False, id="lost-until-the-staleness-limit"),
        pytest.param("bug", 1, 24, "failed", 1, False, id="a-failure-of-its-own-is-not-retried"),
    ],
)
def test_a_build_cut_short_by_the_database_is_retried_and_the_send_goes_out_on_time(
    smtp_service: Service,
    project: Path,
    smtp_server: FakeSMTPServer,
    fault: str,
    times: int,
    stale_hours: float,
    build: str,
    attempts: int,
    delivered: bool,
) -> None:
    """Retries at 5, 10, 20 … s after the fault (`[serve] job_retry_seconds`), while the build is
    still worth making: 36 s of staleness allows the attempts at 0, 5, 15 and 35 s, not one at 75 s."""
    service = smtp_service
    schedule = project / "schedules" / "newsletter.toml"
    text_ = schedule.read_text(encoding="utf-8")
    schedule.write_text(text_.replace("stale_after_hours = 24", f"stale_after_hours = {stale_hours}"))
    with time_machine.travel(local(2026, 11, 23, 6, 59), tick=False) as traveller:
        runner = start_runner(service)
        runner.tick()
        with faults_on(service, "INSERT INTO EDITIONS", fault, times):
            traveller.move_to(local(2026, 11, 23, 7, 0))
            run_until(runner, traveller, local(2026, 11, 23, 8, 0))
        run_until(runner, traveller, local(2026, 12, 3, 9, 30))
        runner.stop()
        Worker(service, SystemClock(), threading.Event()).run(exit_when_idle=True)
    with service.db.session() as session:
        [run] = session.scalars(select(JobRun).where(JobRun.step == "build")).all()
        sent = session.scalar(select(func.count()).select_from(Message).where(Message.status == "sent"))
    assert (run.outcome, run.attempts) == (build, attempts), run.detail
    send = [(outcome, detail) for step, _, outcome, detail in job_runs(service) if step == "send"]
    team, recipients = [], Counter[str]()
    for message in smtp_server.messages:
        if message.rcpt_tos == ("redactie@ipo.example.org",):  # the team's notices take the same way
            team.append(str(message_from_bytes(message.raw, policy=policy.default)["Subject"]))
        else:
            recipients.update(message.rcpt_tos)
    if delivered:
        assert send == [("done", "nieuwsbrief-2026-12 is sending; the workers deliver it")]
        assert sent and sent == len(recipients) and set(recipients.values()) == {1}
        assert team == []
    else:
        assert send[0][0] == "held" and sent == 0 and not recipients
        assert team == ["Mislukt: opbouw van newsletter", "Niet verstuurd: de verzending van newsletter"]


@pytest.mark.parametrize(
    ("checks_passed", "ran_before_the_loss"),
    [
        pytest.param(0, [], id="lost-before-the-step"),
        pytest.param(3, [("build", "done")], id="lost-while-the-step-runs"),  # store, executor, step
    ],
)
def test_a_runner_that_lost_the_lead_runs_no_step_and_leaves_the_job_due(
    service: Service, checks_passed: int, ran_before_the_loss: list[tuple[str, str]]
) -> None:
    """The check right before every step: a runner that no longer leads runs, records and moves
    on nothing in the job store, so the next leader finds the run still due; a step already
    running finishes (the ledger then keeps the next leader from making it again)."""
    checks = iter([True] * checks_passed)
    with time_machine.travel(local(2026, 11, 23, 6, 59), tick=False) as traveller:
        start_runner(service).stop()
        with service.db.session() as session:
            due = session.scalar(
                select(SchedulerJob.next_run_time).where(SchedulerJob.id == "newsletter:build")
            )
        traveller.move_to(local(2026, 11, 23, 7, 0))
        runner = ScheduleRunner(service, SystemClock(), leads=lambda: next(checks, False))
        runner.start()
        runner.tick()
        runner.stop()
        with service.db.session() as session:
            still_due = session.scalar(
                select(SchedulerJob.next_run_time).where(SchedulerJob.id == "newsletter:build")
            )
        assert [(step, outcome) for step, _, outcome, _ in job_runs(service)] == ran_before_the_loss
        assert still_due == due
        successor = start_runner(service)
        successor.tick()
        successor.stop()
    assert [(step, outcome) for step, _, outcome, _ in job_runs(service)] == [("build", "done")]
