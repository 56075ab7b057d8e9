"""The meeting itself: its content hash and its JSON form."""

from __future__ import annotations

import dataclasses

import pytest

from comms.collect.meetings.feed import parse_meeting_feed
from comms.collect.meetings.ical import parse_meeting_calendar
from comms.collect.meetings.model import Meeting, MeetingStatus
from tests.collect.meetings.support import (
    AV,
    BAC,
    EXPECTED,
    FULL_EVENT,
    NOW,
    ics,
    item,
    meeting,
    only,
    rss,
    utc,
)


def test_content_hash_is_stable_and_ignores_the_source() -> None:
    again = only(parse_meeting_feed(rss(item()), BAC, NOW))
    from_calendar = only(parse_meeting_calendar(ics(FULL_EVENT), AV, NOW))

    assert again.content_hash == EXPECTED.content_hash
    assert from_calendar.source != EXPECTED.source
    assert from_calendar.content_hash == EXPECTED.content_hash
    assert len(EXPECTED.content_hash) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Extra vergadering BAC Landelijk Gebied"},
        {"starts_at": utc(2026, 12, 10, 10)},
        {"ends_at": None},
        {"location": "Online"},
        {"status": MeetingStatus.CANCELLED},
        {"url": None},
        {"all_day": True},
        {"items": EXPECTED.items[:2]},
        {
            "items": (
                EXPECTED.items[0],
                dataclasses.replace(EXPECTED.items[1], documents=()),
                EXPECTED.items[2],
            )
        },
    ],
    ids=lambda change: next(iter(change)),
)
def test_content_hash_changes_with_what_recipients_read(change: dict[str, object]) -> None:
    assert meeting(**change).content_hash != EXPECTED.content_hash


def test_json_round_trip() -> None:
    changed = meeting(all_day=True, ends_at=None, status=MeetingStatus.CHANGED)

    for original in (EXPECTED, changed):
        assert Meeting.from_json(original.to_json()) == original
