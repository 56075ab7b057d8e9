"""Exactly one `comms serve` runs the schedules: the leader. Others wait as standby.

On PostgreSQL the leader holds a session-level advisory lock on a connection of its
own. The lock lives exactly as long as that connection: when the leader dies, the
server ends its session and the lock is free for the first standby that asks. On
SQLite (one machine by nature) an exclusive lock on a file beside the database
does the same; the operating system drops it when the process dies.

A leader can lose a PostgreSQL lock while it lives (its connection killed or cut): it then
must stop at once, before anyone else starts. `leads()` is true only within a lease of the
last confirmation, and a new leader waits that lease out after taking the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from comms.store.database import Database, database_reason

log = logging.getLogger(__name__)
# pg_advisory_lock takes a bigint; this one is "comms-sc" in ASCII, so it is recognisable
# in pg_locks and unlikely to collide with another application's lock on the same server.
LOCK_KEY = int.from_bytes(b"comms-sc", "big") & 0x7FFF_FFFF_FFFF_FFFF
# The leader's connection must notice a vanished peer (a crashed machine sends no FIN):
# TCP keepalives on both ends, so the server frees the lock within about half a minute.
_KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


class Leadership(Protocol):
    # How long a new leader waits after taking the lock before it leads: the longest a
    # leader that lost the lock may still believe it leads. 0 when a lock cannot be lost alive.
    takeover_wait: float

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; True when this process holds it (again)."""
        ...

    def confirm(self) -> bool:
        """Ask the lock's keeper (a round trip): still held? Renews the lease when it is."""
        ...

    def leads(self) -> bool:
        """Held, and confirmed within the lease: cheap (no round trip), asked before every step."""
        ...

    def release(self) -> None: ...


class PostgresLeadership:
    """The lock is held exactly as long as its connection lives; this process believes it leads
    only for `lease` seconds after the lock was last confirmed (a thread confirms it well within
    that, see serve.py). A new leader waits `lease` after taking the lock before it leads, so
    the lock may vanish at any moment (a killed backend, a restart) without two leaders."""

    def __init__(self, url: str, lease: float = 6, monotonic: Callable[[], float] = time.monotonic):
        # Its own engine without a pool: the lock belongs to exactly this one connection.
        self._engine = create_engine(url, poolclass=NullPool, connect_args=_KEEPALIVE, hide_parameters=True)
        self._connection: Connection | None = None
        self._confirmed: float | None = None  # monotonic time when the last confirmation was asked
        self._lock = threading.Lock()  # the serve loop and the lease thread share the connection
        self.lease = lease
        self.takeover_wait = lease
        self._monotonic = monotonic

    def try_acquire(self) -> bool:
        if self._connection is not None:
            return self.confirm()
        with self._lock:
            asked = self._monotonic()
            try:
                connection = self._engine.connect()
                connection.execute(text("SET tcp_keepalives_idle = 10"))
                connection.execute(text("SET tcp_keepalives_interval = 5"))
                connection.execute(text("SET tcp_keepalives_count = 3"))
                got = connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY})
                connection.commit()  # the lock is session-level: it outlives the transaction
            except DBAPIError as exc:
                log.warning("cannot reach the database to ask for leadership: %s", type(exc.orig).__name__)
                return False
            if got:
                self._connection, self._confirmed = connection, asked
                return True
            connection.close()
            return False

    def confirm(self) -> bool:
        with self._lock:
            if self._connection is None:
                return False
            asked = self._monotonic()  # the lease counts from the question, not the answer
            try:
                held = self._connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                        " AND pid = pg_backend_pid() AND ((classid::bigint << 32) | objid::bigint) = :key"
                    ),
                    {"key": LOCK_KEY},
                )
                self._connection.commit()
            except DBAPIError as exc:
                log.warning("leadership lock connection failed: %s", database_reason(exc))
                held = 0
            if held:
                self._confirmed = asked
            else:
                self._drop()
            return bool(held)

    def leads(self) -> bool:
        confirmed = self._confirmed
        return (
            self._connection is not None
            and confirmed is not None
            and self._monotonic() - confirmed < self.lease
        )

    def release(self) -> None:
        with self._lock:
            if self._connection is not None:
                try:
                    self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
                    self._connection.commit()
                except DBAPIError:
                    pass  # the connection is gone, and the lock with it
                self._drop()
        self._engine.dispose()

    def _drop(self) -> None:
        self._confirmed = None  # first: `leads()` reads it without the lock
        if self._connection is not None:
            with contextlib.suppress(DBAPIError):  # closing a dead connection may complain
                self._connection.close()
            self._connection = None


class FileLeadership:
    """An flock is lost only with the process, so there is nothing to confirm or wait out."""

    takeover_wait = 0.0

    def __init__(self, path: Path):
        self.path = path
        self._file: IO[str] | None = None

    def try_acquire(self) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")  # for people: which process leads
        handle.flush()
        self._file = handle
        return True

    def confirm(self) -> bool:
        return self._file is not None

    def leads(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def leadership_for(db: Database, lease: float = 6) -> Leadership:
    url = db.engine.url
    if db.is_postgresql:
        return PostgresLeadership(url.render_as_string(hide_password=False), lease)
    database = url.database
    if not database or database == ":memory:":
        raise ValueError("comms serve needs a database file or PostgreSQL, not an in-memory database")
    return FileLeadership(Path(database).with_suffix(".scheduler.lock"))
