"""Editions of any kind: `comms newsletter build`, `preview`, `test-send`, `approve`, `hold`,
`discard`, `send` and `status`."""

from __future__ import annotations

import getpass
import sys
from datetime import datetime
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from comms.cli.base import Failed, counts_text, err, handles_failures, out, report, service_of
from comms.clock import Clock, SystemClock
from comms.dates import local, utcnow
from comms.deliver.transport import TransportUnavailable
from comms.kinds import BuildOutcome, BuildRequest
from comms.operations import editions
from comms.operations.editions import SendOutcome
from comms.service import Service

NEWSLETTER = "newsletter"


@click.group()
def newsletter() -> None:
    """The monthly newsletter for Statenleden."""


@newsletter.command("build")
@click.option("--month", "month_text", metavar="YYYY-MM", help="Edition month (default: this month).")
@click.pass_context
@handles_failures
def newsletter_build(ctx: click.Context, month_text: str | None) -> None:
    """Compose and render the month's edition from the item ledger, as a draft."""
    if month_text:
        try:  # a usage error (exit 2), before the configuration is read
            editions.check_period(NEWSLETTER, month_text)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--month") from exc
    build_and_show(service_of(ctx), NEWSLETTER, BuildRequest(utcnow(), period=month_text))


def build_and_show(service: Service, kind: str, request: BuildRequest) -> BuildOutcome:
    outcome = editions.build(service, kind, request)
    report(outcome.problems)
    if outcome.is_held:
        err.print(f"held: {outcome.key}: {outcome.status_reason}")
        raise Failed(f"{outcome.key} is held and will not be sent")
    out.print(
        f"built {outcome.key} ({outcome.status}): {outcome.contents}, {outcome.audience_size} recipients"
    )
    return outcome


@click.command()
@click.argument("edition")
@click.option("--contact", metavar="EMAIL", help="Personalise the preview for this contact.")
@click.option("--text", "as_text", is_flag=True, help="Print the plain-text part instead.")
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    help="HTML file to write (default: outbox/preview-EDITION.html).",
)
@click.pass_context
@handles_failures
def preview(
    ctx: click.Context, edition: str, contact: str | None, as_text: bool, output: Path | None
) -> None:
    """Show an edition as a recipient would see it."""
    service = service_of(ctx)
    html, text = editions.preview(service, edition, contact)
    if as_text:
        out.print(text, markup=False)
        return
    target = output or service.outbox_dir / f"preview-{edition}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    out.print(f"preview written to {target}")


@click.command()
@click.argument("edition")
@click.option("--by", default=None, help="Who approves (default: the current user).")
@click.pass_context
@handles_failures
def approve(ctx: click.Context, edition: str, by: str | None) -> None:
    """Approve a draft edition for sending."""
    approved = editions.approve(service_of(ctx), edition, by or getpass.getuser(), utcnow())
    out.print(f"approved {approved.key} by {approved.approved_by}")


@click.command()
@click.argument("edition")
@click.option("--reason", required=True, help="Why it is held (the team sees this).")
@click.option("--by", default=None, help="Who holds it (default: the current user).")
@click.pass_context
@handles_failures
def hold(ctx: click.Context, edition: str, reason: str, by: str | None) -> None:
    """Hold a draft or approved edition: it does not go out until it is rebuilt and approved."""
    held = editions.hold(service_of(ctx), edition, by or getpass.getuser(), reason)
    out.print(f"held {held.key}: {held.status_reason}")


@click.command()
@click.argument("edition")
@click.option("--by", default=None, help="Who discards it (default: the current user).")
@click.pass_context
@handles_failures
def discard(ctx: click.Context, edition: str, by: str | None) -> None:
    """Discard an edition that has not started sending: it does not go out."""
    discarded = editions.discard(service_of(ctx), edition, by or getpass.getuser())
    out.print(f"discarded {discarded.key}")


@click.command()
@click.argument("edition")
@click.option(
    "--dry-run",
    is_flag=True,
    help="SendGrid sandbox: validate every request, deliver nothing, change no ledger.",
)
@click.pass_context
@handles_failures
def send(ctx: click.Context, edition: str, dry_run: bool) -> None:
    """Send an approved edition; resumes one that was interrupted, never sends twice."""
    service = service_of(ctx)
    if dry_run:
        name, outcome = editions.dry_run(service, edition)
        out.print(f"dry run of {edition} ({name} sandbox): {outcome.accepted} accepted, nothing delivered")
        for reason, count in outcome.failures:
            out.print(f"  would fail {count}×: {reason}")
        if outcome.failures:
            raise Failed(f"{sum(n for _, n in outcome.failures)} message(s) would fail")
        return
    send_and_show(service, edition)


def send_and_show(service: Service, key: str, clock: Clock | None = None) -> SendOutcome:
    clock = clock or SystemClock()
    with _progress() as progress:
        task = progress.add_task(f"sending {key}", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, advance=done, total=total)
            if not sys.stdout.isatty():  # a plain line per batch for logs and pipes
                print(f"sent {int(progress.tasks[0].completed)}/{total}", flush=True)

        try:
            outcome = editions.send_now(service, key, clock, advance)
        except TransportUnavailable as exc:
            raise Failed(
                f"{exc}; stopped, the unsent messages wait in the ledger (run comms send again)"
            ) from exc
    if outcome.already_sent:
        out.print(f"{key} was already sent; nothing sent again")
    else:
        out.print(f"{key}: {outcome.delivered_now} delivered now; ledger: {counts_text(outcome.counts)}")
    return outcome


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=out,
        disable=not out.is_terminal,
    )


@click.command()
@click.argument("edition", required=False)
@click.pass_context
@handles_failures
def status(ctx: click.Context, edition: str | None) -> None:
    """Editions and their message counts; with EDITION, also the failure reasons."""
    reports = editions.status(service_of(ctx), edition)
    counted = ("pending", "claimed", "sent", "failed", "uncertain", "suppressed")
    table = Table("edition", "status", "built", *counted)
    for r in reports:
        state = r.status + (f" ({r.status_reason})" if r.status_reason else "")
        table.add_row(r.key, state, _minute(r.built_at), *(str(r.counts[k]) for k in counted))
    out.print(table if reports else "no editions yet")
    if edition:
        for reason, count in reports[0].failures:
            out.print(f"  failed {count}×: {reason}")
        for reason, count in reports[0].uncertainties:
            out.print(f"  uncertain {count}× (perhaps delivered): {reason}")


def _minute(moment: datetime) -> str:
    return f"{local(moment):%Y-%m-%d %H:%M}"


@click.command("test-send")
@click.argument("edition")
@click.option(
    "--to",
    "addresses",
    multiple=True,
    required=True,
    metavar="ADDRESS",
    help="Where the test copy goes (repeat for more, at most 10).",
)
@click.pass_context
@handles_failures
def test_copy(ctx: click.Context, edition: str, addresses: tuple[str, ...]) -> None:
    """Send one marked test copy of EDITION (even a draft) to these addresses only; the real send
    is not affected."""
    service = service_of(ctx)
    try:
        outcome = editions.send_test_copy(service, edition, addresses, SystemClock())
    except TransportUnavailable as exc:
        raise Failed(f"{exc}; no test copy was sent") from exc
    for address in outcome.delivered:
        out.print(f"test copy of {edition} sent to {address} ({outcome.destination})")
    for address, reason in outcome.failed:
        err.print(f"test copy of {edition} not sent to {address}: {reason}")
    if outcome.failed:
        raise Failed(f"the test copy did not reach {len(outcome.failed)} address(es)")


commands = [newsletter, preview, approve, hold, discard, send, status, test_copy]
