"""`comms worker`: every sending edition delivered once, a clean stop, and faults that do not
end the loop (an unavailable transport, a database that goes away mid-batch)."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from comms.clock import FixedClock
from comms.deliver.run import AcknowledgementFailed
from comms.deliver.smtp import SmtpTransport
from comms.deliver.transport import DeliveryResult, Transport
from comms.deliver.transports import make_transport
from comms.editions import lifecycle, views
from comms.render.message import OutgoingMessage
from comms.store.database import Database
from comms.store.editions import find_edition
from comms.store.models import Edition, EditionStatus
from comms.worker import EditionRound, Worker
from tests.deliver import conftest as deliver_fixtures
from tests.deliver.conftest import NOW, EditionFactory
from tests.deliver.conftest import Edition as Sending
from tests.fakes.smtp import FakeSMTPServer

BATCH = 10
approved_edition = deliver_fixtures.approved_edition  # the fixture, shared with tests/deliver
# A SQLite file cannot go away under an open connection: these run against PostgreSQL only.
needs_postgres = pytest.mark.postgresql_only


def smtp_settings(server: FakeSMTPServer) -> str:
    address = f'host = "{server.host}"\nport = {server.port}\n'
    return f'[smtp]\n{address}security = "none"\ncommand_timeout_seconds = 2\n'


@pytest.fixture
def make_edition(approved_edition: EditionFactory, project: Path) -> Callable[..., Sending]:
    """An approved edition with small batches; the worker polls without waiting (no sleeps)."""

    def make(
        recipients: int, config_extra: str = "", delivery: str = "", poll: float = 0, claim_timeout: int = 300
    ) -> Sending:
        config = project / "comms.toml"
        settings = config.read_text().replace("worker_poll_seconds = 5", f"worker_poll_seconds = {poll}")
        config.write_text(
            settings.replace("claim_timeout_seconds = 300", f"claim_timeout_seconds = {claim_timeout}")
        )
        return approved_edition(recipients, config_extra, f"batch_size = {BATCH}\n{delivery}")

    return make


def counts(edition: Sending, key: str | None = None) -> dict[str, int]:
    [report] = views.status(edition.service, key or edition.key)
    return {status: n for status, n in report.counts.items() if n}


def edition_status(edition: Sending, key: str) -> str:
    [report] = views.status(edition.service, key)
    return report.status


def copy_edition(edition: Sending, key: str, status: EditionStatus) -> None:
    """A second edition with the same content, as the scheduler would have built it."""
    with edition.service.db.session() as session:
        original = find_edition(session, edition.key)
        session.add(
            Edition(
                key=key,
                kind=original.kind,
                subject=original.subject,
                audience=original.audience,
                status=status,
                built_at=original.built_at,
                html=original.html,
                text=original.text,
            )
        )


class HookedTransport:
    """The configured transport, with the test acting right after each batch was handed over."""

    def __init__(self, inner: Transport, after_batch: Callable[[int], None]):
        self.inner, self.after_batch, self.batches = inner, after_batch, 0
        self.name, self.batch_size, self.writes_files = inner.name, inner.batch_size, inner.writes_files

    def open(self) -> None:
        self.inner.open()

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        results = self.inner.send_batch(messages)
        self.batches += 1
        self.after_batch(self.batches)
        return results

    def close(self) -> None:
        self.inner.close()


def hooked(edition: Sending, after_batch: Callable[[int], None]) -> Callable[[str], Transport]:
    config = edition.service.config
    return lambda key: HookedTransport(make_transport(config, key, edition.clock), after_batch)


# -- rounds --------------------------------------------------------------------------------


def test_every_sending_edition_is_delivered_oldest_first_and_no_other(
    make_edition: Callable[..., Sending],
) -> None:
    edition = make_edition(25)
    copy_edition(edition, "nieuwsbrief-2026-12-eerder", EditionStatus.APPROVED)
    copy_edition(edition, "nieuwsbrief-2026-12-concept", EditionStatus.DRAFT)
    copy_edition(edition, "nieuwsbrief-2026-12-wacht", EditionStatus.APPROVED)
    lifecycle.start_sending(edition.service, edition.key, edition.clock)
    lifecycle.start_sending(
        edition.service, "nieuwsbrief-2026-12-eerder", FixedClock(NOW - timedelta(hours=1))
    )
    rounds: list[EditionRound] = []

    delivered = Worker(edition.service, edition.clock, threading.Event(), on_round=rounds.append).run(
        exit_when_idle=True
    )

    assert delivered == 50
    assert [r.key for r in rounds] == ["nieuwsbrief-2026-12-eerder", edition.key]
    for key in (edition.key, "nieuwsbrief-2026-12-eerder"):
        assert counts(edition, key) == {"sent": 25}
        assert edition_status(edition, key) == "sent"
        assert len(list((edition.service.outbox_dir / key / "messages").glob("*.eml"))) == 25
    for key, status in (("nieuwsbrief-2026-12-concept", "draft"), ("nieuwsbrief-2026-12-wacht", "approved")):
        assert counts(edition, key) == {} and edition_status(edition, key) == status
        assert not (edition.service.outbox_dir / key).exists()


def test_a_stop_during_a_batch_finishes_that_batch_and_claims_no_more(
    make_edition: Callable[..., Sending],
) -> None:
    edition = make_edition(40)
    lifecycle.start_sending(edition.service, edition.key, edition.clock)
    stop = threading.Event()

    delivered = Worker(edition.service, edition.clock, stop, hooked(edition, lambda _: stop.set())).run()

    assert delivered == BATCH
    assert counts(edition) == {"sent": BATCH, "pending": 40 - BATCH}  # nothing left claimed
    assert edition_status(edition, edition.key) == "sending"


def test_an_unavailable_transport_is_logged_and_tried_again_on_the_next_round(
    make_edition: Callable[..., Sending],
    smtp_server: FakeSMTPServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    edition = make_edition(30, smtp_settings(smtp_server), 'transport = "smtp"')
    lifecycle.start_sending(edition.service, edition.key, edition.clock)
    config = edition.service.config
    with socket.socket() as probe:  # a port nobody listens on: the relay is down
        probe.bind(("127.0.0.1", 0))
        down = probe.getsockname()[1]
    rounds = iter(range(10))

    def transport_for(key: str) -> Transport:
        if next(rounds) == 0:
            return SmtpTransport(dataclasses.replace(config.smtp, port=down))
        return make_transport(config, key, edition.clock)

    with caplog.at_level(logging.WARNING, logger="comms.worker"):
        delivered = Worker(edition.service, edition.clock, threading.Event(), transport_for).run(
            exit_when_idle=True
        )

    assert delivered == 30
    assert len(smtp_server.messages) == 30 and set(smtp_server.count_by_recipient().values()) == {1}
    assert counts(edition) == {"sent": 30}
    [line] = [r.getMessage() for r in caplog.records if "transport unavailable" in r.getMessage()]
    assert f"cannot connect to SMTP server 127.0.0.1:{down}" in line


# -- the database goes away between hand-over and acknowledgement (PostgreSQL) ---------------


@dataclass
class Gate:
    """Closes the test database to every connection (and ends the open ones), or reopens it:
    what a PostgreSQL restart or failover looks like to a worker."""

    admin: Database
    name: str

    def close(self) -> None:
        with self.admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'ALTER DATABASE "{self.name}" WITH ALLOW_CONNECTIONS false'))
            connection.execute(
                text("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = :name"),
                {"name": self.name},
            )

    def open(self) -> None:
        with self.admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'ALTER DATABASE "{self.name}" WITH ALLOW_CONNECTIONS true'))


@pytest.fixture
def gate(database_url: str) -> Iterator[Gate]:
    assert database_url.startswith("postgresql"), "mark the test postgresql_only"
    url = make_url(database_url)
    admin = Database(url.set(database="postgres").render_as_string(hide_password=False))
    gate = Gate(admin, str(url.database))
    yield gate
    gate.open()  # whatever happened, later tests get their database back
    admin.dispose()


class ReopeningClock(FixedClock):
    """A fixed clock whose first sleep (the worker waiting to acknowledge) reopens the gate."""

    def __init__(self, gate: Gate | None):
        super().__init__(NOW)
        self.gate = gate

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if self.gate:
            self.gate.open()
            self.gate = None


@needs_postgres
def test_the_acknowledgement_waits_for_the_database_and_nothing_is_sent_twice(
    make_edition: Callable[..., Sending],
    smtp_server: FakeSMTPServer,
    gate: Gate,
    caplog: pytest.LogCaptureFixture,
) -> None:
    edition = make_edition(30, smtp_settings(smtp_server), 'transport = "smtp"')
    lifecycle.start_sending(edition.service, edition.key, edition.clock)
    clock = ReopeningClock(gate)

    def close_after_first(batch: int) -> None:
        if batch == 1:
            gate.close()

    with caplog.at_level(logging.WARNING, logger="comms.deliver.run"):
        worker = Worker(edition.service, clock, threading.Event(), hooked(edition, close_after_first))
        delivered = worker.run(exit_when_idle=True)

    assert delivered == 30
    assert clock.slept > 0  # it really waited for the database
    assert len(smtp_server.messages) == 30 and set(smtp_server.count_by_recipient().values()) == {1}
    assert counts(edition) == {"sent": 30}
    [line] = [r.getMessage() for r in caplog.records]
    assert f"edition {edition.key}: database unreachable" in line and "10 accepted message(s)" in line
    assert "example.org" not in line  # no addresses in logs


@needs_postgres
def test_when_the_database_stays_away_the_worker_says_what_may_be_sent_again(
    make_edition: Callable[..., Sending], gate: Gate
) -> None:
    edition = make_edition(30, claim_timeout=120)
    lifecycle.start_sending(edition.service, edition.key, edition.clock)
    clock = ReopeningClock(None)

    def close_after_first(batch: int) -> None:
        if batch == 1:
            gate.close()

    worker = Worker(edition.service, clock, threading.Event(), hooked(edition, close_after_first))
    with pytest.raises(AcknowledgementFailed) as failed:
        worker.run(exit_when_idle=True)

    assert f"edition {edition.key}: the transport accepted {BATCH} message(s)" in str(failed.value)
    assert 115 <= clock.slept <= 120  # retried until the claim would expire, not longer
    gate.open()
    # The documented crash window: the batch stays claimed until its claim expires.
    assert counts(edition) == {"claimed": BATCH, "pending": 30 - BATCH}


@needs_postgres
def test_a_round_that_loses_the_database_is_logged_in_one_line_and_tried_again(
    make_edition: Callable[..., Sending], gate: Gate, caplog: pytest.LogCaptureFixture
) -> None:
    edition = make_edition(30)
    lifecycle.start_sending(edition.service, edition.key, edition.clock)
    reopen = OpenOnWarning(gate)
    logging.getLogger("comms.worker").addHandler(reopen)
    gate.close()
    try:
        with caplog.at_level(logging.WARNING, logger="comms.worker"):
            delivered = Worker(edition.service, edition.clock, threading.Event()).run(exit_when_idle=True)
    finally:
        logging.getLogger("comms.worker").removeHandler(reopen)

    assert delivered == 30 and counts(edition) == {"sent": 30}
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith("database unavailable (OperationalError: ") and "trying again in 0 s" in line


class OpenOnWarning(logging.Handler):
    """Lets the database back in once the worker has said it is gone: a restart, as seen by it."""

    def __init__(self, gate: Gate):
        super().__init__(logging.WARNING)
        self.gate = gate

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("database unavailable"):
            self.gate.open()


# -- the command: SIGTERM ------------------------------------------------------------------


def worker_process(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "comms.cli", "--config", str(project / "comms.toml"), "worker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


RECIPIENTS = 500


@pytest.mark.slow
def test_sigterm_mid_send_finishes_the_batch_exits_0_and_a_later_worker_sends_the_rest(
    make_edition: Callable[..., Sending], smtp_server: FakeSMTPServer, project: Path
) -> None:
    edition = make_edition(RECIPIENTS, smtp_settings(smtp_server), 'transport = "smtp"')
    lifecycle.start_sending(edition.service, edition.key, edition.clock)
    arrived = smtp_server.when_received(100)

    process = worker_process(project)
    assert arrived.wait(timeout=120), "the worker never delivered"
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 0, stdout + stderr
    delivered = int(stdout.strip().splitlines()[-1].split(": ")[-1].split()[0])
    assert "stopped:" in stdout and 100 <= delivered < RECIPIENTS
    assert counts(edition) == {"sent": delivered, "pending": RECIPIENTS - delivered}  # none claimed
    assert len(smtp_server.messages) == delivered  # each batch handed over was acknowledged

    rest = worker_process(project, "--exit-when-idle")
    stdout, stderr = rest.communicate(timeout=120)

    assert rest.returncode == 0, stdout + stderr
    assert "idle:" in stdout and counts(edition) == {"sent": RECIPIENTS}
    assert edition_status(edition, edition.key) == "sent"
    received = smtp_server.count_by_recipient()
    assert len(received) == RECIPIENTS and set(received.values()) == {1}


def test_sigterm_while_waiting_for_work_ends_the_wait_at_once(
    make_edition: Callable[..., Sending], project: Path
) -> None:
    make_edition(1, poll=600)
    process = worker_process(project)
    assert process.stdout is not None
    started = process.stdout.readline()
    assert "started" in started, started + (process.stderr.read() if process.stderr else "")

    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 0, stdout + stderr
    assert time.monotonic() - signalled < 30  # not the 600 s poll interval
    assert "stopped: 0 delivered" in stdout


def test_nothing_sending_is_nothing_to_do(make_edition: Callable[..., Sending]) -> None:
    edition = make_edition(5)  # approved, never started

    assert Worker(edition.service, edition.clock, threading.Event()).run(exit_when_idle=True) == 0
    assert edition_status(edition, edition.key) == "approved" and counts(edition) == {}
