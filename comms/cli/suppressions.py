"""`comms suppressions list|add|remove`: addresses that must not receive mail, by hand."""

from __future__ import annotations

import click
from rich.table import Table

from comms.cli.base import Failed, handles_failures, out, service_of
from comms.dates import local, utcnow
from comms.operations import suppressions as service_suppressions
from comms.problems import ValidationFailed


@click.group()
def suppressions() -> None:
    """Addresses that must not receive mail (unsubscribes, bounces), managed by hand."""


@suppressions.command("list")
@click.option("--email", help="Only this address.")
@click.pass_context
@handles_failures
def suppressions_list(ctx: click.Context, email: str | None) -> None:
    """Every suppression with its scope (a mailing kind, or * for all) and reason."""
    rows = service_suppressions.listed(service_of(ctx), email)
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
    _check_scope(scope)
    added = service_suppressions.add(service_of(ctx), email, scope, utcnow())
    out.print(f"{email}: suppressed ({scope})" if added else f"{email} was already suppressed ({scope})")


@suppressions.command("remove")
@click.argument("email")
@click.option("--scope", default="*", show_default=True)
@click.pass_context
@handles_failures
def suppressions_remove(ctx: click.Context, email: str, scope: str) -> None:
    """Lift a suppression a person may lift (not a hard bounce or a spam report)."""
    _check_scope(scope)
    if not service_suppressions.lift(service_of(ctx), email, scope):
        raise Failed(f"{email}: no suppression ({scope}) that may be lifted; bounces and spam reports stay")
    out.print(f"{email}: suppression ({scope}) removed")


def _check_scope(scope: str) -> None:
    """An unknown scope is a usage error (exit 2), found before the configuration is read."""
    try:
        service_suppressions.check_scope(scope)
    except ValidationFailed as exc:
        raise click.BadParameter(exc.problems[0].reason, param_hint="--scope") from exc


commands = [suppressions]
