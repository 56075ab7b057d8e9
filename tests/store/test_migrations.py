from __future__ import annotations

from pathlib import Path

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


def test_0009_rewrites_the_answers_of_anonymous_rounds_without_their_order_or_small_groups(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Responses stored before the pool: written again under new random ids, in their order, and
    (role, province) only where min_group_size share it, else "overig"; named rounds untouched."""
    import json

    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import text

    db = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))

    def upgrade(revision: str) -> None:
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    upgrade("0008")
    rounds = {
        1: (True, [("statenlid", "Utrecht")] * 2 + [("cdk", "Zeeland")] * 2),
        2: (True, [("statenlid", "Utrecht")] * 3 + [("cdk", "Zeeland")]),
        3: (False, [("cdk", "Zeeland")]),
    }
    with db.engine.begin() as connection:
        for survey_id, (anonymous, groups) in rounds.items():
            connection.execute(
                text(
                    "INSERT INTO surveys (id, round, name, title, anonymous, opens_at, closes_at, "
                    "started_at, definition) VALUES (:id, :round, 'pamflet', 't', :anonymous, "
                    "'2026-01-01', '2026-02-01', '2026-01-01', :definition)"
                ),
                {
                    "id": survey_id,
                    "round": f"r{survey_id}",
                    "anonymous": anonymous,
                    "definition": json.dumps({"min_group_size": 2}),
                },
            )
            for number, (role, province) in enumerate(groups):
                connection.execute(
                    text(
                        "INSERT INTO survey_responses (id, survey_id, role, province, answers) "
                        "VALUES (:id, :s, :r, :p, '{}')"
                    ),
                    {"id": f"{survey_id}{number:031d}", "s": survey_id, "r": role, "p": province},
                )
    upgrade("head")
    with db.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT survey_id, id, role, province FROM survey_responses ORDER BY rowid")
        ).all()
    db.dispose()

    labels = {s: sorted((r.role, r.province) for r in rows if r.survey_id == s) for s in rounds}
    assert labels[1] == [("cdk", "Zeeland")] * 2 + [("statenlid", "Utrecht")] * 2
    assert labels[2] == [("overig", "overig")] * 4  # the CdK alone would be named by "the rest"
    assert labels[3] == [("cdk", "Zeeland")]  # not anonymous: as it was
    for survey_id in (1, 2):
        ids = [r.id for r in rows if r.survey_id == survey_id]
        old = {f"{survey_id}{number:031d}" for number in range(len(rounds[survey_id][1]))}
        # new random ids (a uuid4 may start with the old prefix by chance: compare whole ids)
        assert ids == sorted(ids) and not old & set(ids)


@pytest.mark.parametrize(
    ("english", "dutch"),
    [
        ("held by fenna: wacht op de AV-datum", "aangehouden door fenna: wacht op de AV-datum"),
        ("discarded by joris", "vervallen verklaard door joris"),
        ("superseded by a newer agenda version", "vervangen door een nieuwere versie van de agenda"),
        ("no new items since 2026-11-01 08:00 CET; not sent", None),  # left English: not guessed
        (None, None),
    ],
)
def test_0011_gives_the_reasons_stored_before_their_dutch(
    tmp_path: Path, english: str | None, dutch: str | None
) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import text

    db = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))

    def upgrade(revision: str) -> None:
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    upgrade("0010_team")
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO editions (id, key, kind, subject, audience, status, status_reason, built_at, "
                "summary) VALUES (1, 'k', 'newsletter', 's', 'statenleden', 'held', :why, '2026-11-30', '{}')"
            ),
            {"why": english},
        )
    upgrade("head")
    with db.engine.connect() as connection:
        stored = connection.execute(text("SELECT status_reason, status_reason_nl FROM editions")).one()
    db.dispose()

    assert tuple(stored) == (english, dutch)
