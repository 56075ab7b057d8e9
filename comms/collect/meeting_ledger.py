"""The meeting ledger: each IPO meeting once, and a new version whenever its content changes.

A notice goes out per version, so an agenda seen again unchanged is never announced twice,
and a changed one is announced with what changed (Dutch sentences, kept with the version).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from comms.collect.meetings.changes import CANCELLED_SENTENCE
from comms.collect.meetings.model import Meeting, MeetingStatus
from comms.store.models import MeetingRecord

ChangeKind = Literal["new", "changed", "cancelled", "unchanged"]
# Only if a version differs in a way changes_from does not describe (it describes them all).
_FALLBACK_SENTENCE = "De vergadering is gewijzigd."


@dataclass(frozen=True, slots=True)
class MeetingChange:
    """What recording one meeting did: its version now, and why it is (not) news."""

    uid: str
    version: int
    kind: ChangeKind
    changes: list[str] = field(default_factory=list)  # Dutch sentences; empty for new and unchanged

    @property
    def is_news(self) -> bool:
        """A notice is due: the meeting is new, changed or cancelled."""
        return self.kind != "unchanged"


def record_meetings(session: Session, meetings: list[Meeting], now: datetime) -> list[MeetingChange]:
    """Insert new meetings (version 1), bump the version of changed ones, leave the rest alone."""
    return [_record(session, meeting, now) for meeting in meetings]


def _record(session: Session, meeting: Meeting, now: datetime) -> MeetingChange:
    record = _find(session, meeting.uid)
    if record is None:
        # First seen already cancelled: GS may know the date from the year planning; say so.
        changes = [CANCELLED_SENTENCE] if meeting.is_cancelled else []
        record = MeetingRecord(uid=meeting.uid, version=1, first_seen_at=now)
        _fill(record, meeting, changes, now)
        session.add(record)
        session.flush()  # a later meeting of this batch may share the uid
        return MeetingChange(meeting.uid, 1, "cancelled" if meeting.is_cancelled else "new", changes)
    if record.content_hash == meeting.content_hash:
        return MeetingChange(meeting.uid, record.version, "unchanged")
    was_cancelled = record.status == MeetingStatus.CANCELLED
    changes = _changes(record, meeting)
    record.version += 1
    _fill(record, meeting, changes, now)
    kind: ChangeKind = "cancelled" if meeting.is_cancelled and not was_cancelled else "changed"
    return MeetingChange(meeting.uid, record.version, kind, changes)


def _find(session: Session, uid: str) -> MeetingRecord | None:
    return session.scalars(select(MeetingRecord).where(MeetingRecord.uid == uid)).first()


def _changes(record: MeetingRecord, meeting: Meeting) -> list[str]:
    try:
        previous = Meeting.from_json(record.data)
    except (ValueError, KeyError, TypeError):  # stored by an older or broken version: say less
        return [_FALLBACK_SENTENCE]
    return meeting.changes_from(previous) or [_FALLBACK_SENTENCE]


def _fill(record: MeetingRecord, meeting: Meeting, changes: list[str], now: datetime) -> None:
    record.body = meeting.body
    record.title = meeting.title
    record.starts_at = meeting.starts_at
    record.ends_at = meeting.ends_at
    record.location = meeting.location
    record.status = meeting.status.value
    record.url = meeting.url
    record.source = meeting.source
    record.content_hash = meeting.content_hash
    record.data = meeting.to_json()
    record.changes = json.dumps(changes, ensure_ascii=False)
    record.updated_at = now


def load_meeting(session: Session, uid: str) -> Meeting | None:
    """The meeting as last recorded, with its agenda; None if the ledger does not know it."""
    record = _find(session, uid)
    return None if record is None else Meeting.from_json(record.data)


def upcoming_meetings(session: Session, start: datetime, end: datetime) -> list[MeetingRecord]:
    """Meetings starting in [start, end), cancelled ones included, earliest first."""
    query = (
        select(MeetingRecord)
        .where(MeetingRecord.starts_at >= start, MeetingRecord.starts_at < end)
        .order_by(MeetingRecord.starts_at, MeetingRecord.body, MeetingRecord.uid)
    )
    return list(session.scalars(query))


def known_meetings(session: Session, source: str, since: datetime) -> list[Meeting]:
    """The source's meetings from `since` on, as last recorded: they stand in for a source
    that was not modified or could not be read, so de-duplication across feeds still sees them."""
    query = (
        select(MeetingRecord)
        .where(MeetingRecord.source == source, MeetingRecord.starts_at >= since)
        .order_by(MeetingRecord.starts_at, MeetingRecord.uid)
    )
    meetings = []
    for record in session.scalars(query):
        try:
            meetings.append(Meeting.from_json(record.data))
        except (ValueError, KeyError, TypeError):
            continue  # unreadable: the source's next good fetch records it afresh
    return meetings


@dataclass(frozen=True, slots=True)
class MissingMeetings:
    """What one collect found about meetings that left or returned to their feeds."""

    gone: list[Meeting] = field(default_factory=list)  # newly missing: upcoming, not cancelled
    back: list[Meeting] = field(default_factory=list)  # missing before, listed again


def note_missing(
    session: Session, read_in_full: set[str], listed: set[str], now: datetime
) -> MissingMeetings:
    """Mark the upcoming meetings of the sources `read_in_full` that no feed lists any more.

    Only sources that were fetched and parsed whole count: one that failed, or was not
    modified, says nothing about its meetings. `listed` holds the uid of every meeting any
    source lists now, so a meeting that moved to another source is not missing. A cancelled
    meeting that leaves its feed is no news. Each meeting is reported once when it goes
    (missing_since is set) and once when it returns (cleared).
    """
    found = MissingMeetings()
    query = select(MeetingRecord).where(
        MeetingRecord.starts_at > now,
        or_(MeetingRecord.source.in_(read_in_full), MeetingRecord.missing_since.is_not(None)),
    )
    for record in session.scalars(query.order_by(MeetingRecord.starts_at, MeetingRecord.uid)):
        if record.uid in listed:
            if record.missing_since is not None:
                record.missing_since = None
                found.back.extend(_readable(record))
        elif (
            record.missing_since is None
            and record.source in read_in_full
            and record.status != MeetingStatus.CANCELLED
        ):
            record.missing_since = now
            found.gone.extend(_readable(record))
    return found


def _readable(record: MeetingRecord) -> list[Meeting]:
    try:
        return [Meeting.from_json(record.data)]
    except (ValueError, KeyError, TypeError):  # stored by an older version: nothing to tell
        return []


def missing_since(session: Session, uid: str) -> datetime | None:
    record = _find(session, uid)
    return record.missing_since if record else None
