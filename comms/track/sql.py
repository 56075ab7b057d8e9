"""One insert that tolerates a concurrent twin, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from comms.store.models import Base


def insert_once(session: Session, model: type[Base], values: dict[str, Any], unique: list[str]) -> int | None:
    """Insert a row unless one with the same `unique` columns exists; its id, or None if it did.

    ON CONFLICT DO NOTHING rather than check-then-insert: two webhook posts (or a post and a
    click) racing on the same row must not fail one of them with an IntegrityError.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, model.__table__)  # every model here is mapped to a plain Table
    statement = (
        insert(table).values(**values).on_conflict_do_nothing(index_elements=unique).returning(table.c.id)
    )
    return session.scalar(statement)
