"""The scheduler driven by a fake clock: local times across summer time, misfires, approval,
and the job-run ledger that keeps a job from firing twice.

time-machine moves the clock APScheduler and comms read; `tick()` runs what is due, so
nothing here sleeps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest
import time_machine
from sqlalchemy import select, text, update

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
from comms.web.app import create_app
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


@pytest.mark.parametrize(
    ("existing", "same_runner", "expected"),
    [
        pytest.param(None, False, "claimed", id="first-time"),
        pytest.param(JobRunOutcome.DONE, False, "skipped", id="already-done"),
        pytest.param(JobRunOutcome.MISSED, False, "skipped", id="already-reported-missed"),
        pytest.param(JobRunOutcome.RUNNING, True, "skipped", id="running-here"),
        pytest.param(JobRunOutcome.RUNNING, False, "claimed", id="left-unfinished-by-a-dead-leader"),
    ],
)
def test_job_run_ledger(service: Service, existing: str | None, same_runner: bool, expected: str) -> None:
    key = ledger.RunKey("newsletter", "build", datetime(2026, 11, 23, 6, tzinfo=UTC))
    now = datetime(2026, 11, 23, 6, 1, tzinfo=UTC)
    if existing:
        run_id = ledger.begin(service.db, key, now)
        assert run_id is not None
        with service.db.session() as session:
            run = session.get_one(JobRun, run_id)
            run.outcome = existing
            if not same_runner:
                run.runner = "elsewhere:1"
    claimed = ledger.begin(service.db, key, now)
    assert ("claimed" if claimed else "skipped") == expected
    with service.db.session() as session:
        assert session.scalar(text("SELECT count(*) FROM job_runs")) == 1


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
