"""What every format shares: a meeting as its source states it (a Draft), and the checks
that turn drafts into Meetings and Problems.

What counts for the body: the meeting's own statement, else the feed's, else the source's
`body` in comms.toml. Times without a zone are Dutch time (Europe/Amsterdam), with a
warning. A date without a time is kept as local midnight with `all_day` set: the meeting is
announced with its date, "time not yet known", instead of being lost. A meeting that
already started is left out with a warning: nothing to announce, not an error in the feed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import unquote, urlsplit

from comms.collect.items import LeftOut
from comms.collect.meetings.model import AgendaItem, Document, Meeting, MeetingFeed, MeetingStatus
from comms.collect.sanitise import capped, clean_text, safe_link
from comms.config import SourceConfig
from comms.dates import AMSTERDAM, short_date, time_of_day
from comms.domain import BODIES, Body, body_by_name
from comms.problems import Problem, Severity

# Column sizes of the meeting ledger (PostgreSQL enforces them).
_UID_LENGTH = 300
_TEXT_LENGTH = 500
_URL_LENGTH = 2000
_DESCRIPTION_LENGTH = 2000
_SUBJECT_LENGTH = 80

_STATUS_WORDS = {
    "gepland": MeetingStatus.PLANNED,
    "planned": MeetingStatus.PLANNED,
    "confirmed": MeetingStatus.PLANNED,  # iCalendar's STATUS values
    "tentative": MeetingStatus.PLANNED,
    "gewijzigd": MeetingStatus.CHANGED,
    "changed": MeetingStatus.CHANGED,
    "geannuleerd": MeetingStatus.CANCELLED,
    "afgelast": MeetingStatus.CANCELLED,
    "cancelled": MeetingStatus.CANCELLED,
    "canceled": MeetingStatus.CANCELLED,
}

DATE_ONLY = "only a date, no start time: announced without a time"
NO_ZONE = "its time has no time zone; taken as Europe/Amsterdam"


@dataclass(slots=True)
class DraftItem:
    """One agenda item as its source states it."""

    number: str
    title: str
    description: str
    documents: list[tuple[str, str]] = field(default_factory=list)  # (title, url as given)


@dataclass(slots=True)
class Draft:
    """One meeting as its source states it, before the checks every format shares."""

    position: int
    uid: str = ""
    title: str = ""
    link: str = ""
    body: str = ""  # as written, e.g. "BAC Landelijk Gebied"
    feed_body: str = ""  # the channel's or calendar's, for every meeting in it
    starts_at: datetime | None = None
    start_problem: str = "it has no date (no start time)"  # why starts_at is None
    all_day: bool = False
    ends_at: datetime | None = None
    location: str = ""
    status: str = ""
    items: list[DraftItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def subject(self) -> str:
        """The meeting as a problem names it: its title and date."""
        name = self.title or self.uid or f"meeting {self.position}"
        return problem_subject(name, self.starts_at, self.all_day)


def problem_subject(name: str, starts_at: datetime | None, all_day: bool) -> str:
    """How a problem names a meeting: its name (capped) and, when known, its date and time."""
    name = capped(name, _SUBJECT_LENGTH)
    if starts_at is None:
        return name
    return f"{name}, {short_date(starts_at)}" + ("" if all_day else f" {time_of_day(starts_at)}")


# --- times --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class When:
    """A start or end as a format reads it."""

    at: datetime  # aware UTC
    all_day: bool = False
    note: str | None = None  # what was assumed, as a warning


def amsterdam_time(value: date, note: str | None = None) -> When:
    """A date or a zone-less time as Dutch local time."""
    if not isinstance(value, datetime):
        return When(datetime.combine(value, time(0), tzinfo=AMSTERDAM).astimezone(UTC), True, note)
    return When(value.replace(tzinfo=AMSTERDAM).astimezone(UTC), False, note)


def set_start(draft: Draft, reader: Callable[[Any], When], value: Any, name: str) -> None:
    """The start as `reader` reads `value`; if it cannot, the reason the meeting is left out."""
    try:
        when = reader(value)
    except ValueError as exc:
        draft.start_problem = f"its start ({name}) is not understood: {exc}"
        return
    draft.starts_at, draft.all_day = when.at, when.all_day
    if when.note:
        draft.warnings.append(when.note)


def set_end(draft: Draft, reader: Callable[[Any], When], value: Any, name: str) -> None:
    """The end as `reader` reads `value`; one it cannot read is left out with a warning."""
    try:
        when = reader(value)
    except ValueError as exc:
        draft.warnings.append(f"its end ({name}) is not understood: {exc}; left out")
        return
    if when.all_day:  # a whole day says nothing about when the meeting ends
        return
    draft.ends_at = when.at
    if when.note and when.note not in draft.warnings:
        draft.warnings.append(when.note)


# --- from drafts to meetings --------------------------------------------------------------


def feed_from_drafts(source: SourceConfig, drafts: Iterable[Draft], now: datetime) -> MeetingFeed:
    """The meetings that pass the checks, and a Problem for every meeting left out or flawed."""
    feed = MeetingFeed(source.name)
    for draft in drafts:
        try:
            meeting = _meeting(draft, source, now)
        except LeftOut as out:
            feed.problems.append(
                Problem(source.name, f"meeting left out: {out}", subject=draft.subject, severity=out.severity)
            )
            continue
        feed.meetings.append(meeting)
        feed.problems += [
            Problem(source.name, warning, subject=draft.subject, severity=Severity.WARNING)
            for warning in draft.warnings
        ]
    return feed


def _meeting(draft: Draft, source: SourceConfig, now: datetime) -> Meeting:
    starts_at = draft.starts_at
    if starts_at is None:
        raise LeftOut(draft.start_problem)
    if _is_past(starts_at, draft.all_day, now):
        raise LeftOut("it is in the past; nothing to announce", Severity.WARNING)
    body = _body(draft, source)
    title = draft.title
    if not title:
        title = f"Vergadering {body.name}"
        draft.warnings.append(f"it has no title; '{title}' is used")
    return Meeting(
        uid=_uid(draft, body, starts_at),
        body=body.id,
        title=capped(title, _TEXT_LENGTH),
        starts_at=starts_at,
        ends_at=_checked_end(draft, starts_at),
        location=capped(draft.location, _TEXT_LENGTH) or None,
        status=_status(draft),
        items=_agenda(draft),
        url=_url(draft),
        source=source.name,
        all_day=draft.all_day,
    )


def _is_past(starts_at: datetime, all_day: bool, now: datetime) -> bool:
    if all_day:  # a meeting of today whose time is unknown may still be ahead
        return starts_at.astimezone(AMSTERDAM).date() < now.astimezone(AMSTERDAM).date()
    return starts_at < now


def _body(draft: Draft, source: SourceConfig) -> Body:
    text = draft.body or draft.feed_body or source.body or ""
    if not text:
        raise LeftOut(
            "no body: set `body` for this source in comms.toml, or give the meeting "
            "ipo:orgaan (RSS/Atom) or X-IPO-ORGAAN (iCalendar)"
        )
    body = body_by_name(text)
    if body is None:
        known = ", ".join(b.id for b in BODIES)
        raise LeftOut(f"unknown body '{capped(text, 60)}' (known: {known})")
    configured = body_by_name(source.body) if source.body else None
    if configured is not None and configured.id != body.id:
        draft.warnings.append(f"the feed says body {body.id}, comms.toml {configured.id}; {body.id} is used")
    return body


def _uid(draft: Draft, body: Body, starts_at: datetime) -> str:
    uid = draft.uid
    if not uid and draft.link:
        uid = draft.link
        draft.warnings.append("no guid/UID; identified by its link")
    if not uid:
        uid = f"{body.id}@{starts_at:%Y%m%dT%H%M%SZ}"
        draft.warnings.append(
            "no guid/UID and no link; identified by body and start, so a new time looks like a new meeting"
        )
    if len(uid) > _UID_LENGTH:  # keep it unique and stable, within the column
        uid = uid[: _UID_LENGTH - 17] + "#" + hashlib.sha256(uid.encode()).hexdigest()[:16]
    return uid


def _checked_end(draft: Draft, starts_at: datetime) -> datetime | None:
    if draft.ends_at is not None and draft.ends_at < starts_at:
        draft.warnings.append("it ends before it starts; the end time is left out")
        return None
    return draft.ends_at


def _status(draft: Draft) -> MeetingStatus:
    if not draft.status:
        return MeetingStatus.PLANNED
    status = _STATUS_WORDS.get(draft.status.casefold())
    if status is None:
        draft.warnings.append(
            f"status '{capped(draft.status, 40)}' not understood (gepland, gewijzigd, geannuleerd); "
            "taken as gepland"
        )
        return MeetingStatus.PLANNED
    return status


def _url(draft: Draft) -> str | None:
    if not draft.link:
        return None
    url = safe_link(draft.link)
    if url is None or len(url) > _URL_LENGTH:
        draft.warnings.append("its link is not a usable http(s) address; left out")
        return None
    return url


def _agenda(draft: Draft) -> tuple[AgendaItem, ...]:
    items: list[AgendaItem] = []
    for position, raw in enumerate(draft.items, start=1):
        number = raw.number
        if not raw.title:
            draft.warnings.append(f"agenda item {number or f'at place {position}'} has no title; left out")
            continue
        if not number:
            number = str(position)
            draft.warnings.append(f"agenda item '{capped(raw.title, 40)}' has no number; numbered {number}")
        if any(item.number == number for item in items):
            draft.warnings.append(f"agenda item number {number} is used twice")
        documents = tuple(_documents(draft, number, raw.documents))
        items.append(
            AgendaItem(
                number,
                capped(raw.title, _TEXT_LENGTH),
                capped(raw.description, _DESCRIPTION_LENGTH),
                documents,
            )
        )
    return tuple(items)


def _documents(draft: Draft, number: str, documents: list[tuple[str, str]]) -> Iterable[Document]:
    for title, raw_url in documents:
        url = safe_link(raw_url)
        if url is None or len(url) > _URL_LENGTH:
            name = capped(title or raw_url, 60) or "without a link"
            draft.warnings.append(f"document '{name}' of agenda item {number}: not an http(s) link; left out")
            continue
        yield Document(capped(title, _TEXT_LENGTH) or _file_name(url), url)


def _file_name(url: str) -> str:
    name = clean_text(unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]))
    return name or "Stuk"
