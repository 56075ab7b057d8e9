"""`comms bounces read`: read the bounce mailbox once (what `comms serve` does every poll)."""

from __future__ import annotations

import click

from comms.cli.base import Failed, handles_failures, out, service_of
from comms.clock import SystemClock
from comms.operations import bounces as service_bounces


@click.group()
def bounces() -> None:
    """The bounce mailbox: DSNs, spam complaints and mail to the unsubscribe address."""


@bounces.command("read")
@click.pass_context
@handles_failures
def bounces_read(ctx: click.Context) -> None:
    """Read what is new in the bounce mailbox and apply it; unreadable mail is set aside."""
    outcome = service_bounces.read_bounce_mailbox(service_of(ctx), SystemClock())
    out.print(outcome.summary())
    for reason in outcome.unreadable:
        out.print(f"  set aside (left unread in the mailbox): {reason}")
    if outcome.unreadable:
        raise Failed(f"{len(outcome.unreadable)} message(s) could not be read; see the mailbox")


commands = [bounces]
