"""Engine, sessions and migrations for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from comms.errors import ConfigurationError, Unavailable

MIGRATIONS = Path(__file__).parent / "migrations"
# Every migration's revision, oldest first, so a command can tell a database behind this comms
# from one ahead of it without loading Alembic (tests/store/test_migrations.py compares this with
# Alembic's own history). A new migration is appended here.
SCHEMA_REVISIONS = (
    "0001",
    "0002",
    "0003",
    "0004",
    "0005",
    "0006",
    "0007",
    "0008",
    "0009_survey_pool",
    "0010_team",
    "0011_reason_nl",
    "0012_ledger_indexes",
    "0013_metrics_indexes",
)
SCHEMA_HEAD = SCHEMA_REVISIONS[-1]


def normalise_url(url: str, base_dir: Path | None = None) -> str:
    """Accept the URL forms people write: postgresql://, postgres://, relative sqlite paths."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        path.parent.mkdir(parents=True, exist_ok=True)
        parsed = parsed.set(database=str(path))
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, base_dir: Path | None = None) -> Engine:
    url = normalise_url(url, base_dir)
    if url.startswith("sqlite"):
        # hide_parameters: a database error must not put addresses into a log.
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets `comms status` read while a send writes; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (creates it on an empty database)."""
    # Alembic (and with it Mako) loads in ~0.3 s: only what migrates pays for it.
    from alembic import command
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class DatabaseUnavailable(Unavailable):
    """The configured database cannot be reached: down, a wrong host or port, refused."""


class SchemaNotCurrent(ConfigurationError):
    """The database's schema is not the one this comms was written for: older (run `comms
    migrate`) or newer (a later comms migrated it)."""


def _ahead(revision: str) -> SchemaNotCurrent:
    return SchemaNotCurrent(
        f"the database schema is at {revision}, newer than this comms knows (it needs {SCHEMA_HEAD}): "
        "a later version of comms has migrated it; use that version"
    )


class Database:
    """One engine and its session factory; the rest of comms asks this for sessions."""

    def __init__(self, url: str, base_dir: Path | None = None):
        self.engine = make_engine(url, base_dir)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def migrate(self) -> None:
        """Raises DatabaseUnavailable when the database cannot be reached (the first connection),
        SchemaNotCurrent when a later comms has migrated it further than this one knows."""
        revision = self.schema_revision()
        if revision is not None and revision not in SCHEMA_REVISIONS:
            raise _ahead(revision)
        with self._reachable():
            migrate(self.engine)

    def schema_revision(self) -> str | None:
        """The migration the schema is at; None on a database without one (nothing created yet)."""
        with self._reachable(), self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def check_schema(self) -> None:
        """What a command does instead of migrating: one look at the schema's revision. An empty
        database is created (a new project's first command just works); one behind or ahead of
        this comms is refused, as a command must not run on a schema it was not written for."""
        revision = self.schema_revision()
        if revision is None:
            self.migrate()
        elif revision not in SCHEMA_REVISIONS:
            raise _ahead(revision)
        elif revision != SCHEMA_HEAD:
            raise SchemaNotCurrent(
                f"the database schema is at {revision}, this comms needs {SCHEMA_HEAD}: run `comms migrate`"
            )

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            shown = self.engine.url.render_as_string(hide_password=True)
            raise DatabaseUnavailable(f"cannot reach the database {shown}: {exc.orig or exc}") from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def database_away(exc: BaseException) -> bool:
    """A lost or refused connection (restart, failover, terminated backend, SQLite busy)
    rather than a mistake in a statement: waiting and trying again can help."""
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def database_reason(exc: DBAPIError) -> str:
    """One short line for a log: the driver's error class and its first line (no parameters)."""
    lines = str(exc.orig).strip().splitlines() or [""]
    return f"{type(exc.orig).__name__}: {lines[0][:200]}"


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed. SQLAlchemy types `Session.execute` as the
    general Result; for these statements it is a CursorResult, which counts them."""
    return cast(CursorResult[Any], result).rowcount or 0
