"""`comms migrate`: bring the database schema up to date. The long-running processes (`comms
serve`, `worker`, `web`) and `comms demo` migrate when they start; every other command only
checks the schema and asks for this when it is behind."""

from __future__ import annotations

import click

from comms.cli.base import config_of, handles_failures, out
from comms.store.database import Database


@click.command()
@click.pass_context
@handles_failures
def migrate(ctx: click.Context) -> None:
    """Bring the database schema up to date (the services do so when they start)."""
    config = config_of(ctx)
    db = Database(config.database_url, config.base_dir)
    try:
        before = db.schema_revision()
        db.migrate()
        after = db.schema_revision()
    finally:
        db.dispose()
    if before == after:
        out.print(f"database schema at {after}: up to date")
    else:
        out.print(f"database schema migrated from {before or 'nothing'} to {after}")


commands = [migrate]
