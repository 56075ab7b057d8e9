"""Across feeds: a meeting listed twice is kept once, with a warning naming both sources."""

from __future__ import annotations

import pytest

from comms.collect.meetings.feed import parse_meeting_feed
from comms.collect.meetings.ical import parse_meeting_calendar
from comms.collect.meetings.merge import merge_feeds
from comms.collect.meetings.model import Meeting, MeetingFeed, MeetingStatus
from tests.collect.meetings.support import AV, BAC, EXPECTED, FULL_EVENT, NOW, ics, item, meeting, rss, texts


@pytest.mark.parametrize(
    ("second", "reason"),
    [
        pytest.param(
            meeting(source="agenda-lg", title="BAC LG"),
            "listed twice (the same uid as in agenda-bac); the copy from agenda-bac is used",
            id="same uid",
        ),
        pytest.param(
            meeting(source="agenda-lg", uid="urn:lg:2026-12-10", title="BAC LG"),
            "listed twice (the same body and start as in agenda-bac); the copy from agenda-bac is used",
            id="same body and start",
        ),
    ],
)
def test_a_meeting_in_two_feeds_is_kept_once_with_a_warning_naming_both(second: Meeting, reason: str) -> None:
    other = meeting(uid="av-2026-12-16", body="av", source="agenda-av")

    meetings, problems = merge_feeds(
        [
            MeetingFeed("agenda-bac", [EXPECTED]),
            MeetingFeed("agenda-lg", [second]),
            MeetingFeed("agenda-av", [other]),
        ]
    )

    assert meetings == [EXPECTED, other]
    assert texts(problems) == [f"agenda-lg [BAC LG, 10 december 2026 10.00 uur]: {reason}"]
    assert not problems[0].is_error


def test_a_meeting_listed_twice_in_one_feed_is_kept_once() -> None:
    meetings, problems = merge_feeds([MeetingFeed("agenda-bac", [EXPECTED, meeting(location="Elders")])])

    assert meetings == [EXPECTED]
    assert [p.reason for p in problems] == [
        "listed twice (the same uid as earlier in this source); the copy from agenda-bac is used"
    ]


def test_a_cancelled_meeting_and_its_replacement_at_the_same_hour_are_two() -> None:
    cancelled = meeting(status=MeetingStatus.CANCELLED)
    replacement = meeting(uid="bac-lg-2026-12-10-nieuw")

    meetings, problems = merge_feeds([MeetingFeed("agenda-bac", [cancelled, replacement])])

    assert meetings == [cancelled, replacement]
    assert problems == []


def test_feeds_parsed_from_two_formats_merge() -> None:
    feeds = [
        parse_meeting_feed(rss(item()), BAC, NOW),
        parse_meeting_calendar(ics(FULL_EVENT), AV, NOW),
    ]

    meetings, problems = merge_feeds(feeds)

    assert [m.source for m in meetings] == ["agenda-bac"]
    assert [p.where for p in problems] == ["agenda-av"]
