"""The long-running processes: `comms serve`, `comms worker` and `comms web`."""

from __future__ import annotations

import logging
import signal
import threading

import click
import uvicorn

from comms import logs
from comms.cli.base import Failed, counts_text, handles_failures, out, report, service_of
from comms.clock import SystemClock
from comms.deliver.run import AcknowledgementFailed
from comms.deliver.transports import make_transport
from comms.operations.schedules import schedules
from comms.problems import ValidationFailed
from comms.serve import run_service
from comms.store.owners import worker_name
from comms.web.app import create_app
from comms.web.logs import server_arguments
from comms.worker import EditionRound, Worker


@click.command()
@click.option("--host", default=None, help="Web app address (default: [serve] host).")
@click.option("--port", default=None, type=int, help="Web app port (default: [serve] port).")
@click.option("--no-worker", is_flag=True, help="Do not deliver in this process (run comms worker instead).")
@click.pass_context
@handles_failures
def serve(ctx: click.Context, host: str | None, port: int | None, no_worker: bool) -> None:
    """Run the schedules (as leader, or standby), a delivery worker and the web app."""
    logs.setup(logging.INFO)
    service = service_of(ctx, migrate=True)
    service.signer()  # a missing key stops the service now, not at its first link
    _, problems = schedules(service.config)
    if any(p.is_error for p in problems):
        raise ValidationFailed(problems)
    report(problems)
    run_service(service, SystemClock(), _stop_on_signals(), host, port, with_worker=not no_worker)
    out.print("stopped")


@click.command()
@click.option(
    "--exit-when-idle",
    is_flag=True,
    help="Stop once nothing is due (retries waiting for a later time are left); for batch runs.",
)
@click.pass_context
@handles_failures
def worker(ctx: click.Context, exit_when_idle: bool) -> None:
    """Deliver the editions that are sending; start as many as you like (PostgreSQL scales out)."""
    logs.setup(logging.WARNING)
    service = service_of(ctx, migrate=True)
    clock = SystemClock()
    service.signer()  # a missing key stops the worker now, not at its first edition
    make_transport(service.config, "worker", clock, ledger=True)  # likewise a missing transport secret
    stop = _stop_on_signals()  # finish the batch in hand, claim no more
    poll = service.config.serve.worker_poll_seconds
    out.print(
        f"worker {worker_name()} started; "
        + ("exits when idle" if exit_when_idle else f"looks for work every {poll:g} s")
    )

    def show(done: EditionRound) -> None:
        out.print(f"{done.key}: {done.delivered} delivered; ledger: {counts_text(done.counts)}")

    try:
        delivered = Worker(service, clock, stop, on_round=show).run(exit_when_idle)
    except AcknowledgementFailed as exc:
        raise Failed(str(exc)) from exc
    state = "stopped" if stop.is_set() else "idle"
    out.print(f"worker {worker_name()} {state}: {delivered} delivered")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.pass_context
@handles_failures
def web(ctx: click.Context, host: str, port: int) -> None:
    """Serve the recipients' pages and SendGrid's event webhook (uvicorn)."""
    service = service_of(ctx, migrate=True)
    service.signer()  # no links can be checked without the key: say so now, not per request
    # The access log and the app's logs go through comms.web.logs: no token reaches them.
    uvicorn.run(create_app(service), host=host, port=port, **server_arguments())


def _stop_on_signals() -> threading.Event:
    """SIGTERM and SIGINT set the returned event: finish the batch in hand, then stop."""
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    return stop


commands = [serve, worker, web]
