"""Across feeds: a meeting listed by more than one source, or twice in one, is kept once."""

from __future__ import annotations

from datetime import datetime

from comms.collect.meetings.draft import problem_subject
from comms.collect.meetings.model import Meeting, MeetingFeed
from comms.problems import Problem, Severity


def merge_feeds(feeds: list[MeetingFeed]) -> tuple[list[Meeting], list[Problem]]:
    """Every meeting once: the same uid, or the same body and start, is one meeting.

    The first copy wins (feeds in the order of comms.toml); each other copy is a warning
    naming both sources. Only the merge's own problems are returned; each feed keeps its own.
    """
    kept: list[Meeting] = []
    by_uid: dict[str, Meeting] = {}
    by_slot: dict[tuple[str, datetime, bool], Meeting] = {}
    problems: list[Problem] = []
    for feed in feeds:
        for meeting in feed.meetings:
            # A cancelled meeting and its replacement at the same hour are two meetings.
            slot = (meeting.body, meeting.starts_at, meeting.is_cancelled)
            first = by_uid.get(meeting.uid) or by_slot.get(slot)
            if first is not None:
                problems.append(_duplicate(meeting, first))
                continue
            kept.append(meeting)
            by_uid[meeting.uid] = meeting
            by_slot[slot] = meeting
    return kept, problems


def _duplicate(meeting: Meeting, first: Meeting) -> Problem:
    same = "the same uid" if meeting.uid == first.uid else "the same body and start"
    where = "earlier in this source" if meeting.source == first.source else f"in {first.source}"
    return Problem(
        meeting.source,
        f"listed twice ({same} as {where}); the copy from {first.source} is used",
        subject=meeting_subject(meeting),
        severity=Severity.WARNING,
    )


def meeting_subject(meeting: Meeting) -> str:
    """How a problem names a meeting: its title and date."""
    return problem_subject(meeting.title, meeting.starts_at, meeting.all_day)
