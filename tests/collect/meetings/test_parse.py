"""The way in: every format gives the same meeting, the samples parse, an unreadable source is one error."""

from __future__ import annotations

import dataclasses
from datetime import UTC

import pytest

from comms.collect.meetings import MEETING_FORMATS, parse_meeting_source
from comms.collect.meetings.feed import parse_meeting_feed
from comms.collect.meetings.ical import parse_meeting_calendar
from comms.config import SourceConfig
from tests.collect.meetings.support import (
    ATOM_ENTRY,
    AV,
    BAC,
    BESTUUR,
    EXPECTED,
    FULL_EVENT,
    NOW,
    SAMPLE,
    atom,
    ics,
    item,
    only,
    rss,
    texts,
    utc,
)


@pytest.mark.parametrize(
    ("parse", "content"),
    [
        pytest.param(parse_meeting_feed, rss(item()), id="RSS"),
        pytest.param(parse_meeting_feed, atom(ATOM_ENTRY), id="Atom"),
        pytest.param(parse_meeting_calendar, ics(FULL_EVENT), id="iCalendar"),
    ],
)
def test_every_format_gives_the_same_meeting(parse, content: bytes) -> None:  # type: ignore[no-untyped-def]
    feed = parse(content, BAC, NOW)

    assert feed.problems == []
    assert not feed.bozo
    assert only(feed) == EXPECTED
    assert EXPECTED.starts_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("filename", "source", "count"),
    [
        ("ipo-bestuur.xml", BESTUUR, 5),
        ("bac.xml", BAC, 8),
        ("bac-ondernemen-cultuur.xml", BAC, 2),
        ("av.ics", AV, 2),
    ],
)
def test_sample_feeds_parse_cleanly(filename: str, source: SourceConfig, count: int) -> None:
    parse = parse_meeting_calendar if filename.endswith(".ics") else parse_meeting_feed

    feed = parse((SAMPLE / filename).read_bytes(), source, NOW)

    assert feed.problems == []
    assert len(feed.meetings) == count
    assert all(m.items or m.is_cancelled for m in feed.meetings)


def test_samples_cross_the_change_to_summer_time() -> None:
    feed = parse_meeting_feed((SAMPLE / "ipo-bestuur.xml").read_bytes(), BESTUUR, NOW)
    starts = {m.uid.split("@")[0]: m.starts_at for m in feed.meetings}

    # 13.00 uur Dutch time on both sides of 28 March 2027
    assert starts["ipo-bestuur-2027-03-25"] == utc(2027, 3, 25, 12)
    assert starts["ipo-bestuur-2027-04-22"] == utc(2027, 4, 22, 11)


# --- bad input --- ------------------------------------------------------------------------

TRUNCATED = rss(item())[:-40]
TRUNCATED_LINE = TRUNCATED.count(b"\n") + 1


@pytest.mark.parametrize(
    ("parse", "content", "expected"),
    [
        pytest.param(parse_meeting_feed, b"", "agenda-bac: the feed is empty", id="empty feed"),
        pytest.param(
            parse_meeting_feed,
            TRUNCATED,
            f"agenda-bac, line {TRUNCATED_LINE}: not well-formed XML: "
            "the document ends too early (truncated?)",
            id="truncated feed",
        ),
        pytest.param(
            parse_meeting_feed,
            b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x "x">]><rss version="2.0"><channel/></rss>',
            "agenda-bac: the feed declares a DOCTYPE or entities; refused (not allowed in an agenda feed)",
            id="DTD with entities",
        ),
        pytest.param(
            parse_meeting_feed,
            b"<html><body><p>Onderhoud</p></body></html>",
            "agenda-bac: not an RSS or Atom feed (it is an HTML page)",
            id="HTML page",
        ),
        pytest.param(
            parse_meeting_calendar, b" \n", "agenda-bac: the calendar file is empty", id="empty .ics"
        ),
        pytest.param(
            parse_meeting_calendar,
            b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\n",
            "agenda-bac: not a valid iCalendar file: no complete VCALENDAR … END:VCALENDAR "
            "(is the file truncated?)",
            id="truncated .ics",
        ),
        pytest.param(
            parse_meeting_calendar,
            b"dit is geen agenda",
            "agenda-bac, line 1: not a valid iCalendar file: line not understood: 'dit is geen agenda'",
            id="not iCalendar",
        ),
    ],
)
def test_a_source_that_does_not_parse_is_one_error_and_no_meetings(
    parse, content: bytes, expected: str
) -> None:  # type: ignore[no-untyped-def]
    feed = parse(content, BAC, NOW)

    assert feed.meetings == []
    assert texts(feed.problems) == [expected]
    assert feed.is_broken


# --- the entry point ----------------------------------------------------------------------


def test_parse_meeting_source_reads_a_source_as_its_format_says() -> None:
    as_calendar = dataclasses.replace(BAC, format="ical")

    assert MEETING_FORMATS == ("feed", "ical")
    assert only(parse_meeting_source(rss(item()), BAC, NOW)) == EXPECTED
    assert only(parse_meeting_source(ics(FULL_EVENT), as_calendar, NOW)) == EXPECTED


def test_parse_meeting_source_refuses_a_format_it_does_not_know() -> None:
    with pytest.raises(ValueError, match="unknown format 'json' for meetings"):
        parse_meeting_source(b"{}", dataclasses.replace(BAC, format="json"), NOW)
