"""Editions of any kind: `comms newsletter build`, `rebuild`, `revisions`, `preview`,
`test-send`, `approve`, `hold`, `discard` and `send` (at the planned time, or `--now`); `status`
is comms.cli.status.
Who takes a step is `--by` (or COMMS_USER), never the operating-system user."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from comms.cli.base import (
    Failed,
    by_option,
    counts_text,
    err,
    handles_failures,
    local_minute,
    out,
    report,
    service_of,
)
from comms.clock import Clock, SystemClock
from comms.dates import utcnow
from comms.deliver.transport import TransportUnavailable
from comms.kinds import BuildOutcome, BuildRequest
from comms.operations import editions
from comms.operations.editions import SendOutcome
from comms.operations.workflow import planned_text
from comms.service import Service

NEWSLETTER = "newsletter"


@click.group()
def newsletter() -> None:
    """The monthly newsletter for Statenleden."""


@newsletter.command("build")
@click.option(
    "--month",
    "month_text",
    metavar="YYYY-MM",
    help="Edition month (default: the next edition the schedule plans).",
)
@by_option(required=False)
@click.pass_context
@handles_failures
def newsletter_build(ctx: click.Context, month_text: str | None, by: str | None) -> None:
    """Compose and render an edition from the item ledger, as a draft (an approved edition
    rebuilt becomes a draft again and must be approved again)."""
    if month_text:
        try:  # a usage error (exit 2), before the configuration is read
            editions.check_period(NEWSLETTER, month_text)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--month") from exc
    service, now = service_of(ctx), utcnow()
    month = month_text or editions.next_period(service, NEWSLETTER, now)
    build_and_show(service, NEWSLETTER, BuildRequest(now, period=month, by=by))


def build_and_show(service: Service, kind: str, request: BuildRequest) -> BuildOutcome:
    outcome = editions.build(service, kind, request)
    report(outcome.problems)
    if outcome.is_held:
        err.print(f"held: {outcome.key}: {outcome.reason}")
        raise Failed(f"{outcome.key} is held and will not be sent (discard it: comms discard {outcome.key})")
    out.print(
        f"built {outcome.key} revision {outcome.revision} ({outcome.status}): {outcome.contents}, "
        f"{outcome.audience_size} recipients"
    )
    if outcome.needs_reapproval:
        out.print(f"{outcome.key} was approved; this revision needs approving again (the team is told)")
    return outcome


@click.command()
@click.argument("edition")
@by_option(required=False)
@click.pass_context
@handles_failures
def rebuild(ctx: click.Context, edition: str, by: str | None) -> None:
    """Build an edition again for its own period: a new revision, a draft to approve."""
    outcome = editions.rebuild(service_of(ctx), edition, by or "", utcnow())
    report(outcome.problems)
    out.print(f"rebuilt {outcome.key}: revision {outcome.revision} ({outcome.status}), {outcome.contents}")
    if outcome.needs_reapproval:
        out.print(f"{outcome.key} was approved; this revision needs approving again (the team is told)")


@click.command()
@click.argument("edition")
@click.pass_context
@handles_failures
def revisions(ctx: click.Context, edition: str) -> None:
    """Every revision of an edition, the newest first: who built and who approved it."""
    table = Table("revision", "built", "built by", "approved", "approved by", "subject")
    for r in editions.revisions(service_of(ctx), edition):
        number = f"{r.number}{' (current)' if r.is_current else ''}"
        approved = local_minute(r.approved_at) if r.approved_at else "-"
        table.add_row(
            number, local_minute(r.built_at), r.built_by or "-", approved, r.approved_by or "-", r.subject
        )
    out.print(table)


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
@by_option()
@click.pass_context
@handles_failures
def approve(ctx: click.Context, edition: str, by: str) -> None:
    """Approve a draft edition: it goes out at its planned time (not earlier: send --now)."""
    service = service_of(ctx)
    approved = editions.approve(service, edition, by, utcnow())
    when = (
        f"it goes out {_planned(approved.send_at)}"
        if approved.send_at
        else "no planned time: comms send --now"
    )
    out.print(f"approved {approved.key} by {approved.approved_by} (revision {approved.revision}); {when}")


def _planned(send_at: datetime) -> str:
    return f"gepland voor {planned_text(send_at)}"


@click.command()
@click.argument("edition")
@click.option("--reason", required=True, help="Why it is held (the team sees this).")
@by_option()
@click.pass_context
@handles_failures
def hold(ctx: click.Context, edition: str, reason: str, by: str) -> None:
    """Hold a draft or approved edition: it does not go out until it is rebuilt and approved."""
    held = editions.hold(service_of(ctx), edition, by, reason, utcnow())
    out.print(f"held {held.key}: {held.status_reason}")


@click.command()
@click.argument("edition")
@by_option()
@click.pass_context
@handles_failures
def discard(ctx: click.Context, edition: str, by: str) -> None:
    """Discard an edition that has not started sending: it does not go out, and no schedule
    builds it again (building it by hand makes a new draft revision)."""
    discarded = editions.discard(service_of(ctx), edition, by, utcnow())
    out.print(f"discarded {discarded.key}")


@click.command()
@click.argument("edition")
@click.option(
    "--now",
    "early",
    is_flag=True,
    help="Send now, before the planned time or outside the send window (asks to confirm).",
)
@click.option("--yes", is_flag=True, help="With --now: do not ask to confirm.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="SendGrid sandbox: validate every request, deliver nothing, change no ledger.",
)
@by_option(required=False)
@click.pass_context
@handles_failures
def send(ctx: click.Context, edition: str, early: bool, yes: bool, dry_run: bool, by: str | None) -> None:
    """Send an approved edition whose planned time has come, inside its send window; resumes
    one that was interrupted, never sends twice. --now sends earlier (confirmed, needs --by)."""
    if early and not by:
        raise click.UsageError("send --now needs --by USERNAME (or COMMS_USER)")
    service = service_of(ctx)
    if dry_run:
        name, outcome = editions.dry_run(service, edition)
        out.print(f"dry run of {edition} ({name} sandbox): {outcome.accepted} accepted, nothing delivered")
        for reason, count in outcome.failures:
            out.print(f"  would fail {count}×: {reason}")
        if outcome.failures:
            raise Failed(f"{sum(n for _, n in outcome.failures)} message(s) would fail")
        return
    clock = SystemClock()
    if early:
        _confirm_early(service, edition, clock.now(), yes)
    send_and_show(service, edition, by or "", clock, early=early)


def _confirm_early(service: Service, key: str, now: datetime, yes: bool) -> None:
    plan = editions.send_plan(service, key, now)
    if plan.has_started:
        return  # a send that started already is resumed: nothing new goes out early
    when = "its planned time has come" if plan.is_due else f"gepland voor {plan.planned}"
    question = f"Send {plan.key} ({plan.subject}) to {plan.recipients} recipient(s) now ({when})?"
    if not yes and not click.confirm(question, default=False):
        raise Failed(f"{key} not sent")


def send_and_show(
    service: Service, key: str, by: str, clock: Clock | None = None, *, early: bool = False
) -> SendOutcome:
    clock = clock or SystemClock()
    with _progress() as progress:
        task = progress.add_task(f"sending {key}", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, advance=done, total=total)
            if not sys.stdout.isatty():  # a plain line per batch for logs and pipes
                print(f"sent {int(progress.tasks[0].completed)}/{total}", flush=True)

        try:
            outcome = editions.send(service, key, by, early=early, clock=clock, progress=advance)
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
@by_option()
@click.pass_context
@handles_failures
def test_copy(ctx: click.Context, edition: str, addresses: tuple[str, ...], by: str) -> None:
    """Send one marked test copy of EDITION (even a draft) to these addresses only; the real send
    is not affected."""
    service = service_of(ctx)
    try:
        outcome = editions.send_test_copy(service, edition, addresses, SystemClock(), by)
    except TransportUnavailable as exc:
        raise Failed(f"{exc}; no test copy was sent") from exc
    for address in outcome.delivered:
        out.print(f"test copy of {edition} sent to {address} ({outcome.destination})")
    for address, reason in outcome.failed:
        err.print(f"test copy of {edition} not sent to {address}: {reason}")
    if outcome.failed:
        raise Failed(f"the test copy did not reach {len(outcome.failed)} address(es)")


commands = [newsletter, preview, approve, hold, discard, send, test_copy, rebuild, revisions]
