"""Exactly one `comms serve` runs the schedules: the leader. Others wait as standby.

On PostgreSQL the leader holds a session-level advisory lock on a connection of its
own. The lock lives exactly as long as that connection: when the leader dies, the
server ends its session and the lock is free for the first standby that asks. On
SQLite (one machine by nature) an exclusive lock on a file beside the database
does the same; the operating system drops it when the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from comms.store.database import Database

log = logging.getLogger(__name__)
# pg_advisory_lock takes a bigint; this one is "comms-sc" in ASCII, so it is recognisable
# in pg_locks and unlikely to collide with another application's lock on the same server.
LOCK_KEY = int.from_bytes(b"comms-sc", "big") & 0x7FFF_FFFF_FFFF_FFFF
# The leader's connection must notice a vanished peer (a crashed machine sends no FIN):
# TCP keepalives on both ends, so the server frees the lock within about half a minute.
_KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


class Leadership(Protocol):
    def try_acquire(self) -> bool:
        """Become leader if nobody is; True when this process leads (again)."""
        ...

    def is_held(self) -> bool:
        """Still the leader? False once the lock is lost (the connection died)."""
        ...

    def release(self) -> None: ...


class PostgresLeadership:
    def __init__(self, url: str):
        # Its own engine without a pool: the lock belongs to exactly this one connection.
        self._engine = create_engine(url, poolclass=NullPool, connect_args=_KEEPALIVE, hide_parameters=True)
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        if self._connection is not None:
            return self.is_held()
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
            self._connection = connection
            return True
        connection.close()
        return False

    def is_held(self) -> bool:
        if self._connection is None:
            return False
        try:
            held = self._connection.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND pid = pg_backend_pid() AND ((classid::bigint << 32) | objid::bigint) = :key"
                ),
                {"key": LOCK_KEY},
            )
            self._connection.commit()
        except DBAPIError:
            held = 0
        if not held:
            self._drop()
        return bool(held)

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
                self._connection.commit()
            except DBAPIError:
                pass  # the connection is gone, and the lock with it
            self._drop()
        self._engine.dispose()

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(DBAPIError):  # closing a dead connection may complain
                self._connection.close()
            self._connection = None


class FileLeadership:
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

    def is_held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def leadership_for(db: Database) -> Leadership:
    url = db.engine.url
    if db.is_postgresql:
        return PostgresLeadership(url.render_as_string(hide_password=False))
    database = url.database
    if not database or database == ":memory:":
        raise ValueError("comms serve needs a database file or PostgreSQL, not an in-memory database")
    return FileLeadership(Path(database).with_suffix(".scheduler.lock"))
