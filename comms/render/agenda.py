"""What an agenda notice carries besides its text: the meeting as an .ics attachment."""

from __future__ import annotations

from datetime import datetime

from comms.collect.meetings.model import Meeting
from comms.config import Sender
from comms.render.ics import meeting_ics
from comms.render.message import Attachment


def notice_attachment(
    organizer: Sender, meeting: Meeting, version: int, cancelled: bool, now: datetime
) -> Attachment:
    """The meeting as an .ics: one UID for every version, SEQUENCE counting the versions."""
    description = "\n".join(f"{item.number}. {item.title}" for item in meeting.items)
    data = meeting_ics(
        uid=meeting.uid,
        title=meeting.title,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        location=meeting.location,
        description=description,
        url=meeting.url,
        sequence=version - 1,
        cancelled=cancelled,
        organizer=(organizer.name, organizer.address),
        now=now,
    )
    method = "CANCEL" if cancelled else "PUBLISH"
    return Attachment("vergadering.ics", f'text/calendar; charset="utf-8"; method={method}', data)
