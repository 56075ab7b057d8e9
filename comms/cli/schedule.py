"""`comms schedule list|runs`: the scheduled jobs in schedules/*.toml and what they did."""

from __future__ import annotations

from datetime import datetime, timedelta

import click
from rich.table import Table

from comms.cli.base import Failed, config_of, handles_failures, out, report, service_of
from comms.dates import local_text, start_of_day, utcnow
from comms.kinds import Step
from comms.operations import schedules as service_schedules
from comms.operations.schedules import Schedule


@click.group()
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
    """Each job's next runs in Dutch time, with the approval deadline and the send window: the
    operator's view of the cron jobs. What goes out when, to whom and in which state (the team's
    view) is `comms calendar`."""
    config = config_of(ctx)
    # Just before midnight, so a run at 00:00 on the first day is listed (runs are strictly after).
    after = start_of_day(start.date()) - timedelta(microseconds=1) if start else utcnow()
    schedules, problems = service_schedules.schedules(config, after)
    report(problems)
    errors = sum(p.is_error for p in problems)
    if errors:
        raise Failed(f"{errors} error(s) in {config.resolve(config.schedules_dir)}")
    out.print(_schedule_table(schedules, after, count) if schedules else "no schedules")


@schedule.command("runs")
@click.option("--limit", default=30, show_default=True, type=click.IntRange(min=1))
@click.pass_context
@handles_failures
def schedule_runs(ctx: click.Context, limit: int) -> None:
    """What the scheduler did: each planned run, newest first, and its outcome."""
    table = Table("planned", "schedule", "step", "outcome", "edition", "detail")
    rows = service_schedules.recent_runs(service_of(ctx), limit)
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


def _schedule_table(schedules: list[Schedule], after: datetime, count: int) -> Table:
    table = Table("schedule", "step", "cron", "next runs", "approval by", "window")
    for item in schedules:
        for step in item.steps:
            runs = item.next_runs(step, after, count)
            is_send = step == Step.SEND
            dues = [item.approval_due(run) for run in runs] if is_send else []
            table.add_row(
                item.name,
                step,
                item.cron(step),
                "\n".join(local_text(run) for run in runs),
                "\n".join(local_text(due) if due else "not required" for due in dues),
                item.window.describe() if is_send else "",
            )
    return table


commands = [schedule]
