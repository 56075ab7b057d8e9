"""`comms agenda plan|build|digest`: agenda notices to every province's GS, and the digest."""

from __future__ import annotations

import click
from rich.table import Table

from comms.cli.base import by_option, handles_failures, local_or_dash, out, report, service_of
from comms.clock import SystemClock
from comms.dates import utcnow
from comms.operations import agenda as service_agenda


@click.group()
def agenda() -> None:
    """Agenda notices to every province's GS, and the weekly digest for the griffies."""


@agenda.command("plan")
@click.pass_context
@handles_failures
def agenda_plan(ctx: click.Context) -> None:
    """Per upcoming meeting and province: when the notice goes out, for which GS meeting, to how many."""
    plan = service_agenda.plan_report(service_of(ctx), utcnow())
    rows = plan.rows
    report(plan.problems)
    for line in plan.missing:
        out.print(f"missing: {line}")
    table = Table("meeting", "province", "send", "for GS meeting", "state", "recipients")
    for row in rows:
        table.add_row(
            row.meeting,
            row.province,
            local_or_dash(row.send_at),
            local_or_dash(row.gs_meeting),
            row.state,
            str(row.recipients),
        )
    out.print(table if rows else "no upcoming meetings in the meeting ledger (run comms collect)")


@agenda.command("build")
@by_option(required=False)
@click.pass_context
@handles_failures
def agenda_build(ctx: click.Context, by: str | None) -> None:
    """Build every notice that is due to exist now, and start the ones whose time has come."""
    built = service_agenda.build_notices(service_of(ctx), SystemClock(), by=by)
    report(built.problems)
    for key in built.created:
        out.print(f"built {key}")
    for line in built.missing:
        out.print(f"missing: {line}")
    out.print(
        f"{len(built.created)} notice(s) built, {len(built.superseded)} superseded, "
        f"{len(built.started)} started"
    )


@agenda.command("digest")
@click.pass_context
@handles_failures
def agenda_digest(ctx: click.Context) -> None:
    """Build the agenda digest for the coming weeks as a draft (approve and send it as any edition)."""
    digest = service_agenda.build_digest(service_of(ctx), utcnow())
    out.print(f"built {digest.key} ({digest.status}): {digest.contents}, {digest.audience_size} recipients")


commands = [agenda]
