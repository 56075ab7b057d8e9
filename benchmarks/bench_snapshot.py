"""Snapshotting the audience into the message ledger (`queue.snapshot`) right after an import.

    .venv/bin/python benchmarks/bench_snapshot.py [--contacts 1000000] [--baseline-contacts 100000]
        [--baseline-timeout 60] [--sqlite-contacts 1000000]

On a scratch PostgreSQL database it inserts `--contacts` contacts in one statement and does NOT
analyze them (autovacuum is switched off for contacts and messages, so the statistics stay
missing, as right after `comms audience import`), with a previous edition's ledger of
`--baseline-contacts` messages already in the table. It then times:
- `queue.snapshot` of the whole audience into a new edition's ledger in one statement, against
  the issue's target of ≤ 10 s for 1,000,000;
- the same in the batches `start_sending`/`prepare_ledger` commit one by one (LEDGER_BATCH
  contacts each), which is what a send does.
Baseline, same run, same data, on the schema it ran on (before migration 0012): the old
statement (INSERT … SELECT … WHERE NOT EXISTS (the pair in messages)) for
`--baseline-contacts` contacts, without statistics, capped by statement_timeout (printed as
"> N s" when it hits: the issue measured 672 s for 100,000), and again after ANALYZE, which
is what made it fast before. Its plans are printed.
For information, the one-statement snapshot on SQLite with `--sqlite-contacts` contacts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from harness import Figure, at_most, exit_code, postgres_available, report, scratch_postgres, timed
from sqlalchemy import case, exists, insert, literal, select, text
from sqlalchemy.exc import OperationalError

from comms.deliver import queue
from comms.editions.lifecycle import LEDGER_BATCH
from comms.store.database import MIGRATIONS, Database
from comms.store.models import Contact, Message, MessageStatus
from tests.deliver.ledger_rows import insert_contacts, new_edition

TARGET_SECONDS = 10.0
EVERYONE = Contact.active.is_(True)


def old_snapshot(edition_id: int, through: int):  # type: ignore[no-untyped-def]
    """The snapshot before issue 14: NOT EXISTS on messages, whose plan depends on statistics."""
    status = case(
        (queue.is_suppressed("newsletter"), literal(MessageStatus.SUPPRESSED.value)),
        else_=literal(MessageStatus.PENDING.value),
    )
    already = exists().where(Message.edition_id == edition_id, Message.contact_id == Contact.id)
    rows = select(literal(edition_id), Contact.id, literal(""), status, literal(0)).where(
        EVERYONE, Contact.id <= through, ~already
    )
    return insert(Message).from_select(["edition_id", "contact_id", "variant", "status", "attempts"], rows)


def explain(db: Database, statement) -> str:  # type: ignore[no-untyped-def]
    """The plan's node lines, without costs: enough to see a nested loop over messages."""
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    with db.engine.connect() as connection:
        lines = [r[0] for r in connection.exec_driver_sql("EXPLAIN " + str(compiled))]
    return " | ".join(line.split("  (cost")[0].strip() for line in lines if "->" in line or "Insert" in line)


def upgrade(db: Database, revision: str) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def old_timed(db: Database, edition_id: int, through: int, timeout: int) -> float | None:
    """Seconds the old statement took; None when it hit the timeout (rolled back)."""
    try:
        with db.session() as session, timed() as timing:
            session.execute(text(f"SET LOCAL statement_timeout = '{timeout}s'"))
            session.execute(old_snapshot(edition_id, through))
    except OperationalError:  # QueryCanceled: the cap
        return None
    return timing.wall


def batched(db: Database, edition_id: int) -> int:
    """The audience in batches, each committed, as prepare_ledger copies it."""
    after, added = 0, 0
    while True:
        with db.session() as session:
            through = queue.range_end(session, after, LEDGER_BATCH)
            if through is None:
                return added
            added += queue.snapshot(session, edition_id, "newsletter", EVERYONE, after, through)
        after = through


def postgres(args: argparse.Namespace) -> list[Figure]:
    with scratch_postgres("comms_bench_snapshot") as url:
        db = Database(url)
        try:
            upgrade(db, "0011_reason_nl")  # the schema the old statement ran on: its indexes
            with db.session() as session:
                for table in ("contacts", "messages"):
                    session.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
                insert_contacts(session, args.contacts)
                previous = new_edition(session, "vorige-editie")
                session.execute(
                    text(
                        "INSERT INTO messages (edition_id, contact_id, variant, status, attempts) "
                        "SELECT :edition, id, '', 'sent', 1 FROM contacts WHERE id <= :n"
                    ),
                    {"edition": previous, "n": args.baseline_contacts},
                )
                old_id = new_edition(session, "oud")
            print("old plan, no statistics:", explain(db, old_snapshot(old_id, args.baseline_contacts)))
            old = old_timed(db, old_id, args.baseline_contacts, args.baseline_timeout)
            upgrade(db, "head")  # indexes on messages only: contacts still has no statistics
            with db.session() as session:
                new_id, batch_id = (new_edition(session, key) for key in ("nieuw", "batches"))
            with db.session() as session, timed() as one:
                added = queue.snapshot(session, new_id, "newsletter", EVERYONE)
            assert added == args.contacts, added
            with timed() as in_batches:
                assert batched(db, batch_id) == args.contacts
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("ANALYZE contacts")
                connection.exec_driver_sql("ANALYZE messages")
            print("old plan, after ANALYZE:", explain(db, old_snapshot(old_id, args.baseline_contacts)))
            analyzed = old_timed(db, old_id, args.baseline_contacts, args.baseline_timeout)
        finally:
            db.dispose()
    per = args.contacts / args.baseline_contacts
    capped = f"> {args.baseline_timeout} s (statement_timeout hit)"
    old_note = f"old NOT EXISTS, {args.baseline_contacts:,} contacts, no statistics: " + (
        capped if old is None else f"{old:.1f} s"
    )
    analyzed_note = f"after ANALYZE: {'(capped)' if analyzed is None else f'{analyzed:.1f} s'}"
    # The baseline ran on a tenth of the contacts: scaled to the same size for the ratio.
    baseline = (args.baseline_timeout if old is None else old) * per
    return [
        Figure(
            f"PostgreSQL, {args.contacts:,} contacts, one statement, no statistics",
            one.wall,
            "s",
            at_most(TARGET_SECONDS, "s"),
            baseline,
            f"{old_note}; scaled ×{per:g} for the ratio{' (a lower bound)' if old is None else ''}",
        ),
        Figure(
            f"PostgreSQL, {args.contacts:,} contacts, in committed batches of {LEDGER_BATCH:,}",
            in_batches.wall,
            "s",
            at_most(TARGET_SECONDS, "s"),
            notes=analyzed_note,
        ),
    ]


def sqlite(contacts: int) -> Figure:
    with tempfile.TemporaryDirectory() as work:
        db = Database(f"sqlite:///{Path(work) / 'snapshot.sqlite3'}")
        try:
            db.migrate()
            with db.session() as session:
                insert_contacts(session, contacts)
                edition_id = new_edition(session)
            with db.session() as session, timed() as one:
                queue.snapshot(session, edition_id, "newsletter", EVERYONE)
        finally:
            db.dispose()
    return Figure(
        f"SQLite, {contacts:,} contacts, one statement",
        one.wall,
        "s",
        notes=f"for information; CPU {one.cpu:.1f} s",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--baseline-contacts", type=int, default=100_000)
    parser.add_argument("--baseline-timeout", type=int, default=60)
    parser.add_argument("--sqlite-contacts", type=int, default=1_000_000)
    args = parser.parse_args()
    started = time.perf_counter()
    figures = postgres(args) if postgres_available() else []
    if not figures:
        print("PostgreSQL not reachable: its figures are left out")
    figures.append(sqlite(args.sqlite_contacts))
    result = report(
        "snapshotting the audience into the ledger right after an import (queue.snapshot)",
        figures,
        statistics="none on contacts or messages (autovacuum off for both) until the ANALYZE baseline",
        took=f"{time.perf_counter() - started:.0f} s in all",
    )
    return exit_code(result)


if __name__ == "__main__":
    sys.exit(main())
