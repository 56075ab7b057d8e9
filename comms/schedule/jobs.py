"""What a scheduled job does when it fires: build, remind about approval, start the send.

APScheduler stores jobs by reference ("comms.schedule.jobs:run_step") with plain
arguments, so the running service is handed over through `JobContext` rather than
pickled. Every run goes through the job-run ledger (store.job_runs) first.

The send step only moves an approved edition to `sending`, copying the first batch of its
audience into the message ledger (editions.lifecycle.start_sending); the workers copy the
rest and deliver it, in `comms serve` and in any number of `comms worker` processes. So a
job is short, even for a national audience, and the scheduler is never blocked.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError

from comms.clock import Clock
from comms.dates import date_and_time
from comms.dutch import CAN, Noun, counted
from comms.errors import Refused, Unavailable
from comms.kinds import Approval, BuildOutcome, BuildRequest, MailingKind, PeriodicKind, Step, TriggeredKind
from comms.notify import TeamNotice, notify_team
from comms.operations import editions, sources, workflow
from comms.problems import Problem, ValidationFailed
from comms.reasons import Reason
from comms.schedules import Schedule
from comms.send_window import SendWindow
from comms.service import Service
from comms.store import job_runs
from comms.store.actors import schedule_actor
from comms.store.database import database_away, database_reason
from comms.store.models import EditionStatus, JobRunOutcome

log = logging.getLogger(__name__)
NOTE = Noun("melding", "meldingen")
HOUR = Noun("uur", "uur")
MINUTE = Noun("minuut", "minuten")
SOURCE = Noun("bron", "bronnen")
APPROVAL_DEADLINE = Step.APPROVAL_REMINDER  # the one-off step a build plans when approval is needed
RETRY_MAX_SECONDS = 300  # a run cut short by the database is tried again at least this often


@dataclass
class JobContext:
    service: Service
    clock: Clock
    schedules: dict[str, Schedule]
    # Adds a one-off job (the approval reminder); set by the scheduler that runs the jobs.
    add_reminder: Callable[[Schedule, str, datetime], None] = lambda *_: None
    # Does this process still lead? Asked right before every step (cheap: no round trip).
    leads: Callable[[], bool] = lambda: True

    @property
    def heartbeat_expiry(self) -> timedelta:
        return timedelta(seconds=3 * self.service.config.serve.job_heartbeat_seconds)


@dataclass(frozen=True, slots=True)
class StepResult:
    outcome: JobRunOutcome
    detail: str
    edition: str | None = None
    notices: list[TeamNotice] = field(default_factory=list)


_context: JobContext | None = None


def install(context: JobContext | None) -> None:
    global _context
    _context = context


def run_step(
    schedule_name: str, step: str, planned_for: datetime | None = None, edition_key: str | None = None
) -> None:
    """The one function APScheduler calls, for every step of every schedule.

    `planned_for` comes from our executor (APScheduler itself does not pass the run time);
    it has a default only because APScheduler checks a job's arguments when it is added.
    A database error escapes only when the run could not even be claimed or recorded: the
    executor then keeps the job due, and the ledger's heartbeat covers a claimed run.
    """
    context = _context
    if context is None or planned_for is None:
        raise RuntimeError("no job context installed: jobs run only inside comms serve")
    schedule = context.schedules.get(schedule_name)
    if schedule is None:
        log.warning("job for unknown schedule %s ignored (file removed?)", schedule_name)
        return
    key = job_runs.RunKey(schedule_name, step, planned_for)
    if not context.leads():
        log.warning("%s not run: this process no longer leads", key)
        return
    db, now = context.service.db, context.clock.now()
    run_id = job_runs.begin(db, key, now, context.heartbeat_expiry, edition_key)
    if run_id is None:
        log.info("%s already ran, runs elsewhere or waits for its retry; not run now", key)
        return
    attempt = job_runs.attempts(db, run_id)
    with _heartbeat(context, run_id):
        try:
            result = _STEPS[step](context, schedule, planned_for, edition_key)
        except Exception as exc:
            if not _database_away(exc):
                log.exception("%s failed", key)
                result = _failed(schedule, step, planned_for, f"{type(exc).__name__}: {exc}")
            elif (retry := _retry_time(context, schedule, step, planned_for, attempt)) is None:
                why = f"database unavailable ({_reason(exc)}) until the staleness limit; not retried"
                result = _failed(schedule, step, planned_for, why)
            else:
                why = f"attempt {attempt} cut short, database unavailable ({_reason(exc)})"
                job_runs.retry_later(
                    db, run_id, f"{why}; next at {retry:%H:%M:%S} UTC", context.clock.now(), retry
                )
                log.warning("%s: %s; tried again at %s", key, why, retry)
                return
    if not job_runs.finish(db, run_id, result.outcome, result.detail, context.clock.now(), result.edition):
        log.warning("%s was taken over by another runner meanwhile; its outcome is theirs", key)
        return
    log.info("%s: %s (%s)", key, result.outcome, result.detail)
    for notice in result.notices:
        notify_team(context.service.config, context.service.signer(), notice, schedule.notify, context.clock)


def run_unfinished(context: JobContext) -> datetime | None:
    """Run what the ledger holds unfinished: retries now due, runs whose runner is gone.
    Returns when the next retry is due (None: nothing waits)."""
    db = context.service.db
    for run in job_runs.unfinished(db, context.clock.now(), context.heartbeat_expiry):
        if not context.leads():
            return None
        if run.key.schedule in context.schedules:
            run_step(run.key.schedule, run.key.step, run.key.planned_for, run.edition_key)
    return job_runs.next_retry(db)


def _retry_time(
    context: JobContext, schedule: Schedule, step: str, planned_for: datetime, attempt: int
) -> datetime | None:
    """When to try a run cut short by the database again; None when that would be beyond the
    time the run is still worth making (the schedule's staleness limit; a reminder: the send)."""
    first = context.service.config.serve.job_retry_seconds
    at = context.clock.now() + timedelta(seconds=min(first * 2 ** (attempt - 1), RETRY_MAX_SECONDS))
    limit = schedule.approval_deadline if step == APPROVAL_DEADLINE else schedule.stale_after(Step(step))
    return at if at - planned_for <= limit else None


@contextmanager
def _heartbeat(context: JobContext, run_id: int) -> Iterator[None]:
    """Renew the run's heartbeat while the step runs, so no successor takes over a live run."""
    done = threading.Event()
    every = context.service.config.serve.job_heartbeat_seconds

    def beat() -> None:
        while not done.wait(every):
            try:
                job_runs.beat(context.service.db, run_id, context.clock.now())
            except DBAPIError as exc:  # the step itself will meet the same trouble
                log.warning("job heartbeat not recorded: %s", database_reason(exc))

    thread = threading.Thread(target=beat, name=f"job-heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)


def _database_away(exc: BaseException) -> bool:
    """The step failed because the database (or another system) was away, not for a reason of
    its own: it may succeed when tried again. Looks through errors raised from others."""
    seen: BaseException | None = exc
    while seen is not None:
        if database_away(seen) or isinstance(seen, Unavailable):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _reason(exc: BaseException) -> str:
    return database_reason(exc) if isinstance(exc, DBAPIError) else f"{type(exc).__name__}: {exc}"


def report_missed(
    context: JobContext, schedule: Schedule, step: str, planned_for: datetime, why: Reason
) -> None:
    """A run that will not be made (too late): in the ledger and in the team's mailbox, once."""
    key = job_runs.RunKey(schedule.name, step, planned_for)
    if not job_runs.record_missed(context.service.db, key, context.clock.now(), why.en):
        return
    log.warning("%s missed: %s", key, why.en)
    notice = TeamNotice(
        f"Niet uitgevoerd: {_step_label(step)} van {schedule.name}",
        [
            f"De geplande {_step_label(step)} van {schedule.name} op {date_and_time(planned_for)} "
            "is niet uitgevoerd.",
            f"Reden: {why.nl}.",
            "Er is niets te laat verstuurd. Bekijk de stand in de console en verstuur zo nodig met de "
            f"hand:\n{workflow.console_url(context.service)}",
            "of op de opdrachtregel:\ncomms calendar",
        ],
    )
    notify_team(context.service.config, context.service.signer(), notice, schedule.notify, context.clock)


# -- the steps ---------------------------------------------------------------------------


def _build(context: JobContext, schedule: Schedule, planned_for: datetime, key: str | None) -> StepResult:
    if isinstance(schedule.kind, PeriodicKind):
        return _build_edition(context, schedule, schedule.kind, planned_for)
    assert isinstance(schedule.kind, TriggeredKind)
    return _build_due(context, schedule, schedule.kind)


def _build_due(context: JobContext, schedule: Schedule, kind: TriggeredKind) -> StepResult:
    """Make what is due (reading the sources first where the kind needs them); a kind that
    says so starts the urgent ones at once."""
    service, now, by = context.service, context.clock.now(), schedule_actor(schedule.name)
    source_problems = sources.collect(service, now).problems if kind.collects_before_build else []
    approval = Approval(required=schedule.approval_required, by=by)
    built = editions.build_due(service, kind.key, now, schedule.template, approval)
    started = editions.start_due(service, kind.key, context.clock, by) if kind.starts_when_built else []
    notices = [_problems_notice(kind, built.problems + source_problems)] if built.problems else []
    notices += _approval_requests(service, built.created, schedule)
    detail = (
        f"{len(built.created)} built: {_listed(built.created)}, {len(built.superseded)} superseded, "
        f"{len(started)} started; {len(built.problems)} problem(s)"
    )
    return StepResult(JobRunOutcome.DONE, detail, None, notices)


def _build_edition(
    context: JobContext, schedule: Schedule, kind: PeriodicKind, planned_for: datetime
) -> StepResult:
    """The edition for the schedule's next send: collected, built and planned, then approved by the
    schedule or put before the team."""
    service, now = context.service, context.clock.now()
    send_at = _next_send(schedule, planned_for)
    request = BuildRequest(
        now,
        send_at=send_at,
        audience=schedule.audience,
        template=schedule.template,
        by=schedule_actor(schedule.name),
    )
    key = kind.edition_key(request)
    broken = [p for p in sources.collect(service, now).problems if p.is_error]
    try:
        outcome = kind.build(service, request)
    except Refused as exc:
        return StepResult(JobRunOutcome.DONE, f"nothing to build: {exc}", key)
    except ValidationFailed as exc:
        reasons = [str(p) for p in exc.problems if p.is_error]
        notice = TeamNotice(
            f"Niet opgebouwd: {key}", [f"{key} kon niet worden opgebouwd. Wat er mis is:", *reasons]
        )
        return StepResult(JobRunOutcome.FAILED, "; ".join(reasons), key, [notice])
    editions.schedule_send(service, outcome.key, send_at, schedule.name)
    if outcome.is_held:
        notice = TeamNotice(
            f"Aangehouden: {outcome.key}",
            [
                f"{outcome.key} wordt niet verstuurd op {date_and_time(send_at)}.",
                f"Reden: {outcome.reason.nl}." if outcome.reason else "De reden staat in de console.",
                "Komt er nog nieuws, dan wordt de editie bij de volgende opbouw opnieuw gemaakt.",
                *workflow.console_action(service, outcome.key, "Bekijken of vervallen verklaren", "discard"),
            ],
        )
        why = outcome.reason.en if outcome.reason else "held"
        return StepResult(JobRunOutcome.HELD, why, outcome.key, [notice])
    return _after_build(context, schedule, outcome, send_at, broken)


def _after_build(
    context: JobContext, schedule: Schedule, outcome: BuildOutcome, send_at: datetime, broken: list[Problem]
) -> StepResult:
    """Approve by the schedule, or ask the team and plan the reminder."""
    service, now, key = context.service, context.clock.now(), outcome.key
    note = f"; {len(broken)} source problem(s)" if broken else ""
    detail = f"built {key} for {outcome.audience_size} recipients, send at {send_at:%Y-%m-%d %H:%M} UTC{note}"
    if not schedule.approval_required:
        editions.approve(service, key, schedule_actor(schedule.name), now)
        return StepResult(JobRunOutcome.DONE, detail + "; approved by the schedule", key)
    deadline = send_at - schedule.approval_deadline
    if Step.APPROVAL_REMINDER in schedule.kind.steps:
        context.add_reminder(schedule, key, deadline)
    [report] = editions.status(service, key)
    request = workflow.approval_request(
        service, key, report.subject, outcome.audience_size, send_at, deadline
    )
    if broken:
        note = f"Let op: {counted(len(broken), SOURCE, CAN)} niet worden gelezen; zie 'comms collect'."
        request = dataclasses.replace(request, lines=[*request.lines, note])
    request = dataclasses.replace(request, lines=[*request.lines, *_build_notes(outcome.problems)])
    return StepResult(JobRunOutcome.DONE, detail + "; waiting for approval", key, [request])


def _approval_deadline(
    context: JobContext, schedule: Schedule, planned_for: datetime, edition_key: str | None
) -> StepResult:
    service = context.service
    [report] = editions.status(service, edition_key or "")
    if report.status != EditionStatus.DRAFT:
        return StepResult(
            JobRunOutcome.DONE, f"no reminder needed: {report.key} is {report.status}", report.key
        )
    send_at = report.send_at
    notice = TeamNotice(
        f"Nog niet goedgekeurd: {report.key}",
        [
            f"{report.key} is nog niet goedgekeurd en wordt zonder goedkeuring niet verstuurd.",
            f"Geplande verzending: {date_and_time(send_at) if send_at else 'nog niet gepland'}.",
            *workflow.console_action(service, report.key),
        ],
        workflow.preview_link(service, report.key, send_at or planned_for),
    )
    return StepResult(JobRunOutcome.DONE, "reminder sent: still a draft", report.key, [notice])


def _send(context: JobContext, schedule: Schedule, planned_for: datetime, key: str | None) -> StepResult:
    if isinstance(schedule.kind, TriggeredKind):
        if not schedule.window.allows(context.clock.now()):
            return StepResult(JobRunOutcome.HELD, _outside_window(schedule.window).en)
        started = editions.start_due(
            context.service, schedule.kind.key, context.clock, schedule_actor(schedule.name)
        )
        shown = ", ".join(started[:5]) + (f" and {len(started) - 5} more" if len(started) > 5 else "")
        return StepResult(JobRunOutcome.DONE, f"{len(started)} mailing(s) started: {shown or 'none due'}")
    return _send_edition(context, schedule, planned_for)


def _send_edition(context: JobContext, schedule: Schedule, planned_for: datetime) -> StepResult:
    service, now = context.service, context.clock.now()
    late = now - planned_for
    key = editions.planned_for(service, schedule.name, planned_for)
    if late > schedule.send_stale_after:
        # Belt and braces: the executor checks the grace time too, but a slow job before
        # this one may have pushed the start past it.
        return _held(service, schedule, key, planned_for, _too_late(late))
    if not schedule.window.allows(now):
        return _held(service, schedule, key, planned_for, _outside_window(schedule.window))
    if key is None:
        return _held(service, schedule, None, planned_for, NOTHING_BUILT)
    [report] = editions.status(service, key)
    status, reason = report.status, report.reason
    if status in (EditionStatus.SENDING, EditionStatus.SENT):
        return StepResult(JobRunOutcome.DONE, f"{key} is already {status}", key)
    if status == EditionStatus.DRAFT:
        return _held(service, schedule, key, planned_for, NOT_APPROVED)
    if status != EditionStatus.APPROVED:
        return _held(service, schedule, key, planned_for, _withdrawn(status, reason))
    editions.start_sending(service, key, context.clock, schedule_actor(schedule.name))
    return StepResult(JobRunOutcome.DONE, f"{key} is sending; the workers deliver it", key)


_STEPS: dict[str, Callable[[JobContext, Schedule, datetime, str | None], StepResult]] = {
    "build": _build,
    "send": _send,
    APPROVAL_DEADLINE: _approval_deadline,
}


# -- helpers -----------------------------------------------------------------------------


def _next_send(schedule: Schedule, after: datetime) -> datetime:
    upcoming = schedule.next_runs(Step.SEND, after, 1)
    if not upcoming:
        raise ValueError(f"schedule {schedule.name} has no send after {after:%Y-%m-%d %H:%M}")
    return upcoming[0]


def _held(
    service: Service, schedule: Schedule, key: str | None, planned_for: datetime, why: Reason
) -> StepResult:
    what = key or f"de verzending van {schedule.name}"
    lines = [
        f"{what} is niet verstuurd op {date_and_time(planned_for)}.",
        f"Reden: {why.nl}.",
        "Er gaat niets ongemerkt of te laat de deur uit.",
    ]
    if key is None:
        lines.append(f"Bekijk de kalender in de console:\n{workflow.console_url(service)}")
    elif why is NOT_APPROVED:
        lines += [
            *workflow.console_action(service, key),
            "Na goedkeuring kan de editie met de hand worden verstuurd: met 'Nu versturen' op haar "
            f"pagina, of op de opdrachtregel:\ncomms send {key} --now --by GEBRUIKERSNAAM",
        ]
    else:
        lines += workflow.console_action(service, key, "Bekijken en zo nodig met de hand versturen", "send")
    return StepResult(JobRunOutcome.HELD, why.en, key, [TeamNotice(f"Niet verstuurd: {what}", lines)])


NOT_APPROVED = Reason(
    "not approved by the planned send time", "niet goedgekeurd vóór de geplande verzendtijd"
)
NOTHING_BUILT = Reason(
    "no edition was built for this send", "er is voor deze verzending geen editie opgebouwd"
)


def _too_late(late: timedelta) -> Reason:
    return Reason(
        f"started {_minutes(late)} late, beyond the staleness limit",
        f"de verzending zou {late_text(late)} te laat beginnen, later dan het schema toestaat",
    )


def _outside_window(window: SendWindow) -> Reason:
    return Reason(
        f"outside the send window {window.describe()}", f"buiten de verzendtijden ({window.describe_dutch()})"
    )


def _withdrawn(status: EditionStatus, reason: Reason | None) -> Reason:
    return Reason(
        f"{status}: {reason.en}" if reason else str(status),
        f"de editie is {status.label}" + (f" ({reason.nl})" if reason else ""),
    )


def late_text(delta: timedelta) -> str:
    """'45 minuten', '1 uur en 5 minuten': how late, for the team."""
    minutes = int(delta.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    parts = [HOUR.count(hours)] if hours else []
    if rest or not hours:
        parts.append(MINUTE.count(rest))
    return " en ".join(parts)


def _approval_requests(service: Service, keys: list[str], schedule: Schedule) -> list[TeamNotice]:
    """The drafts a triggered build made, put before the team: one request for one draft, one
    list for several (a schedule of agenda notices that requires approval)."""
    drafts = [r for key in keys for r in editions.status(service, key) if r.status == EditionStatus.DRAFT]
    if len(drafts) > 1:
        lines = [
            f"{len(drafts)} mailings wachten op goedkeuring. Bekijken en goedkeuren:",
            *(f"- {r.subject}:\n  {workflow.console_url(service, r.key)}" for r in drafts),
            "of op de opdrachtregel:\ncomms approve EDITIE --by GEBRUIKERSNAAM",
        ]
        return [TeamNotice(f"Ter goedkeuring: {len(drafts)} mailings van {schedule.name}", lines)]
    requests = []
    for report in drafts:
        deadline = report.send_at - schedule.approval_deadline if report.send_at else None
        size = editions.audience_count(service, report.key)
        notice = workflow.approval_request(
            service, report.key, report.subject, size, report.send_at, deadline
        )
        requests.append(notice)
    return requests


def _build_notes(problems: list[Problem]) -> list[str]:
    """What the build reported (items left out, a variant too large for Gmail), for the team."""
    if not problems:
        return []
    return ["Meldingen bij het opbouwen:", *(f"- {p}" for p in problems[:25])]


def _problems_notice(kind: MailingKind, problems: list[Problem]) -> TeamNotice:
    return TeamNotice(
        f"{kind.label}: {NOTE.count(len(problems))}",
        [
            f"Bij het opbouwen ({kind.label.lower()}) is het volgende gevonden:",
            *(str(p) for p in problems[:50]),
        ],
    )


def _listed(keys: list[str]) -> str:
    return ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "") if keys else "none"


def _failed(schedule: Schedule, step: str, planned_for: datetime, detail: str) -> StepResult:
    return StepResult(
        JobRunOutcome.FAILED, detail, None, [_failed_notice(schedule, step, planned_for, detail)]
    )


def _failed_notice(schedule: Schedule, step: str, planned_for: datetime, detail: str) -> TeamNotice:
    return TeamNotice(
        f"Mislukt: {_step_label(step)} van {schedule.name}",
        [
            f"De {_step_label(step)} van {schedule.name} (gepland {date_and_time(planned_for)}) is mislukt.",
            f"Fout: {detail}",
        ],
    )


def _step_label(step: str) -> str:
    return {"build": "opbouw", "send": "verzending", APPROVAL_DEADLINE: "goedkeuringsherinnering"}.get(
        step, step
    )


def _minutes(delta: timedelta) -> str:
    return f"{int(delta.total_seconds() // 60)} min"
