"""The claim and the snapshot as the database plans them: an index serves every lookup of the
ledger, whatever the statistics say, so a claim costs the same at the millionth message as at
the first (benchmarks/bench_claim.py and bench_snapshot.py measure it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from comms.deliver import queue
from comms.store.database import Database
from comms.store.models import Contact
from tests.deliver.ledger_rows import NOW, insert_contacts, insert_ledger, new_edition

Statement = tuple[str, Any]


@contextmanager
def statements(db: Database) -> Iterator[list[Statement]]:
    """Every statement the block sends to the database, with its parameters."""
    seen: list[Statement] = []

    def note(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def plan(session: Session, statement: str, parameters: Any, servable: bool = False) -> list[str]:
    """The plan's lines. `servable`: whether an index *can* serve it, at a size where a scan
    would still be cheaper (PostgreSQL rightly scans 20,000 rows rather than probe its key
    a hundred times; at a million it does not)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        if servable:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        return [row[0] for row in rows]
    rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
    return [row[-1] for row in rows]


def reads_whole_ledger(lines: list[str]) -> list[str]:
    """The plan lines that scan or sort the messages table rather than seek in an index."""
    full = []
    for line in lines:
        if "Seq Scan on messages" in line or line.strip().startswith(("SCAN messages", "SCAN m ")):
            full.append(line)
    return full


def sorts(lines: list[str]) -> list[str]:
    return [line for line in lines if "Sort" in line or "TEMP B-TREE" in line]


def ledger(db: Database, analyzed: bool) -> int:
    """20,000 messages: 19,000 sent, 200 retries due, 800 pending."""
    with db.session() as session:
        if db.is_postgresql:
            session.execute(text("ALTER TABLE contacts SET (autovacuum_enabled = false)"))
            session.execute(text("ALTER TABLE messages SET (autovacuum_enabled = false)"))
        insert_contacts(session, 20_000)
        edition_id = new_edition(session)
        insert_ledger(session, edition_id, sent=19_000, retries=200)
    if analyzed:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    return edition_id


@pytest.mark.parametrize("analyzed", [False, True], ids=["no statistics", "analyzed"])
def test_a_claim_seeks_in_an_index_never_in_the_whole_ledger(db: Database, analyzed: bool) -> None:
    edition_id = ledger(db, analyzed)
    with statements(db) as seen, db.session() as session:
        claimed = queue.claim(session, edition_id, "newsletter", "w", 100, NOW)
    assert len(claimed) == 100
    lookups = [(s, p) for s, p in seen if "FROM messages" in s and "LIMIT" in s]
    assert len(lookups) == 1  # the retries fill the batch: the pending lookup is not needed
    with db.session() as session:
        for statement, parameters in lookups:
            lines = plan(session, statement, parameters)
            # Only rows with a retry time are in this partial index: without statistics
            # PostgreSQL may sort what it finds there, never the ledger.
            assert any("ix_messages_retry" in line for line in lines), lines
            assert not reads_whole_ledger(lines), lines
    with db.session() as session:  # the rest goes by the claimed ids
        for statement, parameters in seen:
            if "messages" in statement and (statement, parameters) not in lookups:
                lines = plan(session, statement, parameters, servable=True)
                assert not reads_whole_ledger(lines), (statement, lines)


@pytest.mark.parametrize("analyzed", [False, True], ids=["no statistics", "analyzed"])
def test_the_pending_lookup_walks_the_index_in_ledger_order(db: Database, analyzed: bool) -> None:
    edition_id = ledger(db, analyzed)
    with db.session() as session:
        queue.claim(session, edition_id, "newsletter", "w", 200, NOW)  # the retries, all of them
    with statements(db) as seen, db.session() as session:
        claimed = queue.claim(session, edition_id, "newsletter", "w", 100, NOW)
    assert [c.recipient.ledger_id for c in claimed] == list(range(19_201, 19_301))
    lookups = [(s, p) for s, p in seen if "FROM messages" in s and "LIMIT" in s]
    with db.session() as session:
        pending = [plan(session, s, p) for s, p in lookups if "retry_at" not in s]
    assert len(pending) == 1
    assert any("ix_messages_due" in line for line in pending[0]), pending[0]
    assert not sorts(pending[0]) and not reads_whole_ledger(pending[0]), pending[0]


def test_the_snapshot_never_scans_the_ledger_per_contact(db: Database) -> None:
    """Right after an import (no statistics) PostgreSQL planned the old NOT EXISTS as a nested
    loop over the ledger: 672 s for 100,000 contacts. ON CONFLICT has no such plan to choose."""
    edition_id = ledger(db, analyzed=False)
    with db.session() as session:
        insert_contacts(session, 5_000, start=20_000)  # imported after the send started
    with statements(db) as seen, db.session() as session:
        added = queue.snapshot(session, edition_id, "newsletter", Contact.active.is_(True))
    assert added == 5_000
    [(statement, parameters)] = [(s, p) for s, p in seen if s.startswith("INSERT INTO messages")]
    with db.session() as session:
        lines = plan(session, statement, parameters)
    assert not reads_whole_ledger(lines), lines
    assert not [line for line in lines if "Anti Join" in line or "Nested Loop" in line], lines


@pytest.mark.parametrize("already", [0, 3, 10])
def test_the_snapshot_counts_the_rows_it_added(db: Database, already: int) -> None:
    with db.session() as session:
        insert_contacts(session, 10)
        edition_id = new_edition(session)
        queue.snapshot(session, edition_id, "newsletter", Contact.id <= already)
    with db.session() as session:
        assert queue.snapshot(session, edition_id, "newsletter", Contact.active.is_(True)) == 10 - already
