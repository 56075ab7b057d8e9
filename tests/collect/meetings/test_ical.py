"""iCalendar agenda files: times, cancellation, the body, the agenda from DESCRIPTION and ATTACH, flaws."""

from __future__ import annotations

from datetime import datetime

import pytest

from comms.collect.meetings.ical import parse_meeting_calendar
from comms.collect.meetings.model import AgendaItem, Document
from comms.problems import Problem, Severity
from tests.collect.meetings.support import (
    AV,
    BAC,
    DATED,
    DOCS,
    KNOWN_BODIES,
    LG,
    NOW,
    ics,
    only,
    texts,
    utc,
    vevent,
)


@pytest.mark.parametrize(
    ("dtstart", "expected", "all_day", "warning"),
    [
        pytest.param(
            "DTSTART;TZID=Europe/Amsterdam:20261210T100000", utc(2026, 12, 10, 9), False, None, id="TZID"
        ),
        pytest.param("DTSTART:20261210T090000Z", utc(2026, 12, 10, 9), False, None, id="UTC"),
        pytest.param(
            "DTSTART:20261210T100000",
            utc(2026, 12, 10, 9),
            False,
            "its time has no time zone; taken as Europe/Amsterdam",
            id="floating",
        ),
        pytest.param(
            "DTSTART;TZID=Mars/Olympus:20261210T100000",
            utc(2026, 12, 10, 9),
            False,
            "unknown time zone 'Mars/Olympus'; taken as Europe/Amsterdam",
            id="unknown zone",
        ),
        pytest.param(
            "DTSTART;VALUE=DATE:20261210",
            utc(2026, 12, 9, 23),
            True,
            "only a date, no start time: announced without a time",
            id="date only",
        ),
    ],
)
def test_calendar_times_become_utc(
    dtstart: str, expected: datetime, all_day: bool, warning: str | None
) -> None:
    feed = parse_meeting_calendar(ics(vevent(start=dtstart)), AV, NOW)

    meeting = only(feed)
    assert (meeting.starts_at, meeting.all_day) == (expected, all_day)
    assert [p.reason for p in feed.problems] == ([warning] if warning else [])


def test_a_cancelled_calendar_event_is_a_cancelled_meeting_and_sequence_is_not_identity() -> None:
    first = only(parse_meeting_calendar(ics(vevent("SEQUENCE:1")), AV, NOW))
    cancelled = only(parse_meeting_calendar(ics(vevent("SEQUENCE:2", "STATUS:CANCELLED")), AV, NOW))

    assert cancelled.is_cancelled and not first.is_cancelled
    assert cancelled.uid == first.uid
    assert cancelled.content_hash != first.content_hash


def test_the_calendar_names_the_body_once_for_all_its_events() -> None:
    feed = parse_meeting_calendar(ics(vevent(), header=("X-IPO-ORGAAN:Algemene Vergadering",)), BAC, NOW)

    assert only(feed).body == "av"


def test_calendar_description_lines_make_the_agenda() -> None:
    description = (
        r"DESCRIPTION:Agenda van de vergadering.\n\n1. Opening\n"
        r"2) Begroting 2027 - Besluit over de begroting\nmet de meerjarenraming.\n"
        r"4a. Position paper — Bespreken\n\nDe vergadering is openbaar.\nAanmelden via de griffie."
    )
    attach = f'ATTACH;X-AGENDAPUNT=4a;X-TITLE="Position paper":{DOCS}/pp.pdf'

    meeting = only(parse_meeting_calendar(ics(vevent(agenda=(description, attach))), AV, NOW))

    assert meeting.items == (
        AgendaItem("1", "Opening", "", ()),
        AgendaItem("2", "Begroting 2027", "Besluit over de begroting met de meerjarenraming.", ()),
        AgendaItem("4a", "Position paper", "Bespreken", (Document("Position paper", f"{DOCS}/pp.pdf"),)),
    )


# --- bad input --- ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "warning"),
    [
        pytest.param(
            vevent(agenda=(r"DESCRIPTION:1. Opening\n2. – Alleen omschrijving\n3. Sluiting",)),
            "agenda item 2 has no title; left out",
            id="agenda line without title",
        ),
        pytest.param(
            vevent(agenda=("DESCRIPTION:1. Opening", f'ATTACH;X-AGENDAPUNT=7;X-TITLE="Stuk":{DOCS}/x.pdf')),
            "document 'Stuk': agenda item 7, which is not on the agenda; left out",
            id="document for an item not on the agenda",
        ),
        pytest.param(
            vevent(agenda=("DESCRIPTION:1. Opening", f"ATTACH:{DOCS}/x.pdf")),
            f"document '{DOCS}/x.pdf': no X-AGENDAPUNT; left out",
            id="document without agenda item",
        ),
        pytest.param(
            vevent("RRULE:FREQ=WEEKLY;COUNT=3"),
            "a repeating event: only its first date is used",
            id="repeating",
        ),
    ],
)
def test_calendar_flaws_are_warnings(event: str, warning: str) -> None:
    feed = parse_meeting_calendar(ics(event), AV, NOW)

    assert len(feed.meetings) == 1
    assert feed.problems == [Problem("agenda-av", warning, subject=DATED, severity=Severity.WARNING)]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(
            vevent(start=None),
            f"agenda-av [{LG}]: meeting left out: it has no date (no start time)",
            id="no DTSTART",
        ),
        pytest.param(
            vevent(start="DTSTART:morgen"),
            f"agenda-av [{LG}]: meeting left out: its start (DTSTART) is not understood: "
            "'morgen' is not a date or time",
            id="broken DTSTART",
        ),
        pytest.param(
            vevent("X-IPO-ORGAAN:Provinciale Staten"),
            f"agenda-av [{DATED}]: meeting left out: unknown body 'Provinciale Staten' ({KNOWN_BODIES})",
            id="unknown body",
        ),
    ],
)
def test_a_bad_calendar_event_is_left_out_and_the_others_still_go(event: str, expected: str) -> None:
    good = vevent(uid="av-2027-04-07", start="DTSTART;TZID=Europe/Amsterdam:20270407T130000")

    feed = parse_meeting_calendar(ics(event, good), AV, NOW)

    assert [m.uid for m in feed.meetings] == ["av-2027-04-07"]
    assert texts(feed.problems) == [expected]
