"""An IPO meeting as an iCalendar (.ics) attachment that calendar programs import.

- METHOD:PUBLISH for a planned or changed meeting. PUBLISH is iTIP's "here is an event
  for your calendar": Outlook, Apple Calendar and Google import it as is. REQUEST would
  make every recipient an invitee expected to reply to the IPO, and a notice is not an
  invitation (the GS members do not attend the IPO meeting).
- METHOD:CANCEL with STATUS:CANCELLED when the meeting is off, so a program that
  imported the meeting removes or strikes it.
- One UID for every version of a meeting, SEQUENCE counting the versions: an update
  replaces the event imported earlier instead of adding a second one.
- DTSTART/DTEND carry TZID=Europe/Amsterdam with its VTIMEZONE, so 10:00 stays 10:00 for
  a reader in any zone and across summer time.

Text from the feeds never breaks the file: control characters are removed (line breaks
only survive in the description) and icalendar escapes `;` `,` `\\` and newlines and
folds long lines with CRLF.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime

from icalendar import Calendar, Event, vCalAddress

from comms.collect.sanitise import safe_link
from comms.dates import local

PRODUCT_ID = "-//IPO//comms agenda//NL"
CANCELLED_PREFIX = "Geannuleerd: "
MORE_INFORMATION = "Meer informatie"
_LINE_BREAKS = "\r\n\u2028\u2029"


def meeting_ics(
    uid: str,
    title: str,
    starts_at: datetime,
    ends_at: datetime | None,
    location: str | None,
    description: str,
    url: str | None,
    sequence: int,
    cancelled: bool,
    organizer: tuple[str, str],
    now: datetime,
) -> bytes:
    """The .ics file of one meeting version; every datetime given is aware (UTC or not)."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    calendar.add_component(
        _event(
            uid, title, starts_at, ends_at, location, description, url, sequence, cancelled, organizer, now
        )
    )
    # Only the years around the meeting: the full history since 1970 is kilobytes of RDATEs.
    year = local(starts_at).year
    calendar.add_missing_timezones(first_date=date(year - 1, 1, 1), last_date=date(year + 2, 1, 1))
    return calendar.to_ical()


def _event(
    uid: str,
    title: str,
    starts_at: datetime,
    ends_at: datetime | None,
    location: str | None,
    description: str,
    url: str | None,
    sequence: int,
    cancelled: bool,
    organizer: tuple[str, str],
    now: datetime,
) -> Event:
    event = Event()
    event.add("uid", event_uid(uid, organizer[1]))
    event.add("dtstamp", now)  # icalendar writes an aware datetime as UTC (…Z)
    event.add("sequence", max(sequence, 0))
    summary = one_line(title)
    event.add("summary", CANCELLED_PREFIX + summary if cancelled else summary)
    event.add("dtstart", local(starts_at))  # a ZoneInfo datetime gets TZID=Europe/Amsterdam
    if ends_at is not None and ends_at > starts_at:
        event.add("dtend", local(ends_at))
    # Without an end: RFC 5545 makes it a moment at DTSTART, which is what the feed says.
    if location and (place := one_line(location)):
        event.add("location", place)
    link = safe_link(url)
    if text := _description(description, link):
        event.add("description", text)
    if link:
        event.add("url", link)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if person := _organizer(*organizer):
        event.add("organizer", person)
    return event


def event_uid(uid: str, sender_address: str) -> str:
    """The meeting's uid, made globally unique with the sender's domain when it has no '@'."""
    cleaned = "".join(c for c in uid if not _is_control(c) and not c.isspace())
    domain = sender_address.rpartition("@")[2] or "ipo.example.org"
    return cleaned if "@" in cleaned else f"{cleaned}@{domain}"


def one_line(text: str) -> str:
    """Text for SUMMARY and LOCATION: one line, blanks squeezed, no control characters."""
    return " ".join(_without_controls(text, line_break=" ").split())


def multi_line(text: str) -> str:
    """Text for DESCRIPTION: line breaks kept (as \\n), tabs become spaces, other controls go."""
    kept = _without_controls(text.replace("\r\n", "\n"), line_break="\n")
    return "\n".join(line.rstrip() for line in kept.strip().split("\n"))


def _description(description: str, link: str | None) -> str:
    parts = [multi_line(description)]
    if link:
        parts.append(f"{MORE_INFORMATION}: {link}")
    return "\n\n".join(part for part in parts if part)


def _organizer(name: str, address: str) -> vCalAddress | None:
    if not address or any(_is_control(c) or c.isspace() for c in address) or "@" not in address:
        return None
    person = vCalAddress(f"mailto:{address}")
    if cn := one_line(name).replace('"', "'"):  # a parameter value cannot hold a double quote
        person.params["CN"] = cn
    return person


def _without_controls(text: str, line_break: str) -> str:
    """Line breaks (CR, LF, U+2028/9) as `line_break`, tabs as spaces; the other control and
    format characters (NUL, ESC, bidi overrides, zero-width) go: they could break or disguise a property."""
    return "".join(
        line_break if c in _LINE_BREAKS else " " if c.isspace() else "" if _is_control(c) else c for c in text
    )


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")
