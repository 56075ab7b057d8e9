"""`comms demo`: the newsletter job end to end on the sample data, safely.

A throwaway SQLite database, the outbox transport (nothing leaves the machine), the sample
audience and feeds, and a fixed clock at the sample data's date, so the demo composes the
same December 2026 edition whenever it runs. Each step is the command's own, printed the
same way.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import click
from rich.table import Table

from comms.cli.audience import import_and_show
from comms.cli.base import config_of, handles_failures, out
from comms.cli.editions import NEWSLETTER, build_and_show, send_and_show
from comms.cli.sources import collect_and_show
from comms.clock import FixedClock
from comms.config import Config
from comms.dates import AMSTERDAM, long_date, month_name, time_of_day
from comms.kinds import BuildOutcome, BuildRequest
from comms.operations import editions
from comms.operations.editions import SendOutcome
from comms.service import Service

DEMO_NOW = datetime(2026, 12, 1, 8, 0, tzinfo=AMSTERDAM)


@click.command()
@click.option(
    "--outbox",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to write the messages (default: the configured outbox).",
)
@click.pass_context
@handles_failures
def demo(ctx: click.Context, outbox: Path | None) -> None:
    """Run the newsletter job on sample data: throwaway database, outbox transport."""
    run_demo(config_of(ctx), outbox)


def run_demo(config: Config, outbox: Path | None) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="comms-demo-"))
    outbox_dir = (outbox or config.resolve(config.delivery.outbox_dir)).resolve()
    config = dataclasses.replace(
        config,
        database_url=f"sqlite:///{workdir / 'demo.sqlite3'}",
        delivery=dataclasses.replace(config.delivery, outbox_dir=outbox_dir),
    )
    if not os.environ.get("COMMS_SECRET_KEY"):
        os.environ["COMMS_SECRET_KEY"] = secrets.token_urlsafe(48)  # throwaway: demo links only
    now = DEMO_NOW
    out.print(
        f"comms demo: the {month_name(now.year, now.month)} newsletter, "
        f"as of {long_date(now)} {time_of_day(now)}"
    )
    out.print(f"database: {workdir / 'demo.sqlite3'} (throwaway); transport: outbox → {outbox_dir}\n")

    service = Service.open(config, migrate=True)  # the first-run command: a new database
    try:
        import_and_show(service)
        collect_and_show(service, now)
        build = build_and_show(service, NEWSLETTER, BuildRequest(now))
        shutil.rmtree(outbox_dir / build.key, ignore_errors=True)  # a previous demo's copies of it
        editions.approve(service, build.key, "demo", now)
        # The demo's edition has no planned time: it goes out at once, as `comms send --now` would.
        sent = send_and_show(service, build.key, "demo", FixedClock(now), early=True)
    finally:
        service.db.dispose()
        shutil.rmtree(workdir, ignore_errors=True)
    _summary(build, sent, outbox_dir)


def _summary(build: BuildOutcome, sent: SendOutcome, outbox_dir: Path) -> None:
    table = Table("section", "items", title="Edition content")
    for section, count in build.sections.items():
        table.add_row(section, str(count))
    out.print(table)
    key = sent.edition_key
    messages = sorted((outbox_dir / key / "messages").glob("*.eml"))
    out.print(
        f"\ndone: {sent.counts['sent']} messages in {outbox_dir / key / 'messages'}"
        f" ({sent.counts['suppressed']} suppressed)"
    )
    out.print(f"open {outbox_dir / 'index.html'} for the edition and a preview of every variant")
    if messages:
        out.print(f"one message, as a mail program reads it: {messages[0]}")


commands = [demo]
