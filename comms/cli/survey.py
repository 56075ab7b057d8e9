"""`comms survey start|remind|status|results`: the half-yearly evaluation surveys."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from comms.cli.base import by_option, handles_failures, local_or_dash, out, service_of
from comms.clock import SystemClock
from comms.dates import utcnow
from comms.operations import surveys
from comms.operations.surveys import SurveyResultsOutcome
from comms.survey.report import results_renderables


@click.group()
def survey() -> None:
    """Half-yearly evaluation surveys: start a round, remind, results."""


@survey.command("start")
@click.argument("round_", metavar="ROUND")
@by_option(required=False)
@click.pass_context
@handles_failures
def survey_start(ctx: click.Context, round_: str, by: str | None) -> None:
    """Invite the round's audience (once); the invitation goes out when the round opens, once
    approved where the survey schedule requires approval."""
    started = surveys.start(service_of(ctx), round_, SystemClock(), by)
    key, invited = started.edition_key, started.start.invited
    when = "now" if started.sent_now else f"at {local_or_dash(started.start.send_at)}"
    if started.start.needs_approval:
        out.print(
            f"round {round_}: {invited} invitee(s); invitation {key} waits for approval "
            f"(comms approve {key}), then goes out {when}"
        )
        return
    out.print(f"round {round_}: {invited} invitee(s); invitation {key} goes out {when}")


@survey.command("remind")
@by_option(required=False)
@click.pass_context
@handles_failures
def survey_remind(ctx: click.Context, by: str | None) -> None:
    """Build the reminders the policy says are due and start them (the workers deliver)."""
    reminded = surveys.remind(service_of(ctx), SystemClock(), by)
    started = reminded.started
    out.print(
        f"{len(reminded.created)} reminder(s) built, {len(started)} mailing(s) started: "
        f"{', '.join(started) or '-'}"
    )


@survey.command("status")
@click.pass_context
@handles_failures
def survey_status(ctx: click.Context) -> None:
    """Each round: open and close, invitees, answers, reminders sent."""
    table = Table("round", "title", "opens", "closes", "invited", "answered", "reminders received")
    rows = surveys.status(service_of(ctx))
    for r in rows:
        reminders = "; ".join(reminders_received(n, count) for n, count in sorted(r.reminders.items()))
        table.add_row(
            r.round,
            r.title,
            local_or_dash(r.opens_at),
            local_or_dash(r.closes_at),
            str(r.invited),
            str(r.answered),
            reminders,
        )
    out.print(table if rows else "no survey rounds started yet")


def reminders_received(reminders: int, invitees: int) -> str:
    """'no reminder yet: 681 invitees', '1 reminder: 1 invitee', '2 reminders: 12 invitees'."""
    what = "no reminder yet" if reminders == 0 else f"{reminders} reminder{'' if reminders == 1 else 's'}"
    return f"{what}: {invitees} invitee{'' if invitees == 1 else 's'}"


@survey.command("results")
@click.argument("round_", metavar="ROUND")
@click.option(
    "--csv", "csv_path", type=click.Path(path_type=Path, dir_okay=False), help="Write the answers as CSV."
)
@click.option(
    "--charts", "charts_dir", type=click.Path(path_type=Path, file_okay=False), help="Write SVG charts."
)
@click.option("--link", is_flag=True, help="Print a link to the results page for the team (30 days).")
@click.pass_context
@handles_failures
def survey_results(
    ctx: click.Context, round_: str, csv_path: Path | None, charts_dir: Path | None, link: bool
) -> None:
    """Response rates per role and province, each question's answers, comparison with the last round."""
    service = service_of(ctx)
    print_results(surveys.results(service, round_, csv_path, charts_dir), out)
    if link:
        out.print(f"results page: {surveys.results_link(service, round_, utcnow())}")


def print_results(outcome: SurveyResultsOutcome, console: Console) -> None:
    for renderable in results_renderables(outcome.results):
        console.print(renderable)
    for written in outcome.written:
        console.print(Text(f"wrote {written}"))


commands = [survey]
