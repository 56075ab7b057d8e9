"""Meetings of the IPO-bestuur, the five BAC's and the AV, from the IPO's agenda feeds.

Two formats carry the same facts: RSS 2.0 (or Atom) with a small namespace (`feed`) and
iCalendar (`ical`); their modules describe them. Every meeting comes out as a `model.Meeting`
with its body, start and end (aware UTC), location, status and agenda items; whatever is wrong
with one meeting is a Problem naming the source and the meeting, and only that meeting is lost
(`draft`: the checks every format shares). `merge` keeps a meeting that several sources list
once; `changes` says in Dutch what changed between two versions of a meeting.

`parse_meeting_source` is the way in: it reads a source as its `format` says.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from comms.collect.meetings.feed import parse_meeting_feed
from comms.collect.meetings.ical import parse_meeting_calendar
from comms.collect.meetings.model import MeetingFeed
from comms.config import SourceConfig

_Parser = Callable[[bytes, SourceConfig, datetime], MeetingFeed]
_PARSERS: dict[str, _Parser] = {"feed": parse_meeting_feed, "ical": parse_meeting_calendar}
MEETING_FORMATS = tuple(_PARSERS)  # the `format` values of comms.toml a meeting source may have


def parse_meeting_source(content: bytes, source: SourceConfig, now: datetime) -> MeetingFeed:
    """The meetings of one source as of `now` (past meetings are left out), by its `format`.

    A format outside MEETING_FORMATS raises ValueError: callers report it before fetching.
    """
    parser = _PARSERS.get(source.format)
    if parser is None:
        raise ValueError(f"unknown format '{source.format}' for meetings")
    return parser(content, source, now)
