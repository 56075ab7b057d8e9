"""`import_audience`: the exports streamed into staging and merged, problems reported together
with file and row, and a file that loses a column changing nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from comms.config import load_config
from comms.operations.audience import import_audience
from comms.problems import ValidationFailed
from comms.service import Service
from comms.store.models import Contact

NOW = datetime(2026, 11, 1, 9, tzinfo=UTC)
HEADER = "e-mailadres;voornaam;tussenvoegsel;achternaam;provincie;rollen;partij;thema's"
ANNA = "anna@utrecht.example.org;Anna;de;Vries;Utrecht;statenlid;D66;Landelijk Gebied"
BRAM = "bram@utrecht.example.org;Bram;;Bakker;Utrecht;statenlid;VVD;"
KARIN = "karin@ipo.example.org;Karin;;Bos;;ipo-staff;;"
JORG = "jörg@ipo.example.org;Jörg;;Müller;;ipo-staff;;"


@pytest.fixture
def service(project: Path) -> Iterator[Service]:
    """The project with no exports of its own: each test writes the files it needs."""
    for sample in (project / "audiences" / "contacts").glob("*.csv"):
        sample.unlink()
    config, problems = load_config(project / "comms.toml")
    assert config, problems
    service = Service.open(config)
    yield service
    service.db.dispose()


def export(service: Service, name: str, *rows: str, header: str = HEADER) -> Path:
    path = service.config.base_dir / "audiences" / "contacts" / name
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode("utf-8-sig"))
    return path


def table(service: Service) -> list[tuple[object, ...]]:
    with service.db.session() as session:
        return [tuple(r) for r in session.execute(select(Contact.__table__).order_by(Contact.id))]


def active(service: Service) -> dict[str, bool]:
    with service.db.session() as session:
        return {email: on for email, on in session.execute(select(Contact.email, Contact.active))}


def test_duplicates_across_files_are_reported_in_reading_order_with_both_places(service: Service) -> None:
    ipo = export(service, "ipo.csv", KARIN, ANNA.replace("anna@", "ANNA@"))
    utrecht = export(
        service, "utrecht.csv", ANNA, "bram@utrecht.example.org;Bram;;;Utrecht;statenlid;;", KARIN
    )

    outcome = import_audience(service, NOW)

    assert [str(p) for p in outcome.problems] == [
        f"{utrecht}, row 2 [anna@utrecht.example.org]: duplicate of row 3 in {ipo}",
        f"{utrecht}, row 3 [bram@utrecht.example.org]: achternaam is empty",
        f"{utrecht}, row 4 [karin@ipo.example.org]: duplicate of row 2 in {ipo}",
    ]
    assert (outcome.contacts, outcome.rows_left_out) == (2, 3)
    assert (outcome.counts.added, outcome.counts.updated, outcome.counts.unchanged) == (2, 0, 0)
    with service.db.session() as session:
        kept = session.execute(select(Contact.email, Contact.source_file).order_by(Contact.id)).all()
    assert [tuple(r) for r in kept] == [
        ("karin@ipo.example.org", f"{ipo}, row 2"),
        ("anna@utrecht.example.org", f"{ipo}, row 3"),
    ]


def test_a_duplicate_row_is_reported_once_without_the_warning_it_had(service: Service) -> None:
    ipo = export(service, "ipo.csv", JORG, JORG)

    outcome = import_audience(service, NOW)

    assert [(p.row, p.is_error, p.reason.split(":")[0]) for p in outcome.problems] == [
        (2, False, "the address has non-ASCII characters before the @"),
        (3, True, f"duplicate of row 2 in {ipo}"),
    ]


def test_contacts_gone_from_the_exports_are_deactivated_and_come_back(service: Service) -> None:
    export(service, "utrecht.csv", ANNA, BRAM)
    ipo = export(service, "ipo.csv", KARIN)
    import_audience(service, NOW)

    ipo.unlink()
    gone = import_audience(service, NOW + timedelta(days=1))
    export(service, "ipo.csv", KARIN)
    back = import_audience(service, NOW + timedelta(days=2))

    assert (gone.counts.deactivated, gone.counts.unchanged) == (1, 2)
    assert (back.counts.added, back.counts.updated, back.counts.unchanged, back.counts.deactivated) == (
        0,
        1,
        2,
        0,
    )
    assert active(service) == dict.fromkeys(
        ["anna@utrecht.example.org", "bram@utrecht.example.org", "karin@ipo.example.org"], True
    )


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        pytest.param(
            "e-mailadres;voornaam;tussenvoegsel;achternaam;provincie;partij",
            "missing required column(s) rollen",
            id="a required column missing",
        ),
        pytest.param(
            HEADER.replace("e-mailadres", "e-mail") + ";email",
            "columns 'e-mail' and 'email' mean the same thing",
            id="a column twice",
        ),
    ],
)
def test_a_file_that_loses_a_column_stops_the_import_and_changes_nothing(
    service: Service, header: str, reason: str
) -> None:
    export(service, "utrecht.csv", ANNA, BRAM)
    export(service, "ipo.csv", KARIN)
    import_audience(service, NOW)
    before = table(service)
    export(service, "ipo.csv", KARIN, header=header)  # the merge would deactivate Karin
    utrecht = export(service, "utrecht.csv", ANNA.replace("Anna", "Anne"), BRAM.replace(";VVD", ";V\x07VD"))

    with pytest.raises(ValidationFailed) as failed:
        import_audience(service, NOW + timedelta(days=1))

    problems = [str(p) for p in failed.value.problems]
    assert len(problems) == 2 and reason in problems[0] and ", row 1: " in problems[0]
    assert (
        problems[1]
        == f"{utrecht}, row 3 [bram@utrecht.example.org]: partij contains a line break or control character"
    )
    assert table(service) == before


def test_a_second_identical_import_changes_nothing(service: Service) -> None:
    export(service, "utrecht.csv", ANNA, BRAM)
    export(service, "ipo.csv", KARIN, JORG)
    first = import_audience(service, NOW)
    before = table(service)

    again = import_audience(service, NOW + timedelta(days=1))

    assert (first.counts.added, again.counts.added, again.counts.updated) == (4, 0, 0)
    assert (again.counts.unchanged, again.counts.deactivated, again.contacts) == (4, 0, 4)
    assert table(service) == before
