"""`comms audience import`: the griffies' contact exports into the database."""

from __future__ import annotations

import click

from comms.cli.base import Failed, handles_failures, out, report, service_of
from comms.dates import utcnow
from comms.operations.audience import ImportOutcome, import_audience
from comms.service import Service


@click.group()
def audience() -> None:
    """Contacts and segments."""


@audience.command("import")
@click.pass_context
@handles_failures
def audience_import(ctx: click.Context) -> None:
    """Read the contact exports into the database; bad rows are listed, good rows kept."""
    outcome = import_and_show(service_of(ctx))
    if outcome.has_errors:
        raise Failed(f"{outcome.rows_left_out} row(s) not imported; the other rows were")


def import_and_show(service: Service) -> ImportOutcome:
    outcome = import_audience(service, utcnow())
    report(outcome.problems)
    counts = outcome.counts
    out.print(
        f"audience: {outcome.contacts} contacts from {outcome.files} file(s): "
        f"{counts.added} new, {counts.updated} updated, {counts.unchanged} unchanged, "
        f"{counts.deactivated} no longer in the exports"
    )
    return outcome


commands = [audience]
