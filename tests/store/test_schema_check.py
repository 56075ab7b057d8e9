"""Only `comms migrate`, `demo` and the long-running processes migrate; every other command reads
the schema's revision once and refuses a database that is behind or ahead of this comms."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner, Result
from sqlalchemy import text

from comms.cli import main
from comms.store.database import MIGRATIONS, SCHEMA_HEAD, SCHEMA_REVISIONS, Database


def comms(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(project / "comms.toml"), *args])


def _downgrade(url: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig

    db = Database(url)
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
    db.dispose()


def _set_revision(url: str, revision: str) -> None:
    db = Database(url)
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    db.dispose()


def _revision(url: str) -> str | None:
    db = Database(url)
    try:
        return db.schema_revision()
    finally:
        db.dispose()


def test_the_known_revisions_are_alembics_history_oldest_first() -> None:
    script = ScriptDirectory(str(MIGRATIONS))
    assert tuple(r.revision for r in reversed(list(script.walk_revisions()))) == SCHEMA_REVISIONS
    assert script.get_current_head() == SCHEMA_HEAD


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the embedded default
def test_a_new_projects_first_command_creates_the_schema(
    project: Path, database_url: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    toml = project / "comms.toml"
    toml.write_text(toml.read_text().replace(f'url = "{database_url}"', f'url = "{url}"'))

    result = comms(project, "status")

    assert (result.exit_code, result.output.strip()) == (0, "no editions yet")
    assert _revision(url) == SCHEMA_HEAD


def test_a_schema_behind_is_refused_until_migrated(project: Path, database_url: str) -> None:
    _downgrade(database_url, SCHEMA_REVISIONS[-2])

    refused = comms(project, "status")

    assert refused.exit_code == 1
    assert refused.output.strip() == (
        f"error: the database schema is at {SCHEMA_REVISIONS[-2]}, this comms needs {SCHEMA_HEAD}: "
        "run `comms migrate`"
    )
    assert _revision(database_url) == SCHEMA_REVISIONS[-2]  # refused, not migrated behind one's back

    migrated = comms(project, "migrate")

    assert migrated.exit_code == 0, migrated.output
    assert migrated.output.strip() == f"database schema migrated from {SCHEMA_REVISIONS[-2]} to {SCHEMA_HEAD}"
    assert comms(project, "status").output.strip() == "no editions yet"
    assert comms(project, "migrate").output.strip() == f"database schema at {SCHEMA_HEAD}: up to date"


@pytest.mark.parametrize("command", [["status"], ["migrate"]])
def test_a_schema_ahead_of_this_comms_is_refused(
    project: Path, database_url: str, command: list[str]
) -> None:
    _set_revision(database_url, "0099_from_the_future")

    result = comms(project, *command)

    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: the database schema is at 0099_from_the_future, newer than this comms knows (it needs "
        f"{SCHEMA_HEAD}): a later version of comms has migrated it; use that version"
    )
    assert _revision(database_url) == "0099_from_the_future"
