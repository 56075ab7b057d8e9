"""Meetings from an iCalendar agenda file, read with icalendar.

One VEVENT per meeting. UID is the uid (SEQUENCE plays no part in identity); SUMMARY the
title; DTSTART/DTEND (with TZID=Europe/Amsterdam or in UTC); LOCATION; URL; STATUS:CANCELLED
for a cancelled meeting, X-IPO-STATUS:gewijzigd for a changed one; X-IPO-ORGAAN the body (on
the VEVENT, or once on the VCALENDAR for the whole file). The agenda is the DESCRIPTION, one
numbered line per item, "3. Titel – omschrijving" (the first dash between blanks separates
title and description; lines right below an item continue its description; other lines are
left out). Documents are ATTACH properties:
``ATTACH;X-AGENDAPUNT=3;X-TITLE="Titel van het stuk":https://…``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from icalendar import Calendar, Component

from comms.collect.calendar import event_guid, first_property, parse_error_reason, parsed_value, property_text
from comms.collect.meetings.draft import (
    DATE_ONLY,
    NO_ZONE,
    Draft,
    DraftItem,
    When,
    amsterdam_time,
    feed_from_drafts,
    set_end,
    set_start,
)
from comms.collect.meetings.model import MeetingFeed
from comms.collect.sanitise import capped, clean_text
from comms.config import SourceConfig
from comms.problems import Problem

_NUMBERED = re.compile(r"^\s*(\d{1,3}[a-z]?)[.)](?:\s+(.*))?$")
_DASH = re.compile(r"\s+[–—-]\s+|^[–—-]\s+")


def parse_meeting_calendar(content: bytes, source: SourceConfig, now: datetime) -> MeetingFeed:
    """Meetings of an iCalendar file, one per VEVENT; an unreadable file gives one error."""
    if not content.strip():
        return MeetingFeed(source.name, problems=[Problem(source.name, "the calendar file is empty")])
    try:
        calendar = Calendar.from_ical(content)
    except ValueError as exc:
        reason, line = parse_error_reason(str(exc), content)
        problem = Problem(source.name, f"not a valid iCalendar file: {reason}", line=line)
        return MeetingFeed(source.name, problems=[problem])
    if calendar.name != "VCALENDAR":
        problem = Problem(source.name, "not a valid iCalendar file: it has no VCALENDAR")
        return MeetingFeed(source.name, problems=[problem])
    feed_body = clean_text(property_text(calendar, "X-IPO-ORGAAN"))
    drafts = (
        _calendar_draft(position, event, feed_body)
        for position, event in enumerate(calendar.walk("VEVENT"), start=1)
    )
    return feed_from_drafts(source, drafts, now)


def _calendar_draft(position: int, event: Component, feed_body: str) -> Draft:
    status = property_text(event, "STATUS").strip()
    if status.upper() != "CANCELLED":  # STATUS:CANCELLED wins; else the IPO's own word, if any
        status = property_text(event, "X-IPO-STATUS") or status
    draft = Draft(
        position,
        uid=event_guid(event) or "",
        title=clean_text(property_text(event, "SUMMARY")),
        link=property_text(event, "URL").strip(),
        body=clean_text(property_text(event, "X-IPO-ORGAAN")),
        feed_body=feed_body,
        location=clean_text(property_text(event, "LOCATION")),
        status=clean_text(status),
        items=_description_items(property_text(event, "DESCRIPTION")),
    )
    start = first_property(event, "DTSTART")
    if start is not None:
        set_start(draft, _calendar_time, start, "DTSTART")
    _set_calendar_end(draft, event)
    if "RRULE" in event:
        draft.warnings.append("a repeating event: only its first date is used")
    _attach_documents(draft, event)
    return draft


def _set_calendar_end(draft: Draft, event: Component) -> None:
    end = first_property(event, "DTEND")
    if end is not None:
        set_end(draft, _calendar_time, end, "DTEND")
        return
    duration = parsed_value(first_property(event, "DURATION"))
    if draft.starts_at is not None and not draft.all_day and isinstance(duration, timedelta):
        draft.ends_at = draft.starts_at + duration


def _calendar_time(prop: Any) -> When:
    value = parsed_value(prop)
    if not isinstance(value, date):  # unparsable, or a bare TIME or a PERIOD
        raise ValueError(f"'{capped(clean_text(str(prop)), 40)}' is not a date or time")
    if not isinstance(value, datetime):
        return amsterdam_time(value, DATE_ONLY)
    if value.tzinfo is not None and value.utcoffset() is not None:
        return When(value.astimezone(UTC))
    tzid = prop.params.get("TZID")
    if tzid:
        note = f"unknown time zone '{capped(clean_text(tzid), 40)}'; taken as Europe/Amsterdam"
        return amsterdam_time(value, note)
    return amsterdam_time(value, NO_ZONE)


def _description_items(text: str) -> list[DraftItem]:
    """'3. Titel – omschrijving' lines; lines right below an item continue its description."""
    items: list[DraftItem] = []
    open_item: DraftItem | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        numbered = _NUMBERED.match(line)
        if numbered:
            title, _, description = _DASH.sub("\x00", numbered.group(2) or "", count=1).partition("\x00")
            open_item = DraftItem(numbered.group(1), clean_text(title), clean_text(description))
            items.append(open_item)
        elif not line.strip():
            open_item = None  # a blank line ends the item; what follows is not part of it
        elif open_item is not None:
            open_item.description = f"{open_item.description} {clean_text(line)}".strip()
    return items


def _attach_documents(draft: Draft, event: Component) -> None:
    attachments = event.get("ATTACH") or []
    by_number = {item.number: item for item in draft.items}
    for prop in attachments if isinstance(attachments, list) else [attachments]:
        number = clean_text(str(prop.params.get("X-AGENDAPUNT", "")))
        title = clean_text(str(prop.params.get("X-TITLE", "")))
        name = capped(title or str(prop), 60)
        item = by_number.get(number)
        if item is None:
            where = f"agenda item {number}, which is not on the agenda" if number else "no X-AGENDAPUNT"
            draft.warnings.append(f"document '{name}': {where}; left out")
            continue
        item.documents.append((title, str(prop)))
