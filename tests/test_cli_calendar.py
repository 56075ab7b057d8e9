"""What goes out next week, on the command line: `comms status` by planned time (the finished
left out unless --all), `comms calendar` as the console's calendar, and who ran a build."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner, Result

from comms.cli import main
from comms.config import load_config
from comms.dates import AMSTERDAM
from comms.operations import audit, calendar
from comms.reasons import Reason
from comms.service import Service
from comms.store.models import Edition, EditionStatus

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=AMSTERDAM)  # Monday: what goes out this week?


def local(month: int, day: int, hour: int = 9, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=AMSTERDAM)


def comms(project: Path, *args: str) -> Result:
    with time_machine.travel(NOW, tick=False):
        return CliRunner().invoke(main, ["--config", str(project / "comms.toml"), *args])


@pytest.fixture
def service(project: Path) -> Iterator[Service]:
    config, problems = load_config(project / "comms.toml")
    assert config is not None, problems
    service = Service.open(config)
    yield service
    service.db.dispose()


def add(
    service: Service,
    key: str,
    status: EditionStatus,
    send_at: datetime | None,
    sent_at: datetime | None = None,
    reason: Reason | None = None,
) -> None:
    """An edition as the workflow leaves it (how it got there is not what these tests are about)."""
    with service.db.session() as session:
        edition = Edition(
            key=key,
            kind="newsletter",
            subject=f"Nieuwsbrief {key}",
            audience="statenleden",
            built_at=send_at - timedelta(days=10) if send_at else NOW,
            send_at=send_at,
            sending_at=sent_at,
            sent_at=sent_at,
        )
        edition.set_status(status, reason)
        session.add(edition)


@pytest.fixture
def year_of_editions(service: Service) -> Service:
    add(service, "nieuwsbrief-2026-08", EditionStatus.SENT, local(8, 6), local(8, 6))
    add(
        service,
        "nieuwsbrief-2026-10",
        EditionStatus.CANCELLED,
        local(10, 1),
        reason=Reason("discarded by els", "x"),
    )
    add(service, "nieuwsbrief-2026-11", EditionStatus.SENT, local(11, 5), local(11, 5))
    add(
        service,
        "nieuwsbrief-2027-01",
        EditionStatus.HELD,
        local(1, 7, year=2027),
        reason=Reason("held by els: AV", "x"),
    )
    add(service, "nieuwsbrief-2026-12", EditionStatus.DRAFT, local(12, 3))
    add(service, "agendaoverzicht-handmatig", EditionStatus.DRAFT, None)
    return service


def rows(output: str) -> list[dict[str, str]]:
    """The table's rows as {column: cell} (rich's box-drawn table); a cell's lines are joined."""
    lines = output.splitlines()
    header = next(line for line in lines if line.startswith("┃"))
    names = [n.strip() for n in header.strip("┃").split("┃")]
    found: list[list[str]] = []
    for line in lines:
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            if cells[0] or not found:
                found.append(cells)
            else:  # the next line of the same row
                found[-1] = [f"{old} {new}".strip() for old, new in zip(found[-1], cells, strict=True)]
    return [dict(zip(names, cells, strict=True)) for cells in found]


@pytest.mark.parametrize(
    ("args", "keys", "left_out"),
    [
        (
            [],
            [
                "nieuwsbrief-2026-11",
                "nieuwsbrief-2026-12",
                "nieuwsbrief-2027-01",
                "agendaoverzicht-handmatig",  # planned for no time: last
            ],
            "2 finished editions not listed (sent more than 30 days ago, or discarded): comms status --all",
        ),
        (
            ["--all"],
            [
                "nieuwsbrief-2026-08",
                "nieuwsbrief-2026-10",
                "nieuwsbrief-2026-11",
                "nieuwsbrief-2026-12",
                "nieuwsbrief-2027-01",
                "agendaoverzicht-handmatig",
            ],
            None,
        ),
    ],
)
def test_status_lists_what_is_still_to_come_by_planned_time(
    project: Path, year_of_editions: Service, args: list[str], keys: list[str], left_out: str | None
) -> None:
    result = comms(project, "status", *args)

    assert result.exit_code == 0, result.output
    listed = rows(result.output)
    assert [row["edition"] for row in listed] == keys
    by_key = {row["edition"]: row for row in listed}
    assert by_key["nieuwsbrief-2026-12"]["planned (Dutch time)"] == "2026-12-03 09:00 CET"
    assert by_key["agendaoverzicht-handmatig"]["planned (Dutch time)"] == "-"
    assert by_key["nieuwsbrief-2027-01"]["status"] == "held (held by els: AV)"  # the operator's English
    assert (left_out in result.output) if left_out else "not listed" not in result.output


def test_status_of_one_edition_lists_it_whatever_its_age(project: Path, year_of_editions: Service) -> None:
    result = comms(project, "status", "nieuwsbrief-2026-08")
    assert result.exit_code == 0, result.output
    assert [row["edition"] for row in rows(result.output)] == ["nieuwsbrief-2026-08"]


@pytest.fixture
def december_planned(project: Path, service: Service) -> Service:
    for args in (["audience", "import"], ["collect"], ["newsletter", "build"]):
        assert comms(project, *args).exit_code == 0
    return service


WHEN = "wanneer (Nederlandse tijd)"


@pytest.mark.parametrize(
    ("args", "row", "total"),
    [
        (
            ["--weeks", "2", "--kind", "newsletter"],
            {
                WHEN: "donderdag 3 december 2026, 9.00 uur",
                "wat": "Maandelijkse nieuwsbrief voor Statenleden IPO-nieuwsbrief voor Statenleden – "
                "december 2026 nieuwsbrief-2026-12",
                "voor wie": "segment statenleden (572 ontvangers)",
                "stand": "concept",
                "nodig": "goedkeuring nodig van een goedkeurder vóór dinsdag 1 december 2026, 9.00 uur",
            },
            "1 mailing; 1 mailing vraagt nu om actie.",
        ),
        (
            ["--kind", "agenda-digest", "--weeks", "1"],
            {
                WHEN: "maandag 7 december 2026, 9.00 uur",
                "wat": "Wekelijks agendaoverzicht voor griffies",
                "voor wie": "segment griffies (32 ontvangers)",
                "stand": "gepland, nog niet opgebouwd",
                "nodig": "niets nodig",
            },
            "1 mailing; 0 mailings vragen nu om actie.",
        ),
    ],
)
def test_calendar_shows_what_goes_out_when_to_whom_and_what_it_needs(
    project: Path, december_planned: Service, args: list[str], row: dict[str, str], total: str
) -> None:
    result = comms(project, "calendar", *args)

    assert result.exit_code == 0, result.output
    assert rows(result.output) == [row]
    assert total in result.output


def test_calendar_lists_what_the_console_calendar_lists(project: Path, december_planned: Service) -> None:
    result = comms(project, "calendar", "--weeks", "6")

    assert result.exit_code == 0, result.output
    console = calendar.calendar(december_planned, NOW.astimezone(UTC), 6)
    listed = set(re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)+", result.output))
    assert {e.key for e in console.entries if e.exists} <= listed
    assert f"{len(console.entries)} mailings;" in result.output
    assert len(console.entries) > 10  # the agenda's notices too, a row per time


def test_calendar_refuses_a_kind_it_does_not_know(project: Path, service: Service) -> None:
    result = comms(project, "calendar", "--kind", "nieuwsbrief")
    assert result.exit_code == 2
    assert (
        "unknown kind 'nieuwsbrief'; one of: agenda-digest, agenda-notice, newsletter, survey"
        in result.output
    )


@pytest.mark.parametrize(("by", "actor"), [(["--by", "els"], "els"), ([], "onbekend")])
def test_agenda_build_by_hand_names_who_ran_it(
    project: Path, service: Service, by: list[str], actor: str
) -> None:
    assert comms(project, "audience", "import").exit_code == 0
    assert comms(project, "collect").exit_code == 0

    result = comms(project, "agenda", "build", *by)

    assert result.exit_code == 0, result.output
    built = [e for e in audit.recent(service) if e.action == "build"]
    assert built and {e.actor for e in built} == {actor}
