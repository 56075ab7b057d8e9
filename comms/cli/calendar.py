"""`comms calendar`: what goes out in the coming weeks, as the console's calendar shows it.

This is the team's view, so its content is Dutch (times in Dutch time); `comms schedule list`
is the operator's view of the cron jobs."""

from __future__ import annotations

import click
from rich.table import Table

from comms.cli.base import handles_failures, out, report, service_of
from comms.dates import long_date, utcnow
from comms.dutch import LOCAL_TIME, Noun, Verb, counted, moment
from comms.operations import calendar, recipients
from comms.operations.calendar import CalendarGroup

MAILINGS = Noun("mailing", "mailings")
ASKS = Verb("vraagt", "vragen")


@click.command("calendar")
@click.option(
    "--weeks",
    default=calendar.DEFAULT_WEEKS,
    show_default=True,
    type=click.IntRange(1, 53),
    help="How many weeks ahead.",
)
@click.option(
    "--kind", "kind", metavar="KIND", help="Only this mailing kind (e.g. newsletter, agenda-notice)."
)
@click.pass_context
@handles_failures
def calendar_command(ctx: click.Context, weeks: int, kind: str | None) -> None:
    """Every coming mailing of every kind: what, for whom, when, its state and what is needed
    from whom. The team's view, as the console's calendar: its content is in Dutch, times in
    Dutch time. (`comms schedule list` shows the cron jobs; `comms status` the message counts.)"""
    labels = recipients.kind_labels()
    if kind is not None and kind not in labels:
        raise click.BadParameter(
            f"unknown kind {kind!r}; one of: {', '.join(sorted(labels))}", param_hint="--kind"
        )
    service = service_of(ctx)
    seen = calendar.calendar(service, utcnow(), weeks)
    report(seen.problems)
    groups = seen.groups(kind)
    title = f"Mailings van {long_date(seen.start)} tot en met {long_date(seen.end)}"
    if not groups:
        out.print(f"{title}: geen.")
        return
    table = Table(f"wanneer ({LOCAL_TIME})", "wat", "voor wie", "stand", "nodig", title=title)
    for group in groups:
        entry = group.first
        when = moment(entry.send_at) if entry.send_at else "nog geen verzendtijd gepland"
        table.add_row(when, _what(group), group.for_whom, entry.state.label, entry.need.text)
    out.print(table)
    shown = seen.only(kind)
    waiting = sum(e.need.asks_action_now for e in shown)
    out.print(f"{MAILINGS.count(len(shown))}; {counted(waiting, MAILINGS, ASKS)} nu om actie.")


def _what(group: CalendarGroup) -> str:
    """The kind and subject, and the key of each edition that exists (to approve it, for one):
    one planned but not built has none to use yet."""
    first = group.first
    lines = [first.kind.label, first.subject] if group.is_single and first.subject else [group.what]
    return "\n".join([*lines, *(e.key for e in group.entries if e.exists)])


commands = [calendar_command]
