"""One leader at a time: an advisory lock on PostgreSQL, a file lock beside SQLite; a leader
whose PostgreSQL lock goes away knows at once, or at the latest when its lease runs out."""

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


def kill_lock_connection(db: Database) -> None:
    """What a database restart or a cut connection does to the leader's session."""
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND ((classid::bigint << 32) | objid::bigint) = :key"
                # this database's lock only: other test databases on the server have their own
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"key": LOCK_KEY},
        )


def test_only_one_of_two_becomes_leader_until_it_lets_go(contenders: tuple[Leadership, Leadership]) -> None:
    first, second = contenders
    assert first.try_acquire() is True
    assert second.try_acquire() is False
    assert first.try_acquire() is True  # asking again while leading changes nothing
    assert first.confirm() and not second.confirm()
    assert first.leads() and not second.leads()
    first.release()
    assert not first.leads()
    assert second.try_acquire() is True
    assert first.try_acquire() is False


@pytest.mark.postgresql_only
def test_a_leader_whose_connection_dies_knows_it_lost_the_lead(db: Database) -> None:
    first, second = leadership_for(db), leadership_for(db)
    assert isinstance(first, PostgresLeadership)
    try:
        assert first.try_acquire()
        kill_lock_connection(db)
        assert first.leads()  # nobody has told it yet: its lease still runs …
        assert first.confirm() is False  # … until the next confirmation, which ends it at once
        assert first.leads() is False
        assert second.try_acquire() is True
        assert first.try_acquire() is False
    finally:
        first.release()
        second.release()


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.postgresql_only
@pytest.mark.parametrize(
    ("confirmed", "seconds_later", "leads"),
    [
        pytest.param(True, 0.0, True, id="just-confirmed"),
        pytest.param(True, 5.9, True, id="within-the-lease"),
        pytest.param(True, 6.0, False, id="lease-run-out"),
        pytest.param(False, 0.0, False, id="lock-lost"),
    ],
)
def test_a_leader_leads_only_within_a_lease_of_its_last_confirmation(
    db: Database, confirmed: bool, seconds_later: float, leads: bool
) -> None:
    """The cheap check before every step: no round trip, and never past the lease, however long
    the lock connection hangs (its lost lock may then already be someone else's)."""
    clock = FakeMonotonic()
    leader = PostgresLeadership(db.engine.url.render_as_string(hide_password=False), 6, clock)
    try:
        assert leader.try_acquire()
        if not confirmed:
            kill_lock_connection(db)
            leader.confirm()
        clock.now += seconds_later
        assert leader.leads() is leads
    finally:
        leader.release()


def test_an_in_memory_database_cannot_elect_a_leader() -> None:
    with pytest.raises(ValueError, match="in-memory"):
        leadership_for(Database("sqlite://"))
