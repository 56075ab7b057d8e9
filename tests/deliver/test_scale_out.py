"""Scale-out on PostgreSQL: four `comms worker` processes share one 20,000-recipient edition.

Every address gets exactly one message, the ledger ends with 20,000 sent and nothing
else, and more than one worker did the work; also when every database connection is
terminated (a PostgreSQL restart, as the workers see it) while they run. When workers are
killed (`kill -9`) mid-send, repeats stay within one batch per killed worker.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from comms.clock import FixedClock
from comms.collect.run import collect_all
from comms.config import load_config
from comms.editions import lifecycle, views
from comms.kinds import BuildRequest
from comms.operations import editions
from comms.service import Service
from comms.store.database import Database
from tests.conftest import POSTGRES_URL, PostgresCopies
from tests.deliver.conftest import NOW
from tests.fakes.smtp_sink import Delivery, SinkProcess, per_recipient

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not POSTGRES_URL, reason="scale-out runs on PostgreSQL: set COMMS_TEST_DATABASE_URL to run it"
    ),
]
RECIPIENTS = 20_000
WORKERS = 4
BATCH = 100
INSERT_CONTACTS = """
INSERT INTO contacts (public_id, email, first_name, infix, last_name, province, party, roles, themes,
                      active, source_file, updated_at)
SELECT lpad(to_hex(n), 16, '0'), 'statenlid' || n || '@provincie' || (n % 12) || '.example.org',
       'Voornaam' || n, '', 'Achternaam' || n, (ARRAY['Groningen', 'Fryslân', 'Drenthe', 'Overijssel',
       'Flevoland', 'Gelderland', 'Utrecht', 'Noord-Holland', 'Zuid-Holland', 'Zeeland',
       'Noord-Brabant', 'Limburg'])[n % 12 + 1], NULL,
       CASE WHEN n % 50 = 0 THEN ',av-lid,statenlid,' ELSE ',statenlid,' END, ',', true, 'synthetic', :now
FROM generate_series(0, :count - 1) AS n
"""
TERMINATE = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


@pytest.fixture
def database_url(postgres_copies: PostgresCopies) -> Iterator[str]:
    """PostgreSQL only (overrides the SQLite-and-PostgreSQL fixture), migrated and empty."""
    with postgres_copies.fresh_copy() as url:
        yield url


@dataclass
class ScaleOut:
    project: Path
    service: Service
    key: str
    sink: SinkProcess


@pytest.fixture
def sending(project: Path, tmp_path: Path) -> Iterator[ScaleOut]:
    """An edition for 20,000 synthetic Statenleden, sending, with SMTP to a sink process."""
    yield from _sending(project, tmp_path)


@pytest.fixture
def sending_to_a_busy_relay(project: Path, tmp_path: Path) -> Iterator[ScaleOut]:
    """The same, with a relay that takes 2 ms per message: a worker spends its time mid-batch."""
    yield from _sending(project, tmp_path, latency_ms=2)


def _sending(project: Path, tmp_path: Path, latency_ms: float = 0) -> Iterator[ScaleOut]:
    with SinkProcess(tmp_path / "received.tsv", latency_ms=latency_ms) as sink:
        config_file = project / "comms.toml"
        settings = config_file.read_text().replace('transport = "outbox"', 'transport = "smtp"')
        settings = settings.replace("[delivery]\n", f"[delivery]\nbatch_size = {BATCH}\n")
        settings = settings.replace("worker_poll_seconds = 5", "worker_poll_seconds = 0.2")
        settings += f'\n[smtp]\nhost = "{sink.host}"\nport = {sink.port}\nsecurity = "none"\n'
        config_file.write_text(settings)
        config, problems = load_config(config_file)
        assert config is not None, problems
        service = Service.open(config)
        with service.db.session() as session:
            session.execute(text(INSERT_CONTACTS), {"now": NOW, "count": RECIPIENTS})
        collect_all(config, service.db, NOW)
        key = editions.build(service, "newsletter", BuildRequest(NOW, period="2026-12")).key
        lifecycle.approve(service, key, "test", NOW)
        lifecycle.start_sending(service, key, FixedClock(NOW))
        yield ScaleOut(project, service, key, sink)
        service.db.dispose()


def start_workers(project: Path) -> list[subprocess.Popen[str]]:
    command = [sys.executable, "-m", "comms.cli", "--config", str(project / "comms.toml"), "worker"]
    return [
        subprocess.Popen(
            [*command, "--exit-when-idle"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for _ in range(WORKERS)
    ]


def finish(workers: list[subprocess.Popen[str]]) -> tuple[list[int], list[str]]:
    """Each worker's own count of what it delivered (its last line), and what it logged."""
    delivered, logged = [], []
    for worker in workers:
        stdout, stderr = worker.communicate(timeout=300)
        assert worker.returncode == 0, stdout + stderr
        delivered.append(int(stdout.strip().splitlines()[-1].rsplit(": ", 1)[1].split()[0]))
        logged += stderr.splitlines()
    return delivered, logged


def sent_so_far(db: Database) -> int:
    with db.session() as session:
        return session.scalar(text("SELECT count(*) FROM messages WHERE status = 'sent'")) or 0


def terminate_for(db: Database, seconds: float) -> int:
    """Terminate every other connection, again and again for a moment: idle pooled connections
    are replaced silently (pre-ping), so it takes a few rounds to catch the workers mid-query."""
    terminated = 0
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        with db.engine.begin() as connection:
            terminated += connection.scalar(text(TERMINATE)) or 0
        time.sleep(0.02)
    return terminated


def assert_exactly_once(run: ScaleOut, received: list[Delivery], delivered: list[int]) -> None:
    expected = {f"statenlid{n}@provincie{n % 12}.example.org" for n in range(RECIPIENTS)}
    per_address = per_recipient(received)
    assert set(per_address) == expected  # none missing, nobody else
    assert max(per_address.values()) == 1  # no duplicates
    assert len({d.message_id for d in received}) == RECIPIENTS
    [report] = views.status(run.service, run.key)
    assert {s: n for s, n in report.counts.items() if n} == {"sent": RECIPIENTS}
    assert report.status == "sent"
    assert sum(delivered) == RECIPIENTS
    assert sum(1 for n in delivered if n > 0) >= 2, f"one worker did everything: {delivered}"
    assert len({d.connection for d in received}) >= 2


def test_four_workers_deliver_20000_messages_exactly_once(sending: ScaleOut) -> None:
    started = time.monotonic()
    delivered, logged = finish(start_workers(sending.project))
    elapsed = time.monotonic() - started
    received = sending.sink.stop()

    print(f"{RECIPIENTS} messages by {WORKERS} workers in {elapsed:.1f} s; per worker: {delivered}")
    assert_exactly_once(sending, received, delivered)
    assert logged == []


def test_terminated_database_connections_do_not_lose_or_repeat_a_message(sending: ScaleOut) -> None:
    workers = start_workers(sending.project)
    watcher = Database(sending.service.config.database_url)
    terminated = []
    for threshold in (RECIPIENTS // 4, RECIPIENTS * 3 // 5):
        deadline = time.monotonic() + 120
        while sent_so_far(watcher) < threshold:  # the workers' own progress, observed
            assert time.monotonic() < deadline, "the workers stopped making progress"
            assert all(w.poll() is None for w in workers), "a worker ended early"
            time.sleep(0.1)
        terminated.append(terminate_for(watcher, seconds=1.0))
    delivered, logged = finish(workers)
    watcher.dispose()
    received = sending.sink.stop()

    ours = [line for line in logged if " comms." in line]  # psycopg may add a line of its own
    print(
        f"terminated {terminated} connections; per worker: {delivered}; the workers logged:", *ours, sep="\n"
    )
    assert ours, "the terminations never caught a worker mid-query"
    assert all("database unavailable" in line or "database unreachable" in line for line in ours)
    assert not any("example.org" in line for line in logged)  # one line per fault, no addresses
    assert_exactly_once(sending, received, delivered)


KILLED = 2


def claimed_by(db: Database, pid: int) -> int:
    with db.session() as session:
        query = text("SELECT count(*) FROM messages WHERE status = 'claimed' AND claimed_by LIKE :owner")
        return session.scalar(query, {"owner": f"%:{pid}"}) or 0


def test_kill_9_of_workers_mid_send_repeats_at_most_one_batch_per_killed_worker(
    sending_to_a_busy_relay: ScaleOut, seed: int
) -> None:
    """The README's crash window: a killed worker's batch in hand (accepted by the relay, not yet
    acknowledged) is delivered again by the others; nothing else is repeated, nobody is skipped."""
    sending = sending_to_a_busy_relay
    workers = start_workers(sending.project)
    watcher = Database(sending.service.config.database_url)
    thresholds = sorted(random.Random(seed).sample(range(RECIPIENTS // 10, RECIPIENTS * 7 // 10), KILLED))
    context = f"seed {seed}: killed at {thresholds} sent"
    in_hand = []
    for victim, threshold in zip(workers, thresholds, strict=False):
        deadline = time.monotonic() + 120
        while sent_so_far(watcher) < threshold:
            assert time.monotonic() < deadline, f"{context}: the workers stopped making progress"
            time.sleep(0.02)
        assert victim.poll() is None, f"{context}: the worker ended before its kill"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        in_hand.append(claimed_by(watcher, victim.pid))
    delivered, _ = finish(workers[KILLED:])  # the survivors release the dead workers' claims at once
    watcher.dispose()
    received = sending.sink.stop()

    per_address = per_recipient(received)
    duplicates = sum(n - 1 for n in per_address.values())
    summary = f"{context}; claimed by each killed worker at its kill: {in_hand}; {duplicates} duplicates"
    print(summary)
    expected = {f"statenlid{n}@provincie{n % 12}.example.org" for n in range(RECIPIENTS)}
    assert set(per_address) == expected, summary  # nobody skipped
    assert duplicates <= sum(in_hand) <= KILLED * BATCH, summary  # at most one batch per killed worker
    [report] = views.status(sending.service, sending.key)
    assert {s: n for s, n in report.counts.items() if n} == {"sent": RECIPIENTS}
    assert report.status == "sent"
    assert sum(delivered) <= RECIPIENTS
