"""`comms check`: everything that can be validated before anything is due."""

from __future__ import annotations

import click

from comms.cli.base import Failed, config_of, out, report
from comms.operations.checks import run_checks


@click.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate configuration, templates, audiences and schedules; list every error."""
    config = config_of(ctx)
    problems = run_checks(config)
    report(problems)
    errors = [p for p in problems if p.is_error]
    if errors:
        raise Failed(f"{len(errors)} error(s) in {config.path}")
    out.print(f"ok: configuration, templates, audiences and schedules are valid ({len(problems)} warning(s))")


commands = [check]
