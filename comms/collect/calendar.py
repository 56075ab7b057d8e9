"""iCalendar (.ics) to CollectedItems: one per VEVENT, times in UTC.

A floating time or a date without a time means Dutch local time: every IPO
meeting is in the Netherlands, and a calendar that leaves the zone out means that.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from icalendar import Calendar, Component

from comms.collect.items import CollectedItem, LeftOut
from comms.collect.sanitise import capped, clean_html, clean_text, safe_link
from comms.config import SourceConfig
from comms.dates import AMSTERDAM
from comms.problems import Problem, Severity

_SUBJECT_LENGTH = 80
_REASON_LENGTH = 120


def parse_calendar(source: SourceConfig, body: bytes) -> tuple[list[CollectedItem], list[Problem]]:
    """Items of an iCalendar file; an unreadable file gives one error, no items."""
    if not body.strip():
        return [], [Problem(source.name, "the calendar file is empty")]
    try:
        calendar = Calendar.from_ical(body)
    except ValueError as exc:
        reason, line = parse_error_reason(str(exc), body)
        return [], [Problem(source.name, f"not a valid iCalendar file: {reason}", line=line)]
    if calendar.name != "VCALENDAR":
        reason = "not a valid iCalendar file: it has no VCALENDAR"
        return [], [Problem(source.name, reason)]
    items: list[CollectedItem] = []
    problems: list[Problem] = []
    for number, event in enumerate(calendar.walk("VEVENT"), start=1):
        subject = _subject(event, number)
        try:
            item, warnings = _item(source, event)
        except LeftOut as skip:
            problems.append(Problem(source.name, f"event skipped: {skip}", subject=subject))
            continue
        if item is not None:
            items.append(item)
        problems += [
            Problem(source.name, reason, subject=subject, severity=Severity.WARNING) for reason in warnings
        ]
    return items, problems


def parse_error_reason(message: str, body: bytes) -> tuple[str, int | None]:
    """icalendar's message in plain words, and the line it is about when it quotes one."""
    if message.startswith("Found no components"):
        return "no complete VCALENDAR … END:VCALENDAR (is the file truncated?)", None
    if message.startswith("Found multiple components"):
        return "more than one VCALENDAR in one file", None
    quoted = re.match(r"Content line could not be parsed into parts: '(.*?)'(?::|$)", message)
    if quoted:
        bad = quoted.group(1)
        return f"line not understood: '{capped(bad, 60)}'", _line_of(bad, body)
    return capped(message, _REASON_LENGTH), None


def _line_of(text: str, body: bytes) -> int | None:
    lines = body.decode("utf-8", "replace").splitlines()
    return next((n for n, line in enumerate(lines, start=1) if line.strip() == text.strip()), None)


def _subject(event: Component, number: int) -> str:
    subject = clean_text(property_text(event, "SUMMARY")) or clean_text(property_text(event, "UID"))
    return capped(subject, _SUBJECT_LENGTH) or f"event {number}"


def _item(source: SourceConfig, event: Component) -> tuple[CollectedItem | None, list[str]]:
    """The event as an item, or None when it is cancelled; plus warnings."""
    if property_text(event, "STATUS").strip().upper() == "CANCELLED":
        return None, ["the event is cancelled; left out"]
    title = clean_text(property_text(event, "SUMMARY"))
    if not title:
        raise LeftOut("it has no SUMMARY (title)")
    warnings = [
        f"broken line ignored: {capped(error, _REASON_LENGTH)}"
        for name, error in event.errors
        if name not in ("DTSTART", "DTEND")
    ]
    start, all_day, zone_warning = _start(event)
    warnings += zone_warning
    end, end_warnings = _end(event, start, all_day)
    warnings += end_warnings
    if "RRULE" in event:
        warnings.append("a repeating event: only its first date is listed")
    link, link_warnings = _link(event)
    warnings += link_warnings
    summary_html, removed = clean_html(_paragraphs(property_text(event, "DESCRIPTION")))
    warnings += [f"description: {reason}" for reason in removed]
    item = CollectedItem(
        source=source.name,
        kind=source.kind,
        title=title,
        link=link,
        summary_html=summary_html,
        guid=event_guid(event),
        published_at=_published(event),
        categories=_categories(event),
        starts_at=start,
        ends_at=end,
        location=clean_text(property_text(event, "LOCATION")) or None,
        all_day=all_day,
    )
    return item, warnings


def property_text(component: Component, name: str) -> str:
    """The property as text (the first one when repeated), or "" when the component has none."""
    prop = first_property(component, name)
    return "" if prop is None else str(prop)


def first_property(component: Component, name: str) -> Any:
    """The property, or the first one when a sloppy file repeats it; None when there is none."""
    prop = component.get(name)
    return (prop[0] if prop else None) if isinstance(prop, list) else prop


def parsed_value(prop: Any) -> object:
    """The parsed value of a date, time or duration property, or None if it did not parse."""
    try:
        return prop.dt
    except (AttributeError, ValueError):  # icalendar keeps bad text as vBroken, which raises
        return None


def _start(event: Component) -> tuple[datetime, bool, list[str]]:
    prop = first_property(event, "DTSTART")
    if prop is None:
        raise LeftOut("it has no DTSTART (start time)")
    value = parsed_value(prop)
    if not isinstance(value, date):  # unparsable, or a bare TIME or a PERIOD
        raise LeftOut(f"its DTSTART '{capped(str(prop), 40)}' is not a date or time")
    return _utc(value), not isinstance(value, datetime), _zone_warning(prop, value)


def _end(event: Component, start: datetime, all_day: bool) -> tuple[datetime | None, list[str]]:
    end = _explicit_end(event, start)
    if end is None and all_day:
        end = start + timedelta(days=1)  # RFC 5545: a date-only event lasts that one day
    if end is not None and end < start:
        return None, ["it ends before it starts; the end time is left out"]
    end_prop = first_property(event, "DTEND")
    if end_prop is not None and not isinstance(parsed_value(end_prop), date):
        return end, ["its DTEND is not a date or time; the end time is left out"]
    return end, []


def _explicit_end(event: Component, start: datetime) -> datetime | None:
    end = parsed_value(first_property(event, "DTEND"))
    if isinstance(end, date):
        return _utc(end)
    duration = parsed_value(first_property(event, "DURATION"))
    return start + duration if isinstance(duration, timedelta) else None


def _utc(value: date) -> datetime:
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0))
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=AMSTERDAM)
    return value.astimezone(UTC)


def _zone_warning(prop: Any, value: date) -> list[str]:
    # icalendar leaves the time floating when it does not know the TZID; say we guessed.
    tzid = prop.params.get("TZID")
    if tzid and isinstance(value, datetime) and value.tzinfo is None:
        return [f"unknown time zone '{capped(clean_text(tzid), 40)}'; taken as Europe/Amsterdam"]
    return []


def _link(event: Component) -> tuple[str | None, list[str]]:
    raw = property_text(event, "URL").strip()
    if not raw:
        return None, []
    link = safe_link(raw)
    return link, [] if link else ["its URL is not an http(s) address; left out"]


def _paragraphs(text: str) -> str:
    """Plain text as HTML: blank lines separate paragraphs, single newlines become <br>."""
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip())
    return "".join(
        "<p>" + "<br>".join(html.escape(line.strip()) for line in block.splitlines()) + "</p>"
        for block in blocks
        if block.strip()
    )


def event_guid(event: Component) -> str | None:
    """The event's UID, plus its RECURRENCE-ID for a changed occurrence; None without a UID."""
    uid = clean_text(property_text(event, "UID"))
    if not uid:
        return None
    # A changed occurrence of a repeating event shares the UID; keep them apart.
    recurrence = parsed_value(first_property(event, "RECURRENCE-ID"))
    if isinstance(recurrence, date):
        return f"{uid}#{_utc(recurrence).strftime('%Y%m%dT%H%M%SZ')}"
    return uid


def _published(event: Component) -> datetime | None:
    # LAST-MODIFIED says when the event changed; DTSTAMP is often just the export time.
    for name in ("LAST-MODIFIED", "DTSTAMP"):
        value = parsed_value(first_property(event, name))
        if isinstance(value, date):
            return _utc(value)
    return None


def _categories(event: Component) -> tuple[str, ...]:
    props = event.get("CATEGORIES") or []
    if not isinstance(props, list):
        props = [props]
    names: list[str] = []
    for prop in props:
        for raw in getattr(prop, "cats", [prop]):
            name = clean_text(str(raw))
            if name and name not in names:
                names.append(name)
    return tuple(names)
