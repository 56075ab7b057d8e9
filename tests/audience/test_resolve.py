"""Segments as SQL: who is in a segment is decided by the database, on the stored contacts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from comms.audience.contacts import Contact, read_audience
from comms.audience.resolve import segment_clause
from comms.audience.segments import Segment, load_segments
from comms.audience.sync import import_contacts
from comms.store.database import Database
from comms.store.models import Contact as StoredContact

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "audiences" / "segments.toml"
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def members(db: Database, segment: Segment, contacts: list[Contact]) -> set[str]:
    """The addresses of `contacts` in the segment, once they are imported."""
    with db.session() as session:
        import_contacts(session, contacts, NOW)
        query = select(StoredContact.email).where(StoredContact.active.is_(True), segment_clause(segment))
        return set(session.scalars(query))


def contact(roles: set[str], province: str | None = "Utrecht", themes: set[str] | None = None) -> Contact:
    return Contact(
        email="anna.devries@utrecht.example.org",
        first_name="Anna",
        infix="de",
        last_name="Vries",
        province=province,
        roles=frozenset(roles),
        themes=frozenset(themes or ()),
    )


@pytest.mark.parametrize(
    ("segment", "member", "expected"),
    [
        pytest.param(Segment("iedereen"), contact({"ipo-staff"}, None), True, id="no filters"),
        pytest.param(Segment("s", roles=frozenset({"statenlid"})), contact({"statenlid"}), True, id="role"),
        pytest.param(
            Segment("s", roles=frozenset({"griffier", "griffie"})),
            contact({"griffie"}),
            True,
            id="any of the roles",
        ),
        pytest.param(
            Segment("s", roles=frozenset({"statenlid"})),
            contact({"gedeputeerde"}),
            False,
            id="other role",
        ),
        pytest.param(
            Segment("s", roles=frozenset({"statenlid"}), provinces=frozenset({"Fryslân"})),
            contact({"statenlid"}, "Utrecht"),
            False,
            id="other province",
        ),
        pytest.param(
            Segment("s", provinces=frozenset({"Fryslân"})),
            contact({"ipo-staff"}, None),
            False,
            id="no province",
        ),
        pytest.param(
            Segment("s", themes=frozenset({"landelijk-gebied"})),
            contact({"statenlid"}, themes={"landelijk-gebied", "ondernemen-cultuur"}),
            True,
            id="theme",
        ),
        pytest.param(
            Segment("s", themes=frozenset({"landelijk-gebied"})),
            contact({"statenlid"}),
            False,
            id="no themes",
        ),
        pytest.param(
            Segment("s", roles=frozenset({"statenlid"}), exclude_roles=frozenset({"av-lid"})),
            contact({"statenlid", "av-lid"}),
            False,
            id="excluded role",
        ),
    ],
)
def test_the_segment_clause(db: Database, segment: Segment, member: Contact, expected: bool) -> None:
    assert members(db, segment, [member]) == ({member.email} if expected else set())


@pytest.fixture(scope="module")
def shipped() -> dict[str, Segment]:
    segments, problems = load_segments(SHIPPED)
    assert [str(p) for p in problems] == []
    return segments


@pytest.fixture(scope="module")
def sample() -> list[Contact]:
    result = read_audience(sorted((ROOT / "audiences" / "contacts").glob("*.csv")))
    assert [str(p) for p in result.problems] == []
    return result.contacts


def count(db: Database, segment: Segment, contacts: list[Contact], role: str | None = None) -> int:
    chosen = members(db, segment, contacts)
    return sum(c.email in chosen and (role is None or role in c.roles) for c in contacts)


@pytest.mark.parametrize(
    ("name", "size"),
    [("statenleden", 572), ("av-leden", 24), ("cdk", 12), ("kps", 12), ("ipo-bestuur", 12)],
)
def test_shipped_segment_sizes(
    db: Database, shipped: dict[str, Segment], sample: list[Contact], name: str, size: int
) -> None:
    assert count(db, shipped[name], sample) == size


def test_shipped_gs_and_griffies(db: Database, shipped: dict[str, Segment], sample: list[Contact]) -> None:
    assert 12 * 5 <= count(db, shipped["gs"], sample) <= 12 * 7
    assert count(db, shipped["griffies"], sample, "griffier") == 12
    assert 12 * 1 <= count(db, shipped["griffies"], sample, "griffie") <= 12 * 2


def test_shipped_evaluation_reaches_gs_ps_cdk_kps_and_griffiers(
    db: Database, shipped: dict[str, Segment], sample: list[Contact]
) -> None:
    evaluatie = shipped["evaluatie"]
    expected = {"gedeputeerde", "statenlid", "cdk", "kps", "griffier"}
    assert evaluatie.roles == expected
    assert count(db, evaluatie, sample) == sum(bool(c.roles & expected) for c in sample)
    chosen = members(db, evaluatie, sample)
    assert not any(c.email in chosen for c in sample if c.roles <= {"griffie", "ipo-staff"})
