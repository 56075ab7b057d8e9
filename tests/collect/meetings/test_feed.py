"""RSS and Atom agenda feeds: times, status, plain text, entities and encodings."""

from __future__ import annotations

from datetime import datetime

import pytest

from comms.collect.meetings.feed import parse_meeting_feed
from comms.collect.meetings.model import MeetingStatus
from comms.problems import Severity
from tests.collect.meetings.support import BAC, NOW, item, only, punt, rss, texts, utc


@pytest.mark.parametrize(
    ("start", "expected", "all_day", "warnings"),
    [
        pytest.param("2026-12-10T10:00:00+01:00", utc(2026, 12, 10, 9), False, [], id="offset"),
        pytest.param("2026-12-10T09:00:00Z", utc(2026, 12, 10, 9), False, [], id="Z"),
        pytest.param("Thu, 10 Dec 2026 10:00:00 +0100", utc(2026, 12, 10, 9), False, [], id="RFC 822"),
        pytest.param(
            "2026-12-10T10:00",
            utc(2026, 12, 10, 9),
            False,
            ["its time has no time zone; taken as Europe/Amsterdam"],
            id="no zone, winter",
        ),
        pytest.param(
            "2027-04-01T10:00:00",
            utc(2027, 4, 1, 8),
            False,
            ["its time has no time zone; taken as Europe/Amsterdam"],
            id="no zone, summer",
        ),
        pytest.param(
            "2026-12-10",
            utc(2026, 12, 9, 23),
            True,
            ["only a date, no start time: announced without a time"],
            id="date only",
        ),
    ],
)
def test_feed_times_become_utc(start: str, expected: datetime, all_day: bool, warnings: list[str]) -> None:
    feed = parse_meeting_feed(rss(item(start=start, end=None)), BAC, NOW)

    meeting = only(feed)
    assert (meeting.starts_at, meeting.all_day) == (expected, all_day)
    assert [(p.reason, p.severity) for p in feed.problems] == [(w, Severity.WARNING) for w in warnings]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("gepland", MeetingStatus.PLANNED),
        ("Gewijzigd", MeetingStatus.CHANGED),
        ("geannuleerd", MeetingStatus.CANCELLED),
        ("cancelled", MeetingStatus.CANCELLED),
        (None, MeetingStatus.PLANNED),
    ],
)
def test_feed_status(status: str | None, expected: MeetingStatus) -> None:
    meeting = only(parse_meeting_feed(rss(item(status=status)), BAC, NOW))

    assert meeting.status is expected
    assert meeting.is_cancelled is (expected is MeetingStatus.CANCELLED)


def test_titles_and_descriptions_are_plain_single_line_text() -> None:
    agenda = (
        punt("1", "Opening &lt;b&gt;nu&lt;/b&gt;", "Tekst&lt;script&gt;alert(1)&lt;/script&gt; met\nregels"),
    )
    entry = item(title="Vergadering\r\nBcc: iedereen@example.org", location="Zaal&#9;&#10;1", agenda=agenda)

    meeting = only(parse_meeting_feed(rss(entry), BAC, NOW))

    assert meeting.title == "Vergadering Bcc: iedereen@example.org"
    assert meeting.location == "Zaal 1"
    assert meeting.items[0].title == "Opening nu"
    assert meeting.items[0].description == "Tekst met regels"


def test_an_html_entity_is_tolerated_and_reported() -> None:
    feed = parse_meeting_feed(rss(item(title="Vergadering&nbsp;BAC")), BAC, NOW)

    assert only(feed).title == "Vergadering BAC"  # one line, blanks folded
    assert texts(feed.problems) == [
        "agenda-bac: HTML entities are not XML (&nbsp;); read as the characters they stand for"
    ]
    assert not feed.is_broken


def test_a_feed_in_another_encoding_is_read() -> None:
    content = rss(item(location="Provinciehuis Fryslân")).replace(b"UTF-8", b"windows-1252")
    content = content.decode().encode("cp1252")

    assert only(parse_meeting_feed(content, BAC, NOW)).location == "Provinciehuis Fryslân"
