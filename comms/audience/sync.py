"""Bring the contacts table in line with the griffies' exports, set-based.

Contacts are matched by address. Preferences and suppressions are kept in their
own tables keyed by address, so a re-import never undoes an unsubscribe; a
contact missing from the exports is deactivated, not deleted, because the
message ledger still refers to it.

The rows go in batches into a temporary staging table on the import's own
connection; duplicates, the counts, the deactivation ("no longer in the
exports", an anti-join) and the merge (INSERT … ON CONFLICT DO UPDATE) are each
one statement there. Python holds one batch at a time, whatever the audience's
size, and nothing touches `contacts` before the merge: a caller that finds a
problem in the files rolls back, and the staged rows go with the transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import islice
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    cast,
    delete,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from comms.audience.contacts import BodySeat
from comms.audience.contacts import Contact as ContactRow
from comms.audience.resolve import tags
from comms.store.database import rows_changed
from comms.store.models import Contact, UTCDateTime

BATCH = 2_000  # rows per INSERT into the staging table: one executemany, a few hundred KB

# What an export says about a contact: compared to tell an update from an unchanged row.
_DATA = ("first_name", "infix", "last_name", "province", "party", "roles", "themes", "bodies")

_staging_metadata = MetaData()
# A TEMPORARY table: each connection has its own, so two imports cannot see each other's rows,
# and it never appears in the schema that Alembic manages.
_STAGING = Table(
    "contact_import",
    _staging_metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),  # reading order, across files
    Column("email", String(320), nullable=False),
    *(Column(name, String(500), nullable=name in ("province", "party")) for name in _DATA),
    Column("source", String(300), nullable=False),
    Column("source_row", Integer, nullable=False),
    Column("public_id", String(32), nullable=False),  # used only if the address is new
    prefixes=["TEMPORARY"],
)
_BY_EMAIL = "ix_contact_import_email"
_NAMES = ", ".join(column.name for column in _STAGING.columns)
_INSERT = f"INSERT INTO contact_import ({_NAMES}) VALUES ({', '.join('?' for _ in _STAGING.columns)})"
_COPY = f"COPY contact_import ({_NAMES}) FROM STDIN"
_CONTACTS: Table = Contact.__table__  # type: ignore[assignment]  # mapped to a plain Table


@dataclass(frozen=True, slots=True)
class ImportCounts:
    added: int
    updated: int  # a contact whose name, province, roles, themes, seats or party changed, or came back
    deactivated: int
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A later row with an address read before: skipped, the first is kept."""

    email: str
    source: str
    row: int
    first_source: str
    first_row: int


def public_ids(count: int) -> list[str]:
    """Fresh public ids (16 hex digits, as secrets.token_hex(8)), one urandom call for all."""
    digits = secrets.token_bytes(8 * count).hex()
    return [digits[start : start + 16] for start in range(0, 16 * count, 16)]


def import_contacts(session: Session, rows: Iterable[ContactRow], now: datetime) -> ImportCounts:
    """Bring the contacts in line with `rows`; of duplicate addresses the first is kept."""
    with staging(session) as staged:
        staged.add(rows)
        staged.drop_duplicates()
        return staged.merge(now)


@contextmanager
def staging(session: Session) -> Iterator[Staging]:
    """A staging table for one import, in the session's transaction and on its connection."""
    connection = session.connection()
    _STAGING.drop(connection, checkfirst=True)  # SQLite: left on a pooled connection by a failed import
    _STAGING.create(connection)
    yield Staging(session)
    _STAGING.drop(connection)


class Staging:
    """The rows of one import on their way into `contacts`."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._is_postgresql = session.get_bind().dialect.name == "postgresql"
        self.rows = 0  # staged so far, duplicates included until they are dropped

    def add(self, rows: Iterable[ContactRow]) -> None:
        """Stage rows in reading order, a batch at a time (the iterable is consumed lazily)."""
        iterator = iter(rows)
        while batch := list(islice(iterator, BATCH)):
            ids = public_ids(len(batch))
            values = [_staged(row, self.rows + n + 1, ids[n]) for n, row in enumerate(batch)]
            self._write(values)
            self.rows += len(batch)

    def _write(self, values: list[tuple[Any, ...]]) -> None:
        # The driver's own bulk paths: SQLAlchemy's per-row parameter handling cost more than
        # the insert itself, and the rows are plain strings and integers that need none.
        connection = self._session.connection()
        if self._is_postgresql:
            driver = connection.connection.dbapi_connection
            assert driver is not None
            with driver.cursor() as cursor, cursor.copy(_COPY) as copy:  # type: ignore[attr-defined]
                for row in values:
                    copy.write_row(row)
        else:
            connection.exec_driver_sql(_INSERT, values)

    def drop_duplicates(self) -> list[Duplicate]:
        """Every later row with an address staged before, in reading order, each naming the first
        row; those rows leave the staging table."""
        self._index()
        first = (
            select(_STAGING.c.email, func.min(_STAGING.c.seq).label("seq"))
            .group_by(_STAGING.c.email)
            .having(func.count() > 1)
            .subquery()
        )
        earlier, later = _STAGING.alias("earlier"), _STAGING.alias("later")
        found = self._session.execute(
            select(later.c.email, later.c.source, later.c.source_row, earlier.c.source, earlier.c.source_row)
            .select_from(first)
            .join(earlier, earlier.c.seq == first.c.seq)
            .join(later, and_(later.c.email == first.c.email, later.c.seq > first.c.seq))
            .order_by(later.c.seq)
        )
        duplicates = [Duplicate(*row) for row in found]
        if duplicates:
            before = _STAGING.alias("before")
            self._session.execute(
                delete(_STAGING).where(
                    exists().where(before.c.email == _STAGING.c.email, before.c.seq < _STAGING.c.seq)
                )
            )
            self.rows -= len(duplicates)
        return duplicates

    def _index(self) -> None:
        # After the load rather than during it: one sort instead of a B-tree insert per row.
        self._session.execute(text(f"CREATE INDEX {_BY_EMAIL} ON contact_import (email, seq)"))
        if self._is_postgresql:
            # Autovacuum never analyses a temporary table: without this the planner guesses its size.
            self._session.execute(text("ANALYZE contact_import"))

    def merge(self, now: datetime) -> ImportCounts:
        """Deactivate who is gone, then insert the new and update the changed, in three statements.
        Call after drop_duplicates: an address may be staged once."""
        counts = self._counts()
        deactivated = rows_changed(self._session.execute(_deactivate_the_absent(now)))
        self._session.execute(_upsert(self._is_postgresql, now))
        if self._is_postgresql:
            self._session.execute(text("ANALYZE contacts"))  # the next send plans on today's audience
        return ImportCounts(
            added=counts.added, updated=counts.updated, deactivated=deactivated, unchanged=counts.unchanged
        )

    def _counts(self) -> ImportCounts:
        contacts = _CONTACTS
        changed = and_(contacts.c.id.is_not(None), _data_differs(contacts, _STAGING.c))
        total, existing, updated = self._session.execute(
            select(
                func.count(),
                func.count(contacts.c.id),
                func.coalesce(func.sum(case((changed, 1), else_=0)), 0),
            )
            .select_from(_STAGING)
            .outerjoin(contacts, contacts.c.email == _STAGING.c.email)
        ).one()
        return ImportCounts(
            added=total - existing, updated=updated, deactivated=0, unchanged=existing - updated
        )


def _staged(row: ContactRow, seq: int, public_id: str) -> tuple[Any, ...]:
    """A row of the staging table, its columns in their order."""
    roles, themes, bodies = _stored(row.roles), _stored(row.themes), _stored_seats(row.bodies)
    names = (row.first_name, row.infix, row.last_name, row.province, row.party)
    return (seq, row.email, *names, roles, themes, bodies, row.source, row.row, public_id)


# The same few hundred combinations of roles, themes and seats come back in every export.
@lru_cache(maxsize=4096)
def _stored(keys: frozenset[str]) -> str:
    return tags(keys)


@lru_cache(maxsize=4096)
def _stored_seats(seats: frozenset[BodySeat]) -> str:
    return tags({seat.stored for seat in seats})


def _data_differs(contacts: Table, new: Any) -> ColumnElement[bool]:
    """The export (`new`: staged or EXCLUDED columns) says something else than the table, or
    the contact was inactive."""
    return or_(
        *(contacts.c[name].is_distinct_from(new[name]) for name in _DATA), contacts.c.active.is_(false())
    )


def _deactivate_the_absent(now: datetime) -> Any:
    contacts = _CONTACTS
    absent = ~exists().where(_STAGING.c.email == contacts.c.email)
    return update(contacts).where(contacts.c.active.is_(true()), absent).values(active=False, updated_at=now)


def _upsert(is_postgresql: bool, now: datetime) -> Any:
    """INSERT … SELECT … ON CONFLICT (email) DO UPDATE … WHERE something differs: a row the
    export repeats unchanged is not written at all, and an existing contact keeps its public_id
    (it is in every link already sent)."""
    contacts = _CONTACTS
    insert = postgresql.insert if is_postgresql else sqlite.insert
    source_file = _STAGING.c.source + ", row " + cast(_STAGING.c.source_row, String)
    written = ("email", *_DATA, "source_file", "public_id", "active", "updated_at")
    rows = (
        select(
            _STAGING.c.email,
            *(_STAGING.c[name] for name in _DATA),
            source_file,
            _STAGING.c.public_id,
            true(),
            literal(now, UTCDateTime()),
        )
        .where(true())  # SQLite: without a WHERE, "ON CONFLICT" would parse as a join's ON
        .order_by(_STAGING.c.seq)  # ids in reading order, as the files list them
    )
    statement = insert(contacts).from_select(written, rows)
    new = statement.excluded
    # Where a contact was read from is kept up to date, but a row that only moved in its file is
    # not counted as an update (see _counts): it is not news to whoever runs the import.
    differs = or_(_data_differs(contacts, new), contacts.c.source_file.is_distinct_from(new["source_file"]))
    return statement.on_conflict_do_update(
        index_elements=[contacts.c.email],
        set_={**{name: new[name] for name in (*_DATA, "source_file")}, "active": True, "updated_at": now},
        where=differs,
    )
