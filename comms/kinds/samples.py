"""Sample content for `comms check`: templates are rendered with it before anything is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from comms.collect.meetings.model import AgendaItem, Document, Meeting, MeetingStatus


def sample_meeting() -> Meeting:
    """A changed meeting with a location, a page and an agenda item with a document."""
    starts = datetime(2030, 3, 6, 9, 30, tzinfo=UTC)
    document = Document("Voorstel", "https://www.ipo.example.org/stukken/1.pdf")
    return Meeting(
        uid="voorbeeld@ipo.example.org",
        body="ipo-bestuur",
        title="Vergadering IPO-bestuur",
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        location="Den Haag",
        status=MeetingStatus.CHANGED,
        items=(AgendaItem("1", "Opening", "Opening en mededelingen", (document,)),),
        url="https://www.ipo.example.org/vergaderingen/1",
        source="voorbeeld",
    )
