"""The set-based sync (comms.audience.sync) on SQLite and PostgreSQL: staged rows merged into
the contacts with INSERT … ON CONFLICT, "no longer in the exports" as an anti-join."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from comms.audience import sync
from comms.audience.contacts import Contact as ContactRow
from comms.audience.sync import Duplicate, ImportCounts, import_contacts, staging
from comms.store.database import Database
from comms.store.models import Contact

NOW = datetime(2026, 11, 1, 9, tzinfo=UTC)


def row(email: str, first_name: str = "Anna", *, at: int = 2, source: str = "utrecht.csv") -> ContactRow:
    return ContactRow(
        email=email,
        first_name=first_name,
        infix="de",
        last_name="Vries",
        province="Utrecht",
        roles=frozenset({"statenlid"}),
        themes=frozenset({"landelijk-gebied"}),
        source=source,
        row=at,
    )


A, B, C = "a@utrecht.example.org", "b@utrecht.example.org", "c@utrecht.example.org"


@dataclass(frozen=True)
class Stored:
    first_name: str
    active: bool
    source_file: str


def stored(db: Database) -> dict[str, Stored]:
    with db.session() as session:
        found = session.scalars(select(Contact).order_by(Contact.id))
        return {c.email: Stored(c.first_name, c.active, c.source_file) for c in found}


def whole_rows(db: Database) -> list[tuple[object, ...]]:
    """Every column of every contact, to tell that nothing at all changed."""
    with db.session() as session:
        return [tuple(r) for r in session.execute(select(Contact.__table__).order_by(Contact.id))]


@pytest.mark.parametrize(
    ("imports", "counts", "expected"),
    [
        pytest.param(
            [[row(A), row(B, at=3)]],
            ImportCounts(added=2, updated=0, deactivated=0, unchanged=0),
            {A: Stored("Anna", True, "utrecht.csv, row 2"), B: Stored("Anna", True, "utrecht.csv, row 3")},
            id="new contacts",
        ),
        pytest.param(
            [[row(A), row(B, at=3)], [row(A), row(B, at=3)]],
            ImportCounts(added=0, updated=0, deactivated=0, unchanged=2),
            {A: Stored("Anna", True, "utrecht.csv, row 2"), B: Stored("Anna", True, "utrecht.csv, row 3")},
            id="the same export again",
        ),
        pytest.param(
            [[row(A), row(B, at=3)], [row(A, "Anne"), row(B, at=3)]],
            ImportCounts(added=0, updated=1, deactivated=0, unchanged=1),
            {A: Stored("Anne", True, "utrecht.csv, row 2"), B: Stored("Anna", True, "utrecht.csv, row 3")},
            id="a changed name is an update",
        ),
        pytest.param(
            [[row(A), row(B, at=3)], [row(B, at=2), row(A, at=9)]],
            ImportCounts(added=0, updated=0, deactivated=0, unchanged=2),
            {A: Stored("Anna", True, "utrecht.csv, row 9"), B: Stored("Anna", True, "utrecht.csv, row 2")},
            id="a row that moved is kept up to date but not counted as an update",
        ),
        pytest.param(
            [[row(A), row(B, at=3)], [row(A), row(C, at=3)]],
            ImportCounts(added=1, updated=0, deactivated=1, unchanged=1),
            {
                A: Stored("Anna", True, "utrecht.csv, row 2"),
                B: Stored("Anna", False, "utrecht.csv, row 3"),
                C: Stored("Anna", True, "utrecht.csv, row 3"),
            },
            id="gone from the exports is deactivated",
        ),
        pytest.param(
            [[row(A), row(B, at=3)], [row(A)], [row(A), row(B, at=3)]],
            ImportCounts(added=0, updated=1, deactivated=0, unchanged=1),
            {A: Stored("Anna", True, "utrecht.csv, row 2"), B: Stored("Anna", True, "utrecht.csv, row 3")},
            id="back in the exports is reactivated",
        ),
        pytest.param(
            [[row(A), row(B, at=3)], []],
            ImportCounts(added=0, updated=0, deactivated=2, unchanged=0),
            {A: Stored("Anna", False, "utrecht.csv, row 2"), B: Stored("Anna", False, "utrecht.csv, row 3")},
            id="an empty export deactivates everyone",
        ),
        pytest.param(
            [[row(A), row(A, "Anne", at=5, source="ipo.csv")]],
            ImportCounts(added=1, updated=0, deactivated=0, unchanged=0),
            {A: Stored("Anna", True, "utrecht.csv, row 2")},
            id="of duplicate addresses the first is kept",
        ),
    ],
)
def test_an_import_brings_the_contacts_in_line_with_the_export(
    db: Database, imports: list[list[ContactRow]], counts: ImportCounts, expected: dict[str, Stored]
) -> None:
    for day, rows in enumerate(imports):
        with db.session() as session:
            found = import_contacts(session, rows, NOW + timedelta(days=day))

    assert found == counts
    assert stored(db) == expected


def test_public_ids_survive_every_change_and_an_identical_import_changes_nothing(db: Database) -> None:
    def public_ids() -> dict[str, str]:
        with db.session() as session:
            return {
                email: public_id
                for email, public_id in session.execute(select(Contact.email, Contact.public_id))
            }

    with db.session() as session:
        import_contacts(session, [row(A), row(B, at=3)], NOW)
    first = public_ids()
    with db.session() as session:
        import_contacts(session, [row(A, "Anne")], NOW + timedelta(days=1))  # A changed, B gone
    with db.session() as session:
        import_contacts(session, [row(A, "Anne"), row(B, at=3)], NOW + timedelta(days=2))  # B back
    assert public_ids() == first and len(set(first.values())) == 2
    before = whole_rows(db)

    with db.session() as session:
        counts = import_contacts(session, [row(A, "Anne"), row(B, at=3)], NOW + timedelta(days=3))

    assert counts == ImportCounts(added=0, updated=0, deactivated=0, unchanged=2)
    assert whole_rows(db) == before  # not even updated_at: unchanged rows are not written


def test_rows_are_staged_in_batches(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync, "BATCH", 2)
    rows = [row(f"lid{n}@utrecht.example.org", at=n + 2) for n in range(5)]

    with db.session() as session:
        counts = import_contacts(session, iter(rows), NOW)

    assert counts.added == 5
    assert [email for email in stored(db)] == [r.email for r in rows]  # ids in reading order


def test_duplicates_are_found_across_files_in_reading_order_naming_the_first(db: Database) -> None:
    rows = [
        row(A, source="groningen.csv", at=2),
        row(B, source="groningen.csv", at=3),
        row(A, source="groningen.csv", at=4),
        row(B, source="ipo.csv", at=2),
        row(A, source="ipo.csv", at=3),
    ]
    with db.session() as session, staging(session) as staged:
        staged.add(rows)
        duplicates = staged.drop_duplicates()
        left = staged.rows

    assert duplicates == [
        Duplicate(A, "groningen.csv", 4, "groningen.csv", 2),
        Duplicate(B, "ipo.csv", 2, "groningen.csv", 3),
        Duplicate(A, "ipo.csv", 3, "groningen.csv", 2),
    ]
    assert left == 2


def test_a_failed_import_changes_nothing_and_the_next_one_works(db: Database) -> None:
    with db.session() as session:
        import_contacts(session, [row(A)], NOW)
    before = whole_rows(db)

    with pytest.raises(RuntimeError), db.session() as session, staging(session) as staged:
        staged.add([row(B)])
        staged.drop_duplicates()
        staged.merge(NOW + timedelta(days=1))  # A deactivated, B added …
        raise RuntimeError("a problem found after the merge")  # … and rolled back

    assert whole_rows(db) == before
    with db.session() as session:  # a staging table left on a pooled connection is no obstacle
        assert import_contacts(session, [row(A), row(B)], NOW).added == 1
