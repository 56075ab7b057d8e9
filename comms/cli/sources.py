"""`comms collect`: every source into the item and meeting ledgers."""

from __future__ import annotations

from datetime import datetime

import click
from rich.table import Table

from comms.cli.base import Failed, handles_failures, out, report, service_of
from comms.dates import utcnow
from comms.operations.sources import CollectOutcome
from comms.operations.sources import collect as collect_sources
from comms.service import Service


@click.command()
@click.pass_context
@handles_failures
def collect(ctx: click.Context) -> None:
    """Fetch every source into the item ledger; a broken source is reported and skipped (exit 1)."""
    outcome = collect_and_show(service_of(ctx), utcnow())
    if outcome.failed_sources:
        failed = outcome.failed_sources
        raise Failed(
            f"{len(failed)} source(s) could not be read: {', '.join(failed)}; the others were collected"
        )


def collect_and_show(service: Service, now: datetime) -> CollectOutcome:
    outcome = collect_sources(service, now)
    table = Table("source", "new", "known", "updated", "outcome")
    for name, (result, counts) in outcome.per_source.items():
        state = "skipped" if result.is_broken else ("not modified" if result.not_modified else "ok")
        table.add_row(name, str(counts.new), str(counts.known), str(counts.updated), state)
    out.print(table)
    report(outcome.problems)
    return outcome


commands = [collect]
