"""`comms demo`: the newsletter job end to end on the sample data, safely.

A throwaway SQLite database, the outbox transport (nothing leaves the
machine), the sample audience and feeds, and a fixed clock at the sample data's
date, so the demo composes the same December 2026 edition whenever it runs.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from comms import editions
from comms.clock import FixedClock
from comms.compose.newsletter import Month
from comms.config import Config
from comms.dates import AMSTERDAM, long_date, time_of_day
from comms.problems import Problem
from comms.service import Service

DEMO_NOW = datetime(2026, 12, 1, 8, 0, tzinfo=AMSTERDAM)


def run_demo(
    config: Config, outbox: Path | None, out: Console, report: Callable[[Iterable[Problem]], None]
) -> None:
    from comms import cli  # the same steps as the commands, printed the same way

    workdir = Path(tempfile.mkdtemp(prefix="comms-demo-"))
    outbox_dir = (outbox or config.resolve(config.delivery.outbox_dir)).resolve()
    config = dataclasses.replace(
        config,
        database_url=f"sqlite:///{workdir / 'demo.sqlite3'}",
        delivery=dataclasses.replace(config.delivery, outbox_dir=outbox_dir),
    )
    if not os.environ.get("COMMS_SECRET_KEY"):
        os.environ["COMMS_SECRET_KEY"] = secrets.token_urlsafe(48)  # throwaway: demo links only
    now = DEMO_NOW.astimezone(AMSTERDAM)
    month = Month.of(now)
    out.print(f"comms demo: the {month.label} newsletter, as of {long_date(now)} {time_of_day(now)}")
    out.print(f"database: {workdir / 'demo.sqlite3'} (throwaway); transport: outbox → {outbox_dir}\n")

    service = Service.open(config)
    try:
        cli._import_audience(service)
        cli._collect(service, now.astimezone())
        build = cli._build(service, month, now)
        key = build.composition.edition.key
        shutil.rmtree(outbox_dir / key, ignore_errors=True)  # a previous demo's copies of this edition
        editions.approve(service, key, "demo", now)
        sent = cli._send(service, key, clock=FixedClock(now))
    finally:
        service.db.dispose()
        shutil.rmtree(workdir, ignore_errors=True)
    _summary(out, build, sent, outbox_dir)


def _summary(
    out: Console, build: editions.BuildOutcome, sent: editions.SendOutcome, outbox_dir: Path
) -> None:
    table = Table("section", "items", title="Edition content")
    for section, count in build.composition.content.summary().items():
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
