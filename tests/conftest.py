"""Shared fixtures: databases (SQLite always, PostgreSQL when COMMS_TEST_DATABASE_URL is set)
and a throwaway project directory laid out like the repository."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from comms.store.database import Database

pytest_plugins = ["tests.fakes.smtp", "tests.fakes.sendgrid"]

REPO = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("COMMS_TEST_DATABASE_URL")
SECRET = "test-secret-key-that-is-long-enough-0123456789"


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMS_SECRET_KEY", SECRET)
    monkeypatch.delenv("COMMS_DATABASE_URL", raising=False)
    monkeypatch.delenv("COMMS_CONFIG", raising=False)


def _reset_postgres(url: str) -> Database:
    db = Database(url)
    with db.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    return db


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
    """A migrated, empty database of each kind; the URL, for code that opens its own."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'comms.sqlite3'}"
        db = Database(url)
    else:
        assert POSTGRES_URL
        url = POSTGRES_URL
        db = _reset_postgres(url)
    db.migrate()
    db.dispose()
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
