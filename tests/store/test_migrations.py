from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from comms.store.database import MIGRATIONS, Database, normalise_url
from comms.store.models import Base


def test_migrations_create_exactly_the_models_schema(db: Database) -> None:
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_migrating_twice_changes_nothing(db: Database) -> None:
    def revision() -> str | None:
        with db.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert revision() == head  # the test's copy of the session's template is migrated already
    db.migrate()
    db.migrate()
    assert revision() == head


import pytest  # noqa: E402


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://postgres@127.0.0.1/comms", "postgresql+psycopg://postgres@127.0.0.1/comms"),
        ("postgres://postgres@127.0.0.1/comms", "postgresql+psycopg://postgres@127.0.0.1/comms"),
        ("postgresql+psycopg://u:p@h/d", "postgresql+psycopg://u:p@h/d"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_database_url_forms(given: str, expected: str) -> None:
    assert normalise_url(given) == expected
