"""`comms status`: the editions and their message counts. Kept apart from comms.cli.editions so
that it loads the ledger queries only (the command people run most, and from scripts)."""

from __future__ import annotations

import click
from rich.table import Table

from comms.cli.base import handles_failures, local_minute, local_or_dash, out, service_of
from comms.dates import utcnow
from comms.operations import status as editions


@click.command()
@click.argument("edition", required=False)
@click.option(
    "--all", "everything", is_flag=True, help="Also sent editions older than 30 days, and discarded ones."
)
@click.pass_context
@handles_failures
def status(ctx: click.Context, edition: str | None, everything: bool) -> None:
    """Editions by planned send time, with their message counts: those still to go out and those
    sent in the last 30 days (--all: every edition). With EDITION, also the failure reasons.
    For the team's view of what goes out when, see `comms calendar`."""
    service = service_of(ctx)
    if edition:
        reports, left_out = editions.status(service, edition), 0
    else:
        listed = editions.listing(service, utcnow(), everything)
        reports, left_out = listed.shown, listed.left_out
    counted = ("pending", "claimed", "sent", "failed", "uncertain", "suppressed")
    table = Table("edition", "status", "planned (Dutch time)", "built", *counted)
    for r in reports:
        state = r.status + (f" ({r.reason.en})" if r.reason else "")
        planned = local_or_dash(r.send_at)
        table.add_row(r.key, state, planned, local_minute(r.built_at), *(str(r.counts[k]) for k in counted))
    out.print(table if reports else "no current editions" if left_out else "no editions yet")
    if left_out:
        out.print(
            f"{left_out} finished edition{'' if left_out == 1 else 's'} not listed "
            "(sent more than 30 days ago, or discarded): comms status --all"
        )
    if edition:
        for reason, count in reports[0].failures:
            out.print(f"  failed {count}×: {reason}")
        for reason, count in reports[0].uncertainties:
            out.print(f"  uncertain {count}× (perhaps delivered): {reason}")


commands = [status]
