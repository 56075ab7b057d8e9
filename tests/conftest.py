"""Shared fixtures: databases (SQLite always, PostgreSQL when COMMS_TEST_DATABASE_URL is set)
and a throwaway project directory laid out like the repository."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from comms.store.database import Database

pytest_plugins = ["tests.fakes.smtp", "tests.fakes.sendgrid", "tests.fakes.imap", "tests.fakes.feeds"]

REPO = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("COMMS_TEST_DATABASE_URL")
SECRET = "test-secret-key-that-is-long-enough-0123456789"


@pytest.fixture
def seed() -> int:
    """The seed of a test's random choices (`random.Random(seed)`): the same every run unless
    COMMS_TEST_SEED says otherwise; failure messages name it, so a failing run can be repeated."""
    return int(os.environ.get("COMMS_TEST_SEED", "20261201"))


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMS_SECRET_KEY", SECRET)
    monkeypatch.delenv("COMMS_DATABASE_URL", raising=False)
    monkeypatch.delenv("COMMS_CONFIG", raising=False)


class PostgresCopies:
    """Databases beside the one COMMS_TEST_DATABASE_URL names (named after it, dropped at session
    end): a template migrated once per session, and per test a fresh copy of it (CREATE DATABASE
    … TEMPLATE, ~0.2 s; emptying every table with TRUNCATE measured slower). A copy of its own
    lets a test migrate, change the schema, close the database or kill connections without
    leaving anything for the next. The named database itself (CI creates and drops it) only
    carries the CREATE/DROP statements."""

    def __init__(self, url: str) -> None:
        self._url = make_url(url)
        self._admin = Database(url)
        base = str(self._url.database)
        if worker := os.environ.get("PYTEST_XDIST_WORKER"):  # parallel sessions need names of their own
            base = f"{base}_{worker}"
        self.template = _identifier(base, "template")
        self.copy = _identifier(base, "test")

    def url(self, name: str) -> str:
        return self._url.set(database=name).render_as_string(hide_password=False)

    def _execute(self, statement: str) -> None:
        with self._admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(statement)

    def _quoted(self, name: str) -> str:
        return self._admin.engine.dialect.identifier_preparer.quote_identifier(name)

    def _drop(self, name: str) -> None:
        # FORCE ends connections a test left behind (a killed `comms serve`, an engine not disposed).
        self._execute(f"DROP DATABASE IF EXISTS {self._quoted(name)} WITH (FORCE)")

    def create_template(self) -> None:
        self.drop_all()  # left over from an interrupted session
        self._execute(f"CREATE DATABASE {self._quoted(self.template)}")
        template = Database(self.url(self.template))
        template.migrate()
        template.dispose()  # CREATE DATABASE … TEMPLATE refuses while anyone is connected to it

    @contextmanager
    def fresh_copy(self) -> Iterator[str]:
        self._drop(self.copy)
        self._execute(f"CREATE DATABASE {self._quoted(self.copy)} TEMPLATE {self._quoted(self.template)}")
        try:
            yield self.url(self.copy)
        finally:
            self._drop(self.copy)

    def drop_all(self) -> None:
        self._drop(self.copy)
        self._drop(self.template)

    def dispose(self) -> None:
        self._admin.dispose()


def _identifier(base: str, suffix: str) -> str:
    """`base_suffix` within PostgreSQL's 63 bytes: longer names are cut silently, and two cut
    names could then be the same database."""
    room = 63 - len(suffix) - 1
    return f"{base.encode()[:room].decode(errors='ignore')}_{suffix}"


@pytest.fixture(scope="session")
def postgres_copies() -> Iterator[PostgresCopies]:
    assert POSTGRES_URL, "COMMS_TEST_DATABASE_URL is not set"
    copies = PostgresCopies(POSTGRES_URL)
    copies.create_template()
    yield copies
    copies.drop_all()
    copies.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, made once per session; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "comms.sqlite3"
    template = Database(f"sqlite:///{path}")
    template.migrate()
    template.dispose()
    # Closing the last connection moves the WAL into the file; a copy of the file alone is whole.
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked `postgresql_only` exists for the PostgreSQL database only (what it tests has
    no SQLite counterpart): its SQLite variant is not collected, rather than skipped every run.
    Without COMMS_TEST_DATABASE_URL the PostgreSQL variant skips with that reason, as all do."""
    keep, drop = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        sqlite = params is not None and params.params.get("database_url") == "sqlite"
        (drop if sqlite and item.get_closest_marker("postgresql_only") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(
                not POSTGRES_URL, reason="COMMS_TEST_DATABASE_URL is not set (PostgreSQL tests)"
            ),
        ),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each kind, the test's own; the URL, for code that opens its own
    connections (subprocesses too). A copy of the session's template: migrating again is a no-op."""
    if request.param == "sqlite":
        path = tmp_path / "comms.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        copies: PostgresCopies = request.getfixturevalue("postgres_copies")
        with copies.fresh_copy() as url:
            yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def project(tmp_path: Path, database_url: str) -> Path:
    """A copy of the repository's editable folders and sample data, with its own database
    and outbox; tests change these files freely."""
    root = tmp_path / "project"
    root.mkdir()
    for folder in ("templates", "audiences", "schedules", "sample"):
        shutil.copytree(REPO / folder, root / folder)
    config = (REPO / "comms.toml").read_text(encoding="utf-8")
    config = config.replace('url = "sqlite:///var/comms.sqlite3"', f'url = "{database_url}"')
    (root / "comms.toml").write_text(config, encoding="utf-8")
    return root
