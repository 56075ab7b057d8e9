"""Delivery by 1 and by 4 `comms worker` processes on PostgreSQL, to a loopback SMTP sink.

    COMMS_BENCH_DATABASE_URL=postgresql://… python benchmarks/bench_workers.py \\
        [--recipients 20000] [--workers 4] [--latency-ms 2]

The database URL comes from COMMS_BENCH_DATABASE_URL (else COMMS_TEST_DATABASE_URL);
its public schema is DROPPED and recreated for each run, so point it at a scratch
database. Each run builds the sample newsletter for N synthetic Statenleden, starts
sending it, and times `comms worker --exit-when-idle` processes from launch to exit
(SMTP transport, batches of 100). The baseline is the same run with one worker, in
the same process on the same machine; the ratio is the N-worker rate over it. Every
run is checked: each address received exactly one message.

Why the sink waits (--latency-ms, per message, before its 250): a real relay answers
after network round trips and a disk write, and a worker sits idle for that time.
Several workers overlap those waits, which is the point of scaling out. Without
latency, on a machine with two cores, the workers, the sink and PostgreSQL compete
for the same CPUs, and CPU-bound work alone cannot show what more processes gain.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # for the SMTP sink in tests/fakes

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=2, help="the sink's wait before each 250")
    args = parser.parse_args()
    url = os.environ.get("COMMS_BENCH_DATABASE_URL") or os.environ.get("COMMS_TEST_DATABASE_URL")
    if not url or not url.startswith(("postgresql", "postgres:")):
        sys.exit(
            "bench_workers needs a scratch PostgreSQL database: set COMMS_BENCH_DATABASE_URL "
            "(or COMMS_TEST_DATABASE_URL) to postgresql://…; its public schema is dropped and recreated"
        )
    os.environ.setdefault("COMMS_SECRET_KEY", secrets.token_urlsafe(48))
    latency = f"{args.latency_ms:g} ms per message"
    print(f"{args.recipients} recipients, SMTP sink latency {latency}, batches of {BATCH}")
    print(f"{'workers':>7} {'seconds':>8} {'msg/s':>7}  per worker")
    rates = {}
    for workers in (1, args.workers):
        seconds, per_worker = run(url, args.recipients, workers, args.latency_ms)
        rates[workers] = args.recipients / seconds
        print(f"{workers:>7} {seconds:>8.1f} {rates[workers]:>7.0f}  {per_worker}", flush=True)
    print(
        f"speed-up with {args.workers} workers: {rates[args.workers] / rates[1]:.2f}x the 1-worker baseline"
    )


def run(url: str, recipients: int, workers: int, latency_ms: float) -> tuple[float, list[int]]:
    from tests.fakes.smtp_sink import SinkProcess, per_recipient

    work = Path(tempfile.mkdtemp(prefix="comms-bench-workers-"))
    try:
        with SinkProcess(work / "received.tsv", latency_ms) as sink:
            config_file = prepare(work, url, recipients, sink.host, sink.port)
            started = time.perf_counter()
            processes = [worker_process(config_file) for _ in range(workers)]
            per_worker = [finish(process) for process in processes]
            seconds = time.perf_counter() - started
            received = per_recipient(sink.stop())
        if len(received) != recipients or set(received.values()) != {1}:
            duplicates = sum(n - 1 for n in received.values())
            sys.exit(f"not exactly once: {len(received)} addresses reached, {duplicates} duplicates")
        return seconds, per_worker
    finally:
        shutil.rmtree(work)


def prepare(work: Path, url: str, recipients: int, host: str, port: int) -> Path:
    """A fresh schema, the sample feeds and templates, and an edition that is sending."""
    from sqlalchemy import text

    from comms.clock import FixedClock
    from comms.collect.run import collect_all
    from comms.config import load_config
    from comms.kinds import BuildRequest
    from comms.operations import editions
    from comms.service import Service
    from comms.store.database import Database

    for folder in ("templates", "audiences", "schedules", "sample"):
        shutil.copytree(REPO / folder, work / folder)
    settings = (REPO / "comms.toml").read_text().replace("sqlite:///var/comms.sqlite3", url)
    settings = settings.replace('transport = "outbox"', f'transport = "smtp"\nbatch_size = {BATCH}')
    settings = settings.replace("worker_poll_seconds = 5", "worker_poll_seconds = 0.2")
    settings += f'\n[smtp]\nhost = "{host}"\nport = {port}\nsecurity = "none"\n'
    (work / "comms.toml").write_text(settings)
    config, problems = load_config(work / "comms.toml")
    assert config is not None, problems
    fresh = Database(url)
    with fresh.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    fresh.dispose()
    service = Service.open(config)
    with service.db.session() as session:
        session.execute(text(INSERT_CONTACTS), {"now": NOW, "count": recipients})
    collect_all(config, service.db, NOW)
    key = editions.build(service, "newsletter", BuildRequest(NOW, period="2026-12")).key
    editions.approve(service, key, "benchmark", NOW)
    editions.start_sending(service, key, FixedClock(NOW))
    service.db.dispose()
    return work / "comms.toml"


def worker_process(config_file: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "comms.cli", "--config", str(config_file), "worker", "--exit-when-idle"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> int:
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        sys.exit(f"a worker failed:\n{stdout}{stderr}")
    return int(stdout.strip().splitlines()[-1].rsplit(": ", 1)[1].split()[0])


if __name__ == "__main__":
    main()
