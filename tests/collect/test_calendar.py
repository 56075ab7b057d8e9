"""iCalendar parsing: times to UTC, Dutch local time when the file does not say."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from comms.collect.calendar import parse_calendar
from comms.collect.items import CollectedItem, SourceResult, SourceState
from comms.collect.source import collect_source
from comms.config import ItemKind, SourceConfig
from comms.problems import Problem, Severity
from tests.collect.meetings.support import VTIMEZONE

SAMPLE = Path(__file__).resolve().parents[2] / "sample" / "feeds"
SOURCE = SourceConfig("kennissessies", "Kennissessies", "k.ics", "ical", ItemKind.EVENT)


def ics(*events: str) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//IPO//Test//NL", VTIMEZONE, *events]
    return ("\r\n".join([*lines, "END:VCALENDAR", ""])).replace("\n", "\r\n").replace("\r\r", "\r").encode()


def event(*lines: str, uid: str = "ks-1@ipo.example.org", summary: str | None = "Kennissessie") -> str:
    head = [f"UID:{uid}"] + ([f"SUMMARY:{summary}"] if summary is not None else [])
    return "\r\n".join(["BEGIN:VEVENT", *head, *lines, "END:VEVENT"])


def only(body: bytes) -> tuple[CollectedItem, list[Problem]]:
    items, problems = parse_calendar(SOURCE, body)
    assert len(items) == 1, problems
    return items[0], problems


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("dtstart", "expected"),
    [
        pytest.param("DTSTART:20261210T100000", utc(2026, 12, 10, 9), id="floating, winter"),
        pytest.param("DTSTART:20260615T100000", utc(2026, 6, 15, 8), id="floating, summer"),
        pytest.param("DTSTART;TZID=Europe/Amsterdam:20261210T100000", utc(2026, 12, 10, 9), id="TZID"),
        pytest.param("DTSTART:20261210T100000Z", utc(2026, 12, 10, 10), id="UTC"),
        pytest.param("DTSTART;TZID=America/New_York:20261210T100000", utc(2026, 12, 10, 15), id="other zone"),
    ],
)
def test_start_is_aware_utc(dtstart: str, expected: datetime) -> None:
    found, problems = only(ics(event(dtstart)))

    assert found.starts_at == expected
    assert found.starts_at.tzinfo is UTC
    assert (found.ends_at, found.all_day, problems) == (None, False, [])


@pytest.mark.parametrize(
    ("lines", "starts", "ends"),
    [
        pytest.param(
            ["DTSTART;VALUE=DATE:20261211"],
            utc(2026, 12, 10, 23),
            utc(2026, 12, 11, 23),
            id="one day",
        ),
        pytest.param(
            ["DTSTART;VALUE=DATE:20270211", "DTEND;VALUE=DATE:20270213"],
            utc(2027, 2, 10, 23),
            utc(2027, 2, 12, 23),
            id="two days",
        ),
        pytest.param(["DTSTART;VALUE=DATE:20260701"], utc(2026, 6, 30, 22), utc(2026, 7, 1, 22), id="summer"),
    ],
)
def test_all_day_event_is_local_midnight(lines: list[str], starts: datetime, ends: datetime) -> None:
    found, problems = only(ics(event(*lines)))

    assert (found.starts_at, found.ends_at, found.all_day, problems) == (starts, ends, True, [])


@pytest.mark.parametrize(
    ("lines", "ends"),
    [
        (["DTEND:20261210T113000"], utc(2026, 12, 10, 10, 30)),
        (["DTEND;TZID=Europe/Amsterdam:20261210T113000"], utc(2026, 12, 10, 10, 30)),
        (["DURATION:PT1H30M"], utc(2026, 12, 10, 10, 30)),
    ],
    ids=["floating end", "end with TZID", "duration"],
)
def test_end(lines: list[str], ends: datetime) -> None:
    found, _ = only(ics(event("DTSTART:20261210T100000", *lines)))

    assert found.ends_at == ends


def test_event_fields() -> None:
    body = ics(
        event(
            "DTSTAMP:20261101T090000Z",
            "DTSTART;TZID=Europe/Amsterdam:20261203T160000",
            "DTEND;TZID=Europe/Amsterdam:20261203T173000",
            "DESCRIPTION:Eerste alinea.\\nNog een regel.\\n\\nTweede <alinea> & meer.",
            "LOCATION:IPO\\, Lange Voorhout 9\\nDen Haag",
            "CATEGORIES:Wonen & Bereikbaarheid,woningbouw",
            "CATEGORIES:energie",
            "URL:https://www.ipo.example.org/kennissessies/woningbouw",
            summary="Kennissessie woningbouw\\, netcongestie",
        )
    )

    found, problems = only(body)

    assert problems == []
    assert found == CollectedItem(
        source="kennissessies",
        kind=ItemKind.EVENT,
        title="Kennissessie woningbouw, netcongestie",
        link="https://www.ipo.example.org/kennissessies/woningbouw",
        summary_html="<p>Eerste alinea.<br>Nog een regel.</p><p>Tweede &lt;alinea&gt; &amp; meer.</p>",
        guid="ks-1@ipo.example.org",
        published_at=utc(2026, 11, 1, 9),
        categories=("Wonen & Bereikbaarheid", "woningbouw", "energie"),
        starts_at=utc(2026, 12, 3, 15),
        ends_at=utc(2026, 12, 3, 16, 30),
        location="IPO, Lange Voorhout 9 Den Haag",
    )


def test_last_modified_is_preferred_to_dtstamp() -> None:
    found, _ = only(
        ics(
            event(
                "DTSTART:20261210T100000",
                "DTSTAMP:20261201T000000Z",
                "LAST-MODIFIED:20261020T120000Z",
            )
        )
    )

    assert found.published_at == utc(2026, 10, 20, 12)


def test_changed_occurrence_of_a_repeating_event_has_its_own_guid() -> None:
    body = ics(
        event("DTSTART:20261210T100000", "RRULE:FREQ=MONTHLY;COUNT=3"),
        event("DTSTART:20270114T110000", "RECURRENCE-ID:20270114T100000"),
    )

    items, problems = parse_calendar(SOURCE, body)

    assert [i.guid for i in items] == [
        "ks-1@ipo.example.org",
        "ks-1@ipo.example.org#20270114T090000Z",
    ]
    assert [p.reason for p in problems] == ["a repeating event: only its first date is listed"]


@pytest.mark.parametrize(
    ("body", "reason", "line"),
    [
        pytest.param(b"", "the calendar file is empty", None, id="empty"),
        pytest.param(
            b"dit is geen agenda",
            "not a valid iCalendar file: line not understood: 'dit is geen agenda'",
            1,
            id="garbage",
        ),
        pytest.param(
            b"<!DOCTYPE html>\n<html><body>Niet gevonden</body></html>\n",
            "not a valid iCalendar file: line not understood: '<!DOCTYPE html>'",
            1,
            id="HTML page",
        ),
        pytest.param(
            ics(event("DTSTART:20261210T100000")).split(b"END:VEVENT")[0],
            "not a valid iCalendar file: no complete VCALENDAR … END:VCALENDAR (is the file truncated?)",
            None,
            id="truncated",
        ),
        pytest.param(
            ics() + ics(),
            "not a valid iCalendar file: more than one VCALENDAR in one file",
            None,
            id="two calendars",
        ),
        pytest.param(
            event("DTSTART:20261210T100000").encode(),
            "not a valid iCalendar file: it has no VCALENDAR",
            None,
            id="bare event",
        ),
    ],
)
def test_unreadable_calendar_is_one_error(body: bytes, reason: str, line: int | None) -> None:
    items, problems = parse_calendar(SOURCE, body)

    assert items == []
    assert problems == [Problem("kennissessies", reason, line=line)]
    assert SourceResult(SOURCE, items, problems).is_broken


@pytest.mark.parametrize(
    ("ev", "reason"),
    [
        pytest.param(
            event("LOCATION:Den Haag"),
            "event skipped: it has no DTSTART (start time)",
            id="no DTSTART",
        ),
        pytest.param(
            event("DTSTART:morgen"),
            "event skipped: its DTSTART 'morgen' is not a date or time",
            id="bad DTSTART",
        ),
    ],
)
def test_event_without_start_is_skipped(ev: str, reason: str) -> None:
    items, problems = parse_calendar(SOURCE, ics(ev, event("DTSTART:20261210T100000", uid="ok")))

    assert [i.guid for i in items] == ["ok"]
    assert problems == [Problem("kennissessies", reason, subject="Kennissessie")]
    assert not SourceResult(SOURCE, items, problems).is_broken


def test_event_without_summary_is_skipped_and_named_by_uid() -> None:
    _, problems = parse_calendar(SOURCE, ics(event("DTSTART:20261210T100000", summary=None)))

    assert [str(p) for p in problems] == [
        "kennissessies [ks-1@ipo.example.org]: event skipped: it has no SUMMARY (title)"
    ]


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        pytest.param(
            ["DTSTART;TZID=Mars/Olympus:20261210T100000"],
            "unknown time zone 'Mars/Olympus'; taken as Europe/Amsterdam",
            id="unknown zone",
        ),
        pytest.param(
            ["DTSTART:20261210T100000", "URL:javascript:alert(1)"],
            "its URL is not an http(s) address; left out",
            id="javascript URL",
        ),
        pytest.param(
            ["DTSTART:20261210T100000", "DTEND:20261210T090000"],
            "it ends before it starts; the end time is left out",
            id="end before start",
        ),
        pytest.param(
            ["DTSTART:20261210T100000", "DTEND:straks"],
            "its DTEND is not a date or time; the end time is left out",
            id="bad DTEND",
        ),
        pytest.param(
            ["DTSTART:20261210T100000", "RRULE:FREQ=WEEKLY;COUNT=4"],
            "a repeating event: only its first date is listed",
            id="repeating",
        ),
    ],
)
def test_event_is_kept_with_a_warning(lines: list[str], reason: str) -> None:
    found, problems = only(ics(event(*lines)))

    assert problems == [Problem("kennissessies", reason, subject="Kennissessie", severity=Severity.WARNING)]
    assert found.starts_at == utc(2026, 12, 10, 9)
    assert found.link is None or found.link.startswith("https://")


def test_cancelled_event_is_left_out_with_a_warning() -> None:
    body = ics(event("DTSTART:20261210T100000", "STATUS:CANCELLED", summary="Vervallen sessie"))

    items, problems = parse_calendar(SOURCE, body)

    assert items == []
    assert [str(p) for p in problems] == [
        "kennissessies [Vervallen sessie]: the event is cancelled; left out"
    ]
    assert not problems[0].is_error


def test_title_and_location_are_single_line() -> None:
    found, _ = only(
        ics(event("DTSTART:20261210T100000", "LOCATION:Zaal 1\\NBcc: x@example.org", summary="A\\nB"))
    )

    assert (found.title, found.location) == ("A B", "Zaal 1 Bcc: x@example.org")


@pytest.mark.parametrize("filename", ["kennissessies.ics", "technische-briefings.ics"])
def test_sample_calendars_parse_cleanly(filename: str) -> None:
    sample = SourceConfig(filename, filename, filename, "ical", ItemKind.EVENT)

    result = collect_source(sample, SourceState(), SAMPLE)

    assert result.problems == []
    assert len(result.items) == 6
    starts = [i.starts_at for i in result.items if i.starts_at]
    assert len(starts) == 6
    assert all(utc(2026, 11, 10) <= s < utc(2027, 3, 1) for s in starts)
    assert any((s.year, s.month) == (2026, 12) for s in starts)
    assert any((s.year, s.month) == (2027, 1) for s in starts)
    for found in result.items:
        assert found.guid and found.title and found.categories and found.location
        assert found.link and found.link.startswith("https://www.ipo.example.org/")
        assert found.ends_at and found.ends_at > found.starts_at  # type: ignore[operator]


def test_sample_kennissessie_is_at_local_time() -> None:
    sample = SourceConfig("k", "K", "kennissessies.ics", "ical", ItemKind.EVENT)

    items = collect_source(sample, SourceState(), SAMPLE).items

    first = next(i for i in items if i.guid == "ks-2026-11-12-stikstof@ipo.example.org")
    assert first.starts_at == utc(2026, 11, 12, 15)  # 16.00 uur in Den Haag


def test_a_repeated_property_counts_once() -> None:
    body = ics(event("DTSTART:20261210T100000", "DTSTART:20261211T100000", "SUMMARY:Tweede titel"))

    found, problems = only(body)

    assert (found.title, found.starts_at, problems) == ("Kennissessie", utc(2026, 12, 10, 9), [])
