"""Claiming a batch (`queue.claim`) as the message ledger grows, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/bench_claim.py [--sizes 10000,100000,1000000] [--claims 200]
        [--baseline-claims 20] [--batch 20] [--backends sqlite,postgresql]

For each size N it builds a ledger in SQL (no ORM objects; tests/deliver/ledger_rows.py):
N contacts and one edition's N messages, 95 % of them sent ahead of the pending rest (fewer
when the claims need more), as in a send under way, on a scratch SQLite file and a scratch
PostgreSQL database (ANALYZEd, as autovacuum would have by then). It then times `--claims`
claims of `--batch` messages (the SMTP transport's batch), each in its own transaction as
the worker takes them: median and p95 milliseconds per claim, against the issue's target of
≤ 2 ms at every size; and of its lookup alone (the statements that find the due messages:
the part that grew with the ledger).

Baseline, same run, same ledger, interleaved with the new claims: the old claim, whose
lookup was one query on "pending OR (failed/uncertain AND retry_at <= now)" ORDER BY id; the
OR kept the queue index out of the plan. The ratio is new / old (below 1: faster).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from harness import Figure, at_most, cpu_seconds, exit_code, postgres_available, report, scratch_postgres
from sqlalchemy import select
from sqlalchemy.orm import Session

from comms.deliver import queue
from comms.store.database import Database
from comms.store.models import Message
from tests.deliver.ledger_rows import NOW, insert_contacts, insert_ledger, new_edition

TARGET_MS = 2.0
DueIds = Callable[[Session, int, int, datetime], list[int]]


def old_due_ids(session: Session, edition_id: int, size: int, now: datetime) -> list[int]:
    """The claim's lookup before issue 14: one query on the OR of both conditions."""
    candidates = (
        select(Message.id)
        .where(Message.edition_id == edition_id, queue.is_due(now))
        .order_by(Message.id)
        .limit(size)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(candidates))


def build(db: Database, size: int, claimed: int) -> tuple[int, float]:
    """The ledger of a send under way, with at least `claimed` pending (95 % sent where that
    leaves enough); its edition id and the seconds it took to build."""
    started = time.perf_counter()
    db.migrate()
    with db.session() as session:
        insert_contacts(session, size)
        edition_id = new_edition(session)
        insert_ledger(session, edition_id, sent=max(0, min(size * 95 // 100, size - claimed)))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")
    return edition_id, time.perf_counter() - started


def one_claim(db: Database, edition_id: int, batch: int, lookup: DueIds) -> tuple[float, float, float]:
    """Wall ms of one claim with the given lookup, committed as the worker does; CPU ms of it;
    wall ms of its lookup alone (the statements that find the due messages)."""
    spent_in_lookup = [0.0]

    def timed_lookup(session: Session, edition: int, size: int, now: datetime) -> list[int]:
        started = time.perf_counter()
        try:
            return lookup(session, edition, size, now)
        finally:
            spent_in_lookup[0] = (time.perf_counter() - started) * 1000

    saved = queue.due_ids
    queue.due_ids = timed_lookup  # type: ignore[assignment]  # for this claim only
    try:
        wall, cpu = time.perf_counter(), cpu_seconds()
        with db.session() as session:
            claimed = queue.claim(session, edition_id, "newsletter", "bench:1", batch, NOW)
        spent = (time.perf_counter() - wall) * 1000, (cpu_seconds() - cpu) * 1000, spent_in_lookup[0]
    finally:
        queue.due_ids = saved  # type: ignore[assignment]
    if len(claimed) != batch:
        raise SystemExit(f"claimed {len(claimed)} instead of {batch}: the ledger ran out")
    return spent


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def measure(db: Database, backend: str, size: int, args: argparse.Namespace) -> list[Figure]:
    edition_id, built = build(db, size, (args.claims + args.baseline_claims) * args.batch)
    new: list[tuple[float, float, float]] = []
    old: list[tuple[float, float, float]] = []
    for n in range(args.claims):
        new.append(one_claim(db, edition_id, args.batch, queue.due_ids))
        if n < args.baseline_claims:  # interleaved: a noisy neighbour slows both alike
            old.append(one_claim(db, edition_id, args.batch, old_due_ids))
    walls, old_walls = [w for w, _, _ in new], [w for w, _, _ in old]
    lookups, old_lookups = [q for _, _, q in new], [q for _, _, q in old]
    label = f"{backend} {size:,}"
    cpu = statistics.median(c for _, c, _ in new)
    notes = f"CPU of this process {cpu:.2f} ms/claim; ledger built in {built:.0f} s"
    target = at_most(TARGET_MS, "ms")
    median = statistics.median
    return [
        Figure(f"{label}: claim median", median(walls), "ms", target, median(old_walls), notes),
        Figure(f"{label}: claim p95", p95(walls), "ms", target, p95(old_walls)),
        Figure(f"{label}: its lookup median", median(lookups), "ms", target, median(old_lookups)),
        Figure(f"{label}: its lookup p95", p95(lookups), "ms", target, p95(old_lookups)),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--baseline-claims", type=int, default=20)
    parser.add_argument("--batch", type=int, default=20, help="the SMTP transport's batch")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as work:
        for size in sizes:
            for backend, db in _each(args.backends.split(","), Path(work)):
                try:
                    figures += measure(db, backend, size, args)
                finally:
                    db.dispose()
    result = report(
        "claiming a batch as the ledger grows (queue.claim)",
        figures,
        batch=args.batch,
        claims=f"{args.claims} per size (baseline: the old OR lookup, {args.baseline_claims}, interleaved)",
        ledger="95 % sent ahead of the pending rest; wall ms per claim, committed",
    )
    return exit_code(result)


def _each(backends: list[str], work: Path) -> Iterator[tuple[str, Database]]:
    for backend in backends:
        if backend == "sqlite":
            yield backend, Database(f"sqlite:///{work / f'claim-{time.monotonic_ns()}.sqlite3'}")
        elif postgres_available():
            with scratch_postgres("comms_bench_claim") as url:
                yield backend, Database(url)
        else:
            print("PostgreSQL not reachable: its figures are left out")


if __name__ == "__main__":
    sys.exit(main())
