"""The `comms` command. Exit codes: 0 ok, 1 validation error, 2 usage error."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from comms import editions
from comms.audience.contacts import read_audience
from comms.audience.sync import import_contacts
from comms.clock import Clock, SystemClock
from comms.collect.run import collect_all
from comms.compose.newsletter import AlreadySent, Month
from comms.config import DEFAULT_CONFIG, Config, load_config
from comms.dates import local, utcnow
from comms.deliver.run import AcknowledgementFailed
from comms.deliver.transport import TransportUnavailable
from comms.deliver.transports import make_transport
from comms.problems import Problem, ValidationFailed
from comms.service import MissingSecret, Service

# Wide when piped, so tables in logs and tests are not squeezed to 80 columns.
_WIDTH = None if sys.stdout.isatty() else 200
# markup=False: what we print quotes user input ("[send]", "<b>"); rich must not read it as markup.
out = Console(highlight=False, markup=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, markup=False, soft_wrap=True, width=_WIDTH)


class Failed(click.ClickException):
    """A validation error: the problems are printed, the exit code is 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        err.print(Text.assemble(("error:", "bold red"), f" {self.message}"))


def report(problems: Iterable[Problem]) -> None:
    for problem in problems:
        label = ("error", "red") if problem.is_error else ("warning", "yellow")
        err.print(Text.assemble(label, f": {problem}"))


def handles_failures(command: Callable[..., None]) -> Callable[..., None]:
    """Turn the domain's exceptions into clear messages and exit code 1."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except ValidationFailed as exc:
            report(exc.problems)
            errors = sum(1 for p in exc.problems if p.is_error)
            raise Failed(f"{errors} problem(s) found; nothing was sent") from exc
        except (editions.EditionNotFound, MissingSecret, AlreadySent, AcknowledgementFailed) as exc:
            raise Failed(str(exc)) from exc

    return wrapper


def _config(ctx: click.Context) -> Config:
    path: Path = ctx.obj["config_path"]
    config, problems = load_config(path)
    report(problems)
    if config is None:
        raise Failed(f"{path}: configuration is not valid")
    return config


def _service(ctx: click.Context) -> Service:
    return Service.open(_config(ctx))


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_CONFIG,
    envvar="COMMS_CONFIG",
    show_default=True,
    help="The comms.toml to use.",
)
@click.version_option(package_name="comms")
@click.pass_context
def main(ctx: click.Context, config_path: Path) -> None:
    """comms: newsletters, agenda notices and surveys for the IPO and the twelve provinces."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


# -- validation -----------------------------------------------------------------------


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate configuration, templates, audiences and schedules; list every error."""
    from comms.checks import run_checks

    config = _config(ctx)
    problems = run_checks(config)
    report(problems)
    errors = [p for p in problems if p.is_error]
    if errors:
        raise Failed(f"{len(errors)} error(s) in {config.path}")
    out.print(f"ok: configuration, templates, audiences and schedules are valid ({len(problems)} warning(s))")


# -- audience and sources -------------------------------------------------------------


@main.group()
def audience() -> None:
    """Contacts and segments."""


@audience.command("import")
@click.pass_context
@handles_failures
def audience_import(ctx: click.Context) -> None:
    """Read the contact exports into the database; bad rows are listed, good rows kept."""
    service = _service(ctx)
    problems = _import_audience(service)
    if any(p.is_error for p in problems):
        raise Failed(f"{sum(p.is_error for p in problems)} row(s) not imported; the other rows were")


def _import_audience(service: Service) -> list[Problem]:
    files = service.config.contact_files()
    if not files:
        raise ValidationFailed(
            [
                Problem(
                    str(service.config.path),
                    f"no contact files match {list(service.config.contacts)}",
                )
            ]
        )
    result = read_audience(files)
    if result.file_errors:
        # Importing the rest would deactivate everyone in the lost file: change nothing.
        raise ValidationFailed(result.problems)
    report(result.problems)
    with service.db.session() as session:
        counts = import_contacts(session, result.contacts, utcnow())
    out.print(
        f"audience: {len(result.contacts)} contacts from {len(files)} file(s): "
        f"{counts.added} new, {counts.updated} updated, {counts.deactivated} no longer in the exports"
    )
    return result.problems


@main.command()
@click.pass_context
@handles_failures
def collect(ctx: click.Context) -> None:
    """Fetch every source into the item ledger; a broken source is reported and skipped."""
    _collect(_service(ctx), utcnow())


def _collect(service: Service, now: datetime) -> None:
    outcome = collect_all(service.config, service.db, now)
    table = Table("source", "new", "known", "updated", "outcome")
    for name, (result, counts) in outcome.per_source.items():
        state = "skipped" if result.is_broken else ("not modified" if result.not_modified else "ok")
        table.add_row(name, str(counts.new), str(counts.known), str(counts.updated), state)
    out.print(table)
    report(outcome.problems)


# -- editions -------------------------------------------------------------------------


@main.group()
def newsletter() -> None:
    """The monthly newsletter for Statenleden."""


@newsletter.command("build")
@click.option("--month", "month_text", metavar="YYYY-MM", help="Edition month (default: this month).")
@click.pass_context
@handles_failures
def newsletter_build(ctx: click.Context, month_text: str | None) -> None:
    """Compose and render the month's edition from the item ledger, as a draft."""
    now = utcnow()
    try:
        month = Month.parse(month_text) if month_text else Month.of(local(now))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from exc
    _build(_service(ctx), month, now)


def _build(service: Service, month: Month, now: datetime) -> editions.BuildOutcome:
    outcome = editions.build_newsletter(service, month, now)
    report(outcome.problems)
    edition = outcome.composition.edition
    if outcome.composition.is_held:
        err.print(f"held: {edition.key}: {edition.status_reason}")
        raise Failed(f"{edition.key} is held and will not be sent")
    content = outcome.composition.content
    out.print(
        f"built {edition.key} ({edition.status}): {content.item_count} items, "
        f"{outcome.audience_size} recipients"
    )
    return outcome


@main.command()
@click.argument("edition")
@click.option("--contact", metavar="EMAIL", help="Personalise the preview for this contact.")
@click.option("--text", "as_text", is_flag=True, help="Print the plain-text part instead.")
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    help="HTML file to write (default: outbox/preview-EDITION.html).",
)
@click.pass_context
@handles_failures
def preview(
    ctx: click.Context, edition: str, contact: str | None, as_text: bool, output: Path | None
) -> None:
    """Show an edition as a recipient would see it."""
    service = _service(ctx)
    html, text = editions.preview(service, edition, contact)
    if as_text:
        out.print(text, markup=False)
        return
    target = output or service.outbox_dir / f"preview-{edition}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    out.print(f"preview written to {target}")


@main.command()
@click.argument("edition")
@click.option("--by", default=None, help="Who approves (default: the current user).")
@click.pass_context
@handles_failures
def approve(ctx: click.Context, edition: str, by: str | None) -> None:
    """Approve a draft edition for sending."""
    approved = editions.approve(_service(ctx), edition, by or getpass.getuser(), utcnow())
    out.print(f"approved {approved.key} by {approved.approved_by}")


@main.command()
@click.argument("edition")
@click.option(
    "--dry-run",
    is_flag=True,
    help="SendGrid sandbox: validate every request, deliver nothing, change no ledger.",
)
@click.pass_context
@handles_failures
def send(ctx: click.Context, edition: str, dry_run: bool) -> None:
    """Send an approved edition; resumes one that was interrupted, never sends twice."""
    service = _service(ctx)
    if dry_run:
        clock = SystemClock()
        transport = make_transport(service.config, edition, clock, dry_run=True)
        outcome = editions.dry_run(service, edition, transport, clock)
        out.print(
            f"dry run of {edition} ({transport.name} sandbox): {outcome.accepted} accepted, nothing delivered"
        )
        for reason, count in outcome.failures:
            out.print(f"  would fail {count}×: {reason}")
        if outcome.failures:
            raise Failed(f"{sum(n for _, n in outcome.failures)} message(s) would fail")
        return
    _send(service, edition)


def _send(service: Service, key: str, clock: Clock | None = None) -> editions.SendOutcome:
    clock = clock or SystemClock()
    transport = make_transport(service.config, key, clock)
    with _progress() as progress:
        task = progress.add_task(f"sending {key}", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, advance=done, total=total)
            if not sys.stdout.isatty():  # a plain line per batch for logs and pipes
                print(f"sent {int(progress.tasks[0].completed)}/{total}", flush=True)

        try:
            outcome = editions.send(service, key, transport, clock, advance)
        except TransportUnavailable as exc:
            raise Failed(
                f"{exc}; stopped, the unsent messages wait in the ledger (run comms send again)"
            ) from exc
    if outcome.already_sent:
        out.print(f"{key} was already sent; nothing sent again")
    else:
        out.print(f"{key}: {outcome.delivered_now} delivered now; ledger: {_counts(outcome.counts)}")
    return outcome


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=out,
        disable=not out.is_terminal,
    )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{status} {n}" for status, n in counts.items() if n) or "empty"


@main.command()
@click.argument("edition", required=False)
@click.pass_context
@handles_failures
def status(ctx: click.Context, edition: str | None) -> None:
    """Editions and their message counts; with EDITION, also the failure reasons."""
    reports = editions.status(_service(ctx), edition)
    table = Table("edition", "status", "built", "pending", "claimed", "sent", "failed", "suppressed")
    for r in reports:
        state = r.status + (f" ({r.status_reason})" if r.status_reason else "")
        c = r.counts
        table.add_row(
            r.key,
            state,
            f"{local(r.built_at):%Y-%m-%d %H:%M}",
            *(str(c[k]) for k in ("pending", "claimed", "sent", "failed", "suppressed")),
        )
    out.print(table if reports else "no editions yet")
    if edition:
        for reason, count in reports[0].failures:
            out.print(f"  failed {count}×: {reason}")


# -- suppressions and the web app ---------------------------------------------------


@main.group()
def suppressions() -> None:
    """Addresses that must not receive mail (unsubscribes, bounces), managed by hand."""


@suppressions.command("list")
@click.option("--email", help="Only this address.")
@click.pass_context
@handles_failures
def suppressions_list(ctx: click.Context, email: str | None) -> None:
    """Every suppression with its scope (a mailing kind, or * for all) and reason."""
    from comms.track.suppressions import list_suppressions

    service = _service(ctx)
    with service.db.session() as session:
        rows = list_suppressions(session, email)
        table = Table("address", "scope", "reason", "since")
        for row in rows:
            table.add_row(row.email, row.scope, row.reason, f"{local(row.created_at):%Y-%m-%d %H:%M}")
    out.print(table if rows else "no suppressions")


@suppressions.command("add")
@click.argument("email")
@click.option("--scope", default="*", show_default=True, help="A mailing kind, or * for every kind.")
@click.pass_context
@handles_failures
def suppressions_add(ctx: click.Context, email: str, scope: str) -> None:
    """Stop all mail (or one kind) to an address, at once and for every later send."""
    from comms.track.suppressions import ADDED_BY_HAND, suppress

    _check_scope(scope)
    service = _service(ctx)
    with service.db.session() as session:
        added = suppress(session, email, scope, ADDED_BY_HAND, utcnow())
    out.print(f"{email}: suppressed ({scope})" if added else f"{email} was already suppressed ({scope})")


@suppressions.command("remove")
@click.argument("email")
@click.option("--scope", default="*", show_default=True)
@click.pass_context
@handles_failures
def suppressions_remove(ctx: click.Context, email: str, scope: str) -> None:
    """Lift a suppression a person may lift (not a hard bounce or a spam report)."""
    from comms.track.suppressions import unsuppress

    _check_scope(scope)
    service = _service(ctx)
    with service.db.session() as session:
        removed = unsuppress(session, email, scope)
    if not removed:
        raise Failed(f"{email}: no suppression ({scope}) that may be lifted; bounces and spam reports stay")
    out.print(f"{email}: suppression ({scope}) removed")


def _check_scope(scope: str) -> None:
    from comms.track.preferences import MAILING_KINDS

    if scope != "*" and scope not in MAILING_KINDS:
        raise click.BadParameter(
            f"{scope!r} is not a mailing kind ({', '.join(MAILING_KINDS)}) or *", param_hint="--scope"
        )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.pass_context
@handles_failures
def web(ctx: click.Context, host: str, port: int) -> None:
    """Serve the recipients' pages and SendGrid's event webhook (uvicorn)."""
    import uvicorn

    from comms.web.app import create_app

    service = _service(ctx)
    service.signer()  # no links can be checked without the key: say so now, not per request
    uvicorn.run(create_app(service), host=host, port=port, proxy_headers=True, server_header=False)


# -- agenda notices and the digest (comms agenda …) -------------------------------------


@main.group()
def agenda() -> None:
    """Agenda notices to every province's GS, and the weekly digest for the griffies."""


@agenda.command("plan")
@click.pass_context
@handles_failures
def agenda_plan(ctx: click.Context) -> None:
    """Per upcoming meeting and province: when the notice goes out, for which GS meeting, to how many."""
    from comms import agenda as agenda_job

    service = _service(ctx)
    rows, problems = agenda_job.plan_report(service, utcnow())
    report(problems)
    table = Table("meeting", "province", "send", "for GS meeting", "state", "recipients")
    for row in rows:
        table.add_row(
            row.meeting,
            row.province,
            _local_or_dash(row.send_at),
            _local_or_dash(row.gs_meeting),
            row.state,
            str(row.recipients),
        )
    out.print(table if rows else "no upcoming meetings in the meeting ledger (run comms collect)")


@agenda.command("build")
@click.pass_context
@handles_failures
def agenda_build(ctx: click.Context) -> None:
    """Build every notice that is due to exist now, and start the ones whose time has come."""
    from comms import agenda as agenda_job

    service = _service(ctx)
    built = agenda_job.build_notices(service, utcnow())
    report(built.problems)
    started = agenda_job.start_due_notices(service, SystemClock())
    for notice in built.created:
        out.print(f"built {notice.key}")
    out.print(
        f"{len(built.created)} notice(s) built, {len(built.superseded)} superseded, {len(started)} started"
    )


@agenda.command("digest")
@click.pass_context
@handles_failures
def agenda_digest(ctx: click.Context) -> None:
    """Build the agenda digest for the coming weeks as a draft (approve and send it as any edition)."""
    from comms import agenda as agenda_job

    digest = agenda_job.build_digest(_service(ctx), utcnow())
    out.print(f"built {digest.key} (draft): {digest.meetings} meeting(s), {digest.audience_size} recipients")


def _local_or_dash(moment: datetime | None) -> str:
    return f"{local(moment):%Y-%m-%d %H:%M %Z}" if moment else "-"


# -- surveys (comms survey …) ----------------------------------------------------------


@main.group()
def survey() -> None:
    """Half-yearly evaluation surveys: start a round, remind, results."""


@survey.command("start")
@click.argument("round_", metavar="ROUND")
@click.pass_context
@handles_failures
def survey_start(ctx: click.Context, round_: str) -> None:
    """Invite the round's audience (once); the invitation goes out when the round opens."""
    from comms.survey import rounds

    service = _service(ctx)
    started = rounds.start_round(service, round_, utcnow())
    sent = rounds.start_due(service, SystemClock())
    when = "now" if started.edition_key in sent else f"at {local(started.send_at):%Y-%m-%d %H:%M %Z}"
    out.print(
        f"round {round_}: {started.invited} invitee(s); invitation {started.edition_key} goes out {when}"
    )


@survey.command("remind")
@click.pass_context
@handles_failures
def survey_remind(ctx: click.Context) -> None:
    """Build the reminders the policy says are due and start them (the workers deliver)."""
    from comms.survey import rounds

    service = _service(ctx)
    created = rounds.build_reminders(service, utcnow())
    started = rounds.start_due(service, SystemClock())
    out.print(
        f"{len(created)} reminder(s) built, {len(started)} mailing(s) started: {', '.join(started) or '-'}"
    )


@survey.command("status")
@click.pass_context
@handles_failures
def survey_status(ctx: click.Context) -> None:
    """Each round: open and close, invitees, answers, reminders sent."""
    from comms.survey import rounds

    table = Table("round", "title", "opens", "closes", "invited", "answered", "reminders sent (invitees)")
    rows = rounds.status(_service(ctx))
    for r in rows:
        reminders = ", ".join(f"{n}×: {count}" for n, count in sorted(r.reminders.items()))
        table.add_row(
            r.round,
            r.title,
            _local_or_dash(r.opens_at),
            _local_or_dash(r.closes_at),
            str(r.invited),
            str(r.answered),
            reminders,
        )
    out.print(table if rows else "no survey rounds started yet")


@survey.command("results")
@click.argument("round_", metavar="ROUND")
@click.option(
    "--csv", "csv_path", type=click.Path(path_type=Path, dir_okay=False), help="Write the answers as CSV."
)
@click.option(
    "--charts", "charts_dir", type=click.Path(path_type=Path, file_okay=False), help="Write SVG charts."
)
@click.option("--link", is_flag=True, help="Print a link to the results page for the team (30 days).")
@click.pass_context
@handles_failures
def survey_results(
    ctx: click.Context, round_: str, csv_path: Path | None, charts_dir: Path | None, link: bool
) -> None:
    """Response rates per role and province, each question's answers, comparison with the last round."""
    from comms.survey import report

    service = _service(ctx)
    try:
        report.print_results(service, round_, out, csv_path, charts_dir)
    except LookupError as exc:
        raise Failed(str(exc)) from exc
    if link:
        from comms.web.survey_results import results_link

        out.print(f"results page: {results_link(service, round_, utcnow())}")


# -- schedules (comms schedule …) ---------------------------------------------------


@main.group()
def schedule() -> None:
    """The scheduled jobs in schedules/*.toml."""


@schedule.command("list")
@click.option("--count", default=3, show_default=True, type=click.IntRange(min=1), help="Next runs per job.")
@click.option(
    "--from",
    "start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="List runs from the start of this day, Dutch time (default: now).",
)
@click.pass_context
def schedule_list(ctx: click.Context, count: int, start: datetime | None) -> None:
    """Each job's next runs in Dutch time, with the approval deadline and the send window."""
    from datetime import timedelta

    from comms.schedule.definitions import start_of_day

    config = _config(ctx)
    # Just before midnight, so a run at 00:00 on the first day is listed (runs are strictly after).
    after = start_of_day(start.date()) - timedelta(microseconds=1) if start else utcnow()
    schedules, problems = _load_schedules(config, after)
    errors = sum(p.is_error for p in problems)
    if errors:
        raise Failed(f"{errors} error(s) in {config.resolve(config.schedules_dir)}")
    out.print(_schedule_table(schedules, after, count) if schedules else "no schedules")


def _load_schedules(config: Config, now: datetime) -> tuple[list[Any], list[Problem]]:
    """The schedules and their problems (reported), checked as `comms check` does; no database."""
    from comms.schedule.definitions import schedules_of

    schedules, problems = schedules_of(config, now)
    report(problems)
    return schedules, problems


@schedule.command("runs")
@click.option("--limit", default=30, show_default=True, type=click.IntRange(min=1))
@click.pass_context
@handles_failures
def schedule_runs(ctx: click.Context, limit: int) -> None:
    """What the scheduler did: each planned run, newest first, and its outcome."""
    from comms.schedule.definitions import local_text
    from comms.schedule.runs import recent

    service = _service(ctx)
    table = Table("planned", "schedule", "step", "outcome", "edition", "detail")
    rows = recent(service.db, limit)
    for run in rows:
        table.add_row(
            local_text(run.planned_for),
            run.schedule,
            run.step,
            run.outcome,
            run.edition_key or "",
            run.detail or "",
        )
    out.print(table if rows else "no scheduled runs yet")


def _schedule_table(schedules: list[Any], after: datetime, count: int) -> Table:
    from comms.schedule.definitions import STEPS, local_text

    table = Table("schedule", "step", "cron", "next runs", "approval by", "window")
    for item in schedules:
        for step in STEPS:
            runs = item.next_runs(step, after, count)
            dues = [item.approval_due(run) for run in runs] if step == "send" else []
            table.add_row(
                item.name,
                step,
                item.cron(step),
                "\n".join(local_text(run) for run in runs),
                "\n".join(local_text(due) if due else "not required" for due in dues),
                item.window.describe() if step == "send" else "",
            )
    return table


# -- worker and test copies (comms worker, comms test-send) --------------------------


@main.command()
@click.option(
    "--exit-when-idle",
    is_flag=True,
    help="Stop once nothing is due (retries waiting for a later time are left); for batch runs.",
)
@click.pass_context
@handles_failures
def worker(ctx: click.Context, exit_when_idle: bool) -> None:
    """Deliver the editions that are sending; start as many as you like (PostgreSQL scales out)."""
    import logging
    import signal
    import threading

    from comms.deliver.queue import worker_name
    from comms.deliver.run import AcknowledgementFailed
    from comms.worker import EditionRound, Worker

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    service = _service(ctx)
    clock = SystemClock()
    service.signer()  # a missing key stops the worker now, not at its first edition
    make_transport(service.config, "worker", clock)  # likewise a missing transport secret
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())  # finish the batch in hand, claim no more
    poll = service.config.serve.worker_poll_seconds
    out.print(
        f"worker {worker_name()} started; "
        + ("exits when idle" if exit_when_idle else f"looks for work every {poll:g} s")
    )

    def show(done: EditionRound) -> None:
        out.print(f"{done.key}: {done.delivered} delivered; ledger: {_counts(done.counts)}")

    try:
        delivered = Worker(service, clock, stop, on_round=show).run(exit_when_idle)
    except AcknowledgementFailed as exc:
        raise Failed(str(exc)) from exc
    state = "stopped" if stop.is_set() else "idle"
    out.print(f"worker {worker_name()} {state}: {delivered} delivered")


@main.command("test-send")
@click.argument("edition")
@click.option(
    "--to",
    "addresses",
    multiple=True,
    required=True,
    metavar="ADDRESS",
    help="Where the test copy goes (repeat for more, at most 10).",
)
@click.pass_context
@handles_failures
def test_copy(ctx: click.Context, edition: str, addresses: tuple[str, ...]) -> None:
    """Send one marked test copy of EDITION (even a draft) to these addresses only; the real send
    is not affected."""
    from comms.deliver.proofs import send_proofs

    service = _service(ctx)
    try:
        outcome = send_proofs(service, edition, addresses, SystemClock())
    except TransportUnavailable as exc:
        raise Failed(f"{exc}; no test copy was sent") from exc
    for address in outcome.delivered:
        out.print(f"test copy of {edition} sent to {address} ({outcome.destination})")
    for address, reason in outcome.failed:
        err.print(f"test copy of {edition} not sent to {address}: {reason}")
    if outcome.failed:
        raise Failed(f"the test copy did not reach {len(outcome.failed)} address(es)")


# -- the scheduled service (comms serve) ---------------------------------------------


@main.command()
@click.option("--host", default=None, help="Web app address (default: [serve] host).")
@click.option("--port", default=None, type=int, help="Web app port (default: [serve] port).")
@click.option("--no-worker", is_flag=True, help="Do not deliver in this process (run comms worker instead).")
@click.pass_context
@handles_failures
def serve(ctx: click.Context, host: str | None, port: int | None, no_worker: bool) -> None:
    """Run the schedules (as leader, or standby), a delivery worker and the web app."""
    import logging
    import threading

    import uvicorn

    from comms.schedule.definitions import schedules_of
    from comms.serve import Serve
    from comms.web.app import create_app

    _log_to_stderr()
    service = _service(ctx)
    service.signer()
    _, problems = schedules_of(service.config)
    if any(p.is_error for p in problems):
        raise ValidationFailed(problems)
    report(problems)
    stop = _stop_on_signals()
    clock = SystemClock()
    process = Serve(service, clock, stop)
    settings = service.config.serve
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(service, clock, process.health),
            host=host or settings.host,
            port=port or settings.port,
            proxy_headers=True,
            server_header=False,
            log_level="warning",
        )
    )
    threads = [threading.Thread(target=server.run, name="web", daemon=True)]
    if not no_worker:
        from comms.worker import Worker

        worker = Worker(service, clock, stop)

        def deliver() -> None:
            try:
                worker.run(exit_when_idle=False)
            except Exception:  # the whole process stops, so its supervisor restarts it whole
                logging.getLogger("comms.serve").exception("the delivery worker stopped; stopping")
                stop.set()

        threads.append(threading.Thread(target=deliver, name="worker", daemon=True))
    for thread in threads:
        thread.start()
    try:
        process.run_scheduler()
    finally:
        stop.set()
        server.should_exit = True
        for thread in threads:
            thread.join(timeout=60)
    out.print("stopped")


def _log_to_stderr() -> None:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _stop_on_signals() -> Any:
    """SIGTERM and SIGINT set the returned event: finish the batch in hand, then stop."""
    import signal
    import threading

    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    return stop


# -- demo -----------------------------------------------------------------------------


@main.command()
@click.option(
    "--outbox",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to write the messages (default: the configured outbox).",
)
@click.pass_context
@handles_failures
def demo(ctx: click.Context, outbox: Path | None) -> None:
    """Run the newsletter job on sample data: throwaway database, outbox transport."""
    from comms.demo import run_demo

    run_demo(_config(ctx), outbox, out, report)


if __name__ == "__main__":  # pragma: no cover
    main()
