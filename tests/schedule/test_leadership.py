"""One leader at a time: an advisory lock on PostgreSQL, a file lock beside SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from comms.schedule.leadership import LOCK_KEY, Leadership, PostgresLeadership, leadership_for
from comms.store.database import Database


@pytest.fixture
def contenders(db: Database) -> Iterator[tuple[Leadership, Leadership]]:
    first, second = leadership_for(db), leadership_for(db)
    yield first, second
    first.release()
    second.release()


def test_only_one_of_two_becomes_leader_until_it_lets_go(contenders: tuple[Leadership, Leadership]) -> None:
    first, second = contenders
    assert first.try_acquire() is True
    assert second.try_acquire() is False
    assert first.try_acquire() is True  # asking again while leading changes nothing
    assert first.is_held() and not second.is_held()
    first.release()
    assert second.try_acquire() is True
    assert first.try_acquire() is False


# SQLite's file lock lives exactly as long as the process (tests/test_serve.py kills one).
@pytest.mark.postgresql_only
def test_a_leader_whose_connection_dies_knows_it_lost_the_lead(db: Database) -> None:
    first, second = leadership_for(db), leadership_for(db)
    assert isinstance(first, PostgresLeadership)
    try:
        assert first.try_acquire()
        with db.engine.begin() as connection:  # what a database restart does to the session
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND ((classid::bigint << 32) | objid::bigint) = :key"
                ),
                {"key": LOCK_KEY},
            )
        assert first.is_held() is False
        assert second.try_acquire() is True
        assert first.try_acquire() is False
    finally:
        first.release()
        second.release()


def test_an_in_memory_database_cannot_elect_a_leader() -> None:
    with pytest.raises(ValueError, match="in-memory"):
        leadership_for(Database("sqlite://"))
