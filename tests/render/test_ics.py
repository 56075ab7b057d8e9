from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar, Event

from comms.render.ics import meeting_ics

NOW = datetime(2027, 6, 1, 7, 0, tzinfo=UTC)
ORGANIZER = ("IPO", "agenda@ipo.example.org")


def ics(**changes: Any) -> bytes:
    values: dict[str, Any] = {
        "uid": "bac-landelijk-gebied-2027-07-01",
        "title": "BAC Landelijk Gebied",
        "starts_at": datetime(2027, 7, 1, 8, 0, tzinfo=UTC),
        "ends_at": datetime(2027, 7, 1, 10, 30, tzinfo=UTC),
        "location": "IPO-huis, Den Haag",
        "description": "1. Opening\n2. Stikstof",
        "url": "https://www.ipo.example.org/agenda/bac-lg",
        "sequence": 0,
        "cancelled": False,
        "organizer": ORGANIZER,
        "now": NOW,
    }
    return meeting_ics(**(values | changes))


def parse(data: bytes) -> tuple[Calendar, Event]:
    calendar = Calendar.from_ical(data)
    [event] = calendar.walk("VEVENT")
    return calendar, event


@pytest.mark.parametrize(
    ("starts_at", "wall_clock", "offset"),
    [
        pytest.param(
            datetime(2027, 7, 1, 8, 0, tzinfo=UTC), "20270701T100000", timedelta(hours=2), id="summer"
        ),
        pytest.param(
            datetime(2027, 1, 14, 9, 0, tzinfo=UTC), "20270114T100000", timedelta(hours=1), id="winter"
        ),
    ],
)
def test_dtstart_is_amsterdam_wall_clock_time(
    starts_at: datetime, wall_clock: str, offset: timedelta
) -> None:
    data = ics(starts_at=starts_at, ends_at=starts_at + timedelta(hours=2))
    calendar, event = parse(data)
    assert f"DTSTART;TZID=Europe/Amsterdam:{wall_clock}\r\n".encode() in data
    start = event.decoded("dtstart")
    assert start == starts_at
    assert str(start.tzinfo) == "Europe/Amsterdam" and start.utcoffset() == offset
    assert event["dtstart"].params["TZID"] == "Europe/Amsterdam"
    assert event.decoded("dtend") - start == timedelta(hours=2)
    [zone] = calendar.walk("VTIMEZONE")
    assert zone["TZID"] == "Europe/Amsterdam"
    assert calendar.get_missing_tzids() == set()


@pytest.mark.parametrize(
    ("cancelled", "method", "status", "summary"),
    [
        pytest.param(False, "PUBLISH", "CONFIRMED", "BAC Landelijk Gebied", id="planned"),
        pytest.param(True, "CANCEL", "CANCELLED", "Geannuleerd: BAC Landelijk Gebied", id="cancelled"),
    ],
)
def test_method_and_status(cancelled: bool, method: str, status: str, summary: str) -> None:
    calendar, event = parse(ics(cancelled=cancelled, sequence=2))
    assert (calendar["METHOD"], event["STATUS"], event["SUMMARY"]) == (method, status, summary)
    assert event.decoded("sequence") == 2


def test_an_update_keeps_the_uid_and_raises_the_sequence() -> None:
    versions = [parse(ics(sequence=n, title=f"BAC Landelijk Gebied (versie {n + 1})"))[1] for n in range(3)]
    assert {str(e["UID"]) for e in versions} == {"bac-landelijk-gebied-2027-07-01@ipo.example.org"}
    assert [e.decoded("sequence") for e in versions] == [0, 1, 2]
    assert parse(ics(uid="abc@agenda.ipo.example.org"))[1]["UID"] == "abc@agenda.ipo.example.org"


def test_the_rest_of_the_event() -> None:
    data = ics()
    _, event = parse(data)
    assert event.decoded("dtstamp") == NOW
    assert b"DTSTAMP:20270601T070000Z\r\n" in data
    assert event["LOCATION"] == "IPO-huis, Den Haag"
    assert event["URL"] == "https://www.ipo.example.org/agenda/bac-lg"
    assert event["DESCRIPTION"] == (
        "1. Opening\n2. Stikstof\n\nMeer informatie: https://www.ipo.example.org/agenda/bac-lg"
    )
    assert event["ORGANIZER"] == "mailto:agenda@ipo.example.org"
    assert event["ORGANIZER"].params["CN"] == "IPO"


def test_lines_end_in_crlf_and_are_folded() -> None:
    data = ics(description="lang " * 100)
    assert data.count(b"\n") == data.count(b"\r\n")
    assert max(len(line) for line in data.split(b"\r\n")) <= 75


@pytest.mark.parametrize(
    ("field", "hostile", "expected"),
    [
        pytest.param(
            "title",
            "Agenda\r\nMETHOD:CANCEL\r\nBEGIN:VEVENT; a, b\\c",
            "Agenda METHOD:CANCEL BEGIN:VEVENT; a, b\\c",
            id="title with CR/LF, ; , and backslash",
        ),
        pytest.param(
            "title", "Agenda\x00\x07\x1b[31m\u202eBAC\tLG", "Agenda[31mBAC LG", id="control characters"
        ),
        pytest.param("location", "Den Haag\nUID:evil", "Den Haag UID:evil", id="location with a line break"),
    ],
)
def test_hostile_text_stays_inside_its_property(field: str, hostile: str, expected: str) -> None:
    data = ics(**{field: hostile})
    calendar, event = parse(data)
    name = {"title": "SUMMARY", "location": "LOCATION"}[field]
    assert event[name] == expected
    assert calendar["METHOD"] == "PUBLISH"
    assert len(calendar.walk("VEVENT")) == 1
    assert str(event["UID"]) == "bac-landelijk-gebied-2027-07-01@ipo.example.org"
    unfolded = data.replace(b"\r\n ", b"")
    assert not any(line.startswith((b"UID:evil", b"METHOD:CANCEL")) for line in unfolded.split(b"\r\n"))
    assert not any(c < 0x20 and c not in (0x0D, 0x0A) for c in data)


def test_a_hostile_description_keeps_its_line_breaks_only() -> None:
    _, event = parse(ics(description="Punt 1\r\nPunt 2\rPunt 3\x00\x1b\tklaar", url=None))
    assert event["DESCRIPTION"] == "Punt 1\nPunt 2\nPunt 3 klaar"


@pytest.mark.parametrize(
    ("changes", "absent"),
    [
        pytest.param({"ends_at": None}, "DTEND", id="no end"),
        pytest.param({"location": None}, "LOCATION", id="no location"),
        pytest.param({"url": "javascript:alert(1)"}, "URL", id="unsafe link"),
        pytest.param({"organizer": ("IPO", "not an address")}, "ORGANIZER", id="bad organizer"),
    ],
)
def test_missing_or_unsafe_values_are_left_out(changes: dict[str, Any], absent: str) -> None:
    _, event = parse(ics(**changes))
    assert absent not in event
    assert "DTSTART" in event
