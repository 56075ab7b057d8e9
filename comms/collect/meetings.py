"""Meetings of the IPO-bestuur, the five BAC's and the AV, from the IPO's agenda feeds.

Two formats carry the same facts: RSS 2.0 (or Atom) with a small namespace, read with
feedparser, and iCalendar, read with icalendar. Every meeting comes out with its body,
start and end (aware UTC), location, status and agenda items; whatever is wrong with one
meeting is a Problem naming the source and the meeting, and only that meeting is lost.

RSS 2.0 (Atom alike: the same elements inside <entry>, with <id> and <link rel="alternate">)::

    <rss version="2.0" xmlns:ipo="https://www.ipo.example.org/ns/agenda">
      <channel>
        <title>Agenda BAC Landelijk Gebied</title>
        <ipo:orgaan>bac-landelijk-gebied</ipo:orgaan>      <!-- optional: body of every item -->
        <item>
          <title>Vergadering BAC Landelijk Gebied</title>
          <link>https://www.ipo.example.org/vergaderingen/bac-lg-2026-12-10</link>
          <guid isPermaLink="false">bac-lg-2026-12-10@ipo.example.org</guid>   <!-- the uid -->
          <ipo:orgaan>BAC Landelijk Gebied</ipo:orgaan>    <!-- optional: overrides the channel -->
          <ipo:aanvang>2026-12-10T10:00:00+01:00</ipo:aanvang>   <!-- ISO 8601, with offset -->
          <ipo:einde>2026-12-10T12:30:00+01:00</ipo:einde>       <!-- optional -->
          <ipo:locatie>IPO, Herengracht 23, Den Haag</ipo:locatie>
          <ipo:status>gepland</ipo:status>     <!-- gepland | gewijzigd | geannuleerd -->
          <ipo:agendapunt nummer="1">
            <ipo:titel>Opening en vaststellen agenda</ipo:titel>
            <ipo:omschrijving>Korte toelichting, platte tekst.</ipo:omschrijving>
            <ipo:stuk href="https://www.ipo.example.org/stukken/….pdf">Titel van het stuk</ipo:stuk>
          </ipo:agendapunt>
        </item>
      </channel>
    </rss>

iCalendar: one VEVENT per meeting. UID is the uid (SEQUENCE plays no part in identity);
SUMMARY the title; DTSTART/DTEND (with TZID=Europe/Amsterdam or in UTC); LOCATION; URL;
STATUS:CANCELLED for a cancelled meeting, X-IPO-STATUS:gewijzigd for a changed one;
X-IPO-ORGAAN the body (on the VEVENT, or once on the VCALENDAR for the whole file).
The agenda is the DESCRIPTION, one numbered line per item, "3. Titel – omschrijving"
(the first dash between blanks separates title and description; lines right below an
item continue its description; other lines are left out). Documents are ATTACH
properties: ``ATTACH;X-AGENDAPUNT=3;X-TITLE="Titel van het stuk":https://…``.

What counts for the body: the meeting's own statement, else the feed's, else the source's
`body` in comms.toml. Times without a zone are Dutch time (Europe/Amsterdam), with a
warning. A date without a time is kept as local midnight with `all_day` set: the meeting is
announced with its date, "time not yet known", instead of being lost. A meeting that
already started is left out with a warning: nothing to announce, not an error in the feed.
A feed that is not well-formed XML, or declares a DOCTYPE (entities are refused), is
refused whole: a truncated agenda would otherwise look complete.
"""

from __future__ import annotations

import hashlib
import html.entities
import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any
from urllib.parse import unquote, urlsplit

import feedparser
from icalendar import Calendar, Component

from comms.collect.calendar import _guid, _parser_reason, _prop, _text, _value
from comms.collect.feeds import _base, _feed_error
from comms.collect.items import SourceConfig
from comms.collect.sanitise import clean_text, safe_link
from comms.dates import AMSTERDAM, long_date, short_date, time_of_day
from comms.domain import BODIES, Body, body_by_name
from comms.problems import Problem, Severity

AGENDA_NS = "https://www.ipo.example.org/ns/agenda"
_NS = f"{{{AGENDA_NS}}}"
# Column sizes of the meeting ledger (PostgreSQL enforces them).
_UID_LENGTH = 300
_TEXT_LENGTH = 500
_URL_LENGTH = 2000
_DESCRIPTION_LENGTH = 2000
_SUBJECT_LENGTH = 80


class MeetingStatus(StrEnum):
    PLANNED = "planned"
    CHANGED = "changed"  # the IPO marked it changed (moved, agenda reissued)
    CANCELLED = "cancelled"


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
_STATUS_LABELS = {
    MeetingStatus.PLANNED: "gepland",
    MeetingStatus.CHANGED: "gewijzigd",
    MeetingStatus.CANCELLED: "geannuleerd",
}
CANCELLED_SENTENCE = "De vergadering is geannuleerd."


@dataclass(frozen=True, slots=True)
class Document:
    title: str
    url: str  # http(s) only


@dataclass(frozen=True, slots=True)
class AgendaItem:
    number: str  # as the agenda numbers it: "3", "4a"
    title: str
    description: str  # plain text on one line
    documents: tuple[Document, ...] = ()


@dataclass(frozen=True, slots=True)
class Meeting:
    """One meeting of an IPO body; every text is plain, single-line and safe in a mail header."""

    uid: str
    body: str  # a domain.BODIES id
    title: str
    starts_at: datetime  # aware UTC
    ends_at: datetime | None
    location: str | None
    status: MeetingStatus
    items: tuple[AgendaItem, ...]
    url: str | None
    source: str  # the configured source it came from; not part of the content
    all_day: bool = False  # only a date was given: starts_at is local midnight, show no time

    @property
    def is_cancelled(self) -> bool:
        return self.status is MeetingStatus.CANCELLED

    @property
    def body_name(self) -> str:
        return next((b.name for b in BODIES if b.id == self.body), self.body)

    @property
    def content_hash(self) -> str:
        """Changes whenever anything a recipient reads changes; the source does not count."""
        data = self._as_dict()
        del data["source"]
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_json(self) -> str:
        return json.dumps(self._as_dict(), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Meeting:
        """The inverse of to_json; raises ValueError, KeyError or TypeError on anything else."""
        data = json.loads(text)
        items = tuple(
            AgendaItem(
                number=item["number"],
                title=item["title"],
                description=item["description"],
                documents=tuple(Document(d["title"], d["url"]) for d in item["documents"]),
            )
            for item in data["items"]
        )
        return cls(
            uid=data["uid"],
            body=data["body"],
            title=data["title"],
            starts_at=_from_iso(data["starts_at"]),
            ends_at=_from_iso(data["ends_at"]) if data["ends_at"] else None,
            location=data["location"],
            status=MeetingStatus(data["status"]),
            items=items,
            url=data["url"],
            source=data["source"],
            all_day=bool(data.get("all_day", False)),
        )

    def changes_from(self, previous: Meeting) -> list[str]:
        """What a recipient of the previous version should know, in Dutch; [] when nothing."""
        return [
            *_status_changes(previous, self),
            *_time_changes(previous, self),
            *_text_changes(previous, self),
            *_agenda_changes(previous.items, self.items),
        ]

    def _as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["starts_at"] = self.starts_at.astimezone(UTC).isoformat()
        data["ends_at"] = self.ends_at.astimezone(UTC).isoformat() if self.ends_at else None
        data["status"] = self.status.value
        return data


def _from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass(slots=True)
class MeetingFeed:
    """The meetings of one source and what was wrong with it: feedparser's bozo, made explicit."""

    source: str
    meetings: list[Meeting] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def bozo(self) -> bool:
        return bool(self.problems)

    @property
    def is_broken(self) -> bool:
        """The source could not be read at all (an error not about one meeting)."""
        return any(p.is_error and p.subject is None for p in self.problems)


# --- what changed -------------------------------------------------------------------------


def _status_changes(old: Meeting, new: Meeting) -> list[str]:
    if new.is_cancelled and not old.is_cancelled:
        return [CANCELLED_SENTENCE]
    if old.is_cancelled and not new.is_cancelled:
        return ["De annulering is ingetrokken: de vergadering gaat door."]
    if old.status is not new.status:
        return [f"Status gewijzigd: van {_STATUS_LABELS[old.status]} naar {_STATUS_LABELS[new.status]}"]
    return []


def _time_changes(old: Meeting, new: Meeting) -> list[str]:
    sentences = []
    if (old.starts_at, old.all_day) != (new.starts_at, new.all_day):
        sentences.append(
            f"Aanvang gewijzigd: van {_moment(old.starts_at, old.all_day)} "
            f"naar {_moment(new.starts_at, new.all_day)}"
        )
    if old.ends_at != new.ends_at:
        before, after = _end(old), _end(new)
        if before is None:
            sentences.append(f"Eindtijd toegevoegd: {after}")
        elif after is None:
            sentences.append(f"Eindtijd vervallen (was {before})")
        else:
            sentences.append(f"Einde gewijzigd: van {before} naar {after}")
    return sentences


def _moment(moment: datetime, all_day: bool) -> str:
    if all_day:
        return f"{long_date(moment)} (tijd nog niet bekend)"
    return f"{long_date(moment)} {time_of_day(moment)}"


def _end(meeting: Meeting) -> str | None:
    # The time alone when the meeting ends on the day it starts, as the agenda says it.
    if meeting.ends_at is None:
        return None
    if long_date(meeting.ends_at) == long_date(meeting.starts_at):
        return time_of_day(meeting.ends_at)
    return _moment(meeting.ends_at, all_day=False)


def _text_changes(old: Meeting, new: Meeting) -> list[str]:
    sentences = []
    if old.location != new.location:
        if not old.location:
            sentences.append(f"Locatie toegevoegd: {new.location}")
        elif not new.location:
            sentences.append(f"Locatie vervallen (was: {old.location})")
        else:
            sentences.append(f"Locatie gewijzigd: van {old.location} naar {new.location}")
    if old.title != new.title:
        sentences.append(f"Titel gewijzigd: van {old.title} naar {new.title}")
    if old.body != new.body:
        sentences.append(f"Orgaan gewijzigd: van {old.body_name} naar {new.body_name}")
    if old.url != new.url:
        sentences.append(f"Vergaderpagina gewijzigd: {new.url}" if new.url else "Vergaderpagina vervallen")
    return sentences


def _agenda_changes(old: tuple[AgendaItem, ...], new: tuple[AgendaItem, ...]) -> list[str]:
    """Items are paired by title first (so a renumbering is not a dozen changes), then by number."""
    pairs, added, removed = _pair_items(old, new)
    lines: list[tuple[tuple, str]] = []
    for before, after in pairs:
        key = _number_key(after.number)
        if (before.title, before.description) != (after.title, after.description):
            lines.append((key, f"Agendapunt {after.number} gewijzigd: {after.title}"))
        if before.documents != after.documents:
            lines.append((key, f"Stukken bij agendapunt {after.number} gewijzigd"))
    lines += [(_number_key(i.number), f"Agendapunt {i.number} toegevoegd: {i.title}") for i in added]
    lines += [(_number_key(i.number), f"Agendapunt {i.number} vervallen: {i.title}") for i in removed]
    sentences = [text for _, text in sorted(lines, key=lambda line: line[0])]
    if any(before.number != after.number for before, after in pairs):
        sentences.append("De nummering van de agendapunten is gewijzigd.")
    elif not sentences and old != new:
        sentences.append("De volgorde van de agendapunten is gewijzigd.")
    return sentences


def _pair_items(
    old: tuple[AgendaItem, ...], new: tuple[AgendaItem, ...]
) -> tuple[list[tuple[AgendaItem, AgendaItem]], list[AgendaItem], list[AgendaItem]]:
    """Pairs (old, new), then the new items left over (added) and the old ones (removed)."""
    left, right = list(old), list(new)
    pairs = []
    for key in (_title_key, _number_of):
        before, after = _unique_index(left, key), _unique_index(right, key)
        for found in [k for k in after if k in before]:
            pairs.append((before[found], after[found]))
            left.remove(before[found])
            right.remove(after[found])
    return pairs, right, left


def _title_key(item: AgendaItem) -> str:
    return item.title.casefold()


def _number_of(item: AgendaItem) -> str:
    return item.number


def _unique_index(items: list[AgendaItem], key: Callable[[AgendaItem], str]) -> dict[str, AgendaItem]:
    """Items by key, leaving out keys that occur twice: those cannot be paired with certainty."""
    keys = [key(item) for item in items]
    return {k: item for k, item in zip(keys, items, strict=True) if keys.count(k) == 1}


def _number_key(number: str) -> tuple:
    """Natural order: 2 < 4a < 10."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.findall(r"\d+|\D+", number)
    )


# --- what every format shares -------------------------------------------------------------


class _LeftOut(Exception):
    """Raised inside this module only: the meeting is left out, for the reason given."""

    def __init__(self, reason: str, severity: Severity = Severity.ERROR):
        super().__init__(reason)
        self.severity = severity


@dataclass(slots=True)
class _DraftItem:
    number: str
    title: str
    description: str
    documents: list[tuple[str, str]] = field(default_factory=list)  # (title, url as given)


@dataclass(slots=True)
class _Draft:
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
    items: list[_DraftItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def subject(self) -> str:
        """The meeting as a problem names it: its title and date."""
        name = self.title or self.uid or f"meeting {self.position}"
        return _subject(name, self.starts_at, self.all_day)


def _subject(name: str, starts_at: datetime | None, all_day: bool) -> str:
    name = _cap(name, _SUBJECT_LENGTH)
    if starts_at is None:
        return name
    return f"{name}, {short_date(starts_at)}" + ("" if all_day else f" {time_of_day(starts_at)}")


def _cap(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


_DATE_ONLY = "only a date, no start time: announced without a time"
_NO_ZONE = "its time has no time zone; taken as Europe/Amsterdam"


@dataclass(frozen=True, slots=True)
class _When:
    at: datetime  # aware UTC
    all_day: bool = False
    note: str | None = None  # what was assumed, as a warning


def _local(value: date, note: str | None = None) -> _When:
    """A date or a zone-less time as Dutch local time."""
    if not isinstance(value, datetime):
        return _When(datetime.combine(value, time(0), tzinfo=AMSTERDAM).astimezone(UTC), True, note)
    return _When(value.replace(tzinfo=AMSTERDAM).astimezone(UTC), False, note)


def _feed_of(source: SourceConfig, drafts: Iterable[_Draft], now: datetime) -> MeetingFeed:
    feed = MeetingFeed(source.name)
    for draft in drafts:
        try:
            meeting = _meeting(draft, source, now)
        except _LeftOut as out:
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


def _meeting(draft: _Draft, source: SourceConfig, now: datetime) -> Meeting:
    starts_at = draft.starts_at
    if starts_at is None:
        raise _LeftOut(draft.start_problem)
    if _is_past(starts_at, draft.all_day, now):
        raise _LeftOut("it is in the past; nothing to announce", Severity.WARNING)
    body = _body(draft, source)
    title = draft.title
    if not title:
        title = f"Vergadering {body.name}"
        draft.warnings.append(f"it has no title; '{title}' is used")
    return Meeting(
        uid=_uid(draft, body, starts_at),
        body=body.id,
        title=_cap(title, _TEXT_LENGTH),
        starts_at=starts_at,
        ends_at=_checked_end(draft, starts_at),
        location=_cap(draft.location, _TEXT_LENGTH) or None,
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


def _body(draft: _Draft, source: SourceConfig) -> Body:
    text = draft.body or draft.feed_body or source.body or ""
    if not text:
        raise _LeftOut(
            "no body: set `body` for this source in comms.toml, or give the meeting "
            "ipo:orgaan (RSS/Atom) or X-IPO-ORGAAN (iCalendar)"
        )
    body = body_by_name(text)
    if body is None:
        known = ", ".join(b.id for b in BODIES)
        raise _LeftOut(f"unknown body '{_cap(text, 60)}' (known: {known})")
    configured = body_by_name(source.body) if source.body else None
    if configured is not None and configured.id != body.id:
        draft.warnings.append(f"the feed says body {body.id}, comms.toml {configured.id}; {body.id} is used")
    return body


def _uid(draft: _Draft, body: Body, starts_at: datetime) -> str:
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


def _checked_end(draft: _Draft, starts_at: datetime) -> datetime | None:
    if draft.ends_at is not None and draft.ends_at < starts_at:
        draft.warnings.append("it ends before it starts; the end time is left out")
        return None
    return draft.ends_at


def _status(draft: _Draft) -> MeetingStatus:
    if not draft.status:
        return MeetingStatus.PLANNED
    status = _STATUS_WORDS.get(draft.status.casefold())
    if status is None:
        draft.warnings.append(
            f"status '{_cap(draft.status, 40)}' not understood (gepland, gewijzigd, geannuleerd); "
            "taken as gepland"
        )
        return MeetingStatus.PLANNED
    return status


def _url(draft: _Draft) -> str | None:
    if not draft.link:
        return None
    url = safe_link(draft.link)
    if url is None or len(url) > _URL_LENGTH:
        draft.warnings.append("its link is not a usable http(s) address; left out")
        return None
    return url


def _agenda(draft: _Draft) -> tuple[AgendaItem, ...]:
    items: list[AgendaItem] = []
    for position, raw in enumerate(draft.items, start=1):
        number = raw.number
        if not raw.title:
            draft.warnings.append(f"agenda item {number or f'at place {position}'} has no title; left out")
            continue
        if not number:
            number = str(position)
            draft.warnings.append(f"agenda item '{_cap(raw.title, 40)}' has no number; numbered {number}")
        if any(item.number == number for item in items):
            draft.warnings.append(f"agenda item number {number} is used twice")
        documents = tuple(_documents(draft, number, raw.documents))
        items.append(
            AgendaItem(
                number, _cap(raw.title, _TEXT_LENGTH), _cap(raw.description, _DESCRIPTION_LENGTH), documents
            )
        )
    return tuple(items)


def _documents(draft: _Draft, number: str, documents: list[tuple[str, str]]) -> Iterable[Document]:
    for title, raw_url in documents:
        url = safe_link(raw_url)
        if url is None or len(url) > _URL_LENGTH:
            name = _cap(title or raw_url, 60) or "without a link"
            draft.warnings.append(f"document '{name}' of agenda item {number}: not an http(s) link; left out")
            continue
        yield Document(_cap(title, _TEXT_LENGTH) or _file_name(url), url)


def _file_name(url: str) -> str:
    name = clean_text(unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]))
    return name or "Stuk"


# --- RSS 2.0 and Atom ---------------------------------------------------------------------

_ENTRY_TAGS = frozenset({"item", "{http://www.w3.org/2005/Atom}entry", "{http://purl.org/rss/1.0/}item"})
_DECLARATIONS = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_ENTITY = re.compile(rb"&([A-Za-z][A-Za-z0-9]{0,31});")
_XML_ENTITIES = frozenset({b"amp", b"lt", b"gt", b"quot", b"apos"})
_XML_DECLARATION = re.compile(r"^\ufeff?\s*<\?xml[^>]*\?>")


def parse_meeting_feed(content: bytes, source: SourceConfig, now: datetime) -> MeetingFeed:
    """Meetings of an RSS or Atom agenda feed; a feed that is not well-formed gives one error."""
    refused = _refusal(content, "feed")
    if refused:
        return MeetingFeed(source.name, problems=[Problem(source.name, refused)])
    content, entities = _numeric_entities(content)
    parsed = feedparser.parse(content, sanitize_html=False, response_headers=_base(source))
    fatal = _feed_error(source, content, parsed)
    if fatal is not None:
        return MeetingFeed(source.name, problems=[fatal])
    try:
        root = ElementTree.fromstring(_XML_DECLARATION.sub("", _decoded(content, parsed)))
    except ElementTree.ParseError as exc:
        return MeetingFeed(source.name, problems=[Problem(source.name, f"not well-formed XML: {exc}")])
    elements = [element for element in root.iter() if element.tag in _ENTRY_TAGS]
    if len(elements) != len(parsed.entries):
        reason = f"{len(parsed.entries)} entries found, but {len(elements)} <item> or <entry> elements"
        return MeetingFeed(source.name, problems=[Problem(source.name, reason)])
    feed_body = _feed_body(root)
    drafts = (
        _feed_draft(position, entry, element, feed_body)
        for position, (entry, element) in enumerate(zip(parsed.entries, elements, strict=True), start=1)
    )
    feed = _feed_of(source, drafts, now)
    if entities:
        names = ", ".join(f"&{name};" for name in entities)
        feed.problems.insert(
            0,
            Problem(
                source.name,
                f"HTML entities are not XML ({names}); read as the characters they stand for",
                severity=Severity.WARNING,
            ),
        )
    return feed


def _refusal(content: bytes, what: str) -> str | None:
    if not content.strip():
        return f"the {what} is empty"
    if _DECLARATIONS.search(content):
        return f"the {what} declares a DOCTYPE or entities; refused (not allowed in an agenda feed)"
    return None


def _numeric_entities(content: bytes) -> tuple[bytes, list[str]]:
    """`&nbsp;` and friends as character references, which XML parsers accept; and which were found."""
    found: set[str] = set()

    def replace(match: re.Match[bytes]) -> bytes:
        name = match.group(1)
        text = html.entities.html5.get(name.decode() + ";")
        if name in _XML_ENTITIES or text is None:
            return match.group(0)
        found.add(name.decode())
        return "".join(f"&#{ord(char)};" for char in text).encode()

    return _ENTITY.sub(replace, content), sorted(found)


def _decoded(content: bytes, parsed: Any) -> str:
    # feedparser found the encoding (a cp1252 feed too, which expat cannot read itself).
    encoding = parsed.get("encoding") or "utf-8"
    try:
        return content.decode(encoding, errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")


def _child(element: ElementTree.Element, name: str) -> str:
    child = element.find(_NS + name)
    return "" if child is None else "".join(child.itertext())


def _feed_body(root: ElementTree.Element) -> str:
    channel = root.find("channel")
    container = root if channel is None else channel
    return clean_text(_child(container, "orgaan"))


def _feed_draft(position: int, entry: Any, element: ElementTree.Element, feed_body: str) -> _Draft:
    draft = _Draft(
        position,
        uid=clean_text(entry.get("id", "")),
        title=clean_text(entry.get("title", "")),
        link=(entry.get("link") or "").strip(),
        body=clean_text(_child(element, "orgaan")),
        feed_body=feed_body,
        location=clean_text(_child(element, "locatie")),
        status=clean_text(_child(element, "status")),
        items=[_feed_item(item) for item in element.findall(_NS + "agendapunt")],
    )
    start_text = clean_text(_child(element, "aanvang"))
    if start_text:
        _set_start(draft, _text_time, start_text, "ipo:aanvang")
    end_text = clean_text(_child(element, "einde"))
    if end_text:
        _set_end(draft, _text_time, end_text, "ipo:einde")
    return draft


def _feed_item(element: ElementTree.Element) -> _DraftItem:
    documents = [
        (clean_text("".join(stuk.itertext())), (stuk.get("href") or "").strip())
        for stuk in element.findall(_NS + "stuk")
    ]
    return _DraftItem(
        number=clean_text(element.get("nummer", "")),
        title=clean_text(_child(element, "titel")),
        description=clean_text(_child(element, "omschrijving")),
        documents=documents,
    )


def _text_time(text: str) -> _When:
    """ISO 8601 ('2026-12-10T10:00:00+01:00', '2026-12-10') or RFC 822; ValueError otherwise."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return _local(date.fromisoformat(text), _DATE_ONLY)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        try:
            value = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"'{_cap(text, 40)}' is not a date and time") from None
    if value.tzinfo is None or value.utcoffset() is None:
        return _local(value, _NO_ZONE)
    return _When(value.astimezone(UTC))


def _set_start(draft: _Draft, reader: Callable[[Any], _When], value: Any, name: str) -> None:
    try:
        when = reader(value)
    except ValueError as exc:
        draft.start_problem = f"its start ({name}) is not understood: {exc}"
        return
    draft.starts_at, draft.all_day = when.at, when.all_day
    if when.note:
        draft.warnings.append(when.note)


def _set_end(draft: _Draft, reader: Callable[[Any], _When], value: Any, name: str) -> None:
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


# --- iCalendar ----------------------------------------------------------------------------


def parse_meeting_calendar(content: bytes, source: SourceConfig, now: datetime) -> MeetingFeed:
    """Meetings of an iCalendar file, one per VEVENT; an unreadable file gives one error."""
    if not content.strip():
        return MeetingFeed(source.name, problems=[Problem(source.name, "the calendar file is empty")])
    try:
        calendar = Calendar.from_ical(content)
    except ValueError as exc:
        reason, line = _parser_reason(str(exc), content)
        problem = Problem(source.name, f"not a valid iCalendar file: {reason}", line=line)
        return MeetingFeed(source.name, problems=[problem])
    if calendar.name != "VCALENDAR":
        problem = Problem(source.name, "not a valid iCalendar file: it has no VCALENDAR")
        return MeetingFeed(source.name, problems=[problem])
    feed_body = clean_text(_text(calendar, "X-IPO-ORGAAN"))
    drafts = (
        _calendar_draft(position, event, feed_body)
        for position, event in enumerate(calendar.walk("VEVENT"), start=1)
    )
    return _feed_of(source, drafts, now)


def _calendar_draft(position: int, event: Component, feed_body: str) -> _Draft:
    status = _text(event, "STATUS").strip()
    if status.upper() != "CANCELLED":  # STATUS:CANCELLED wins; else the IPO's own word, if any
        status = _text(event, "X-IPO-STATUS") or status
    draft = _Draft(
        position,
        uid=_guid(event) or "",
        title=clean_text(_text(event, "SUMMARY")),
        link=_text(event, "URL").strip(),
        body=clean_text(_text(event, "X-IPO-ORGAAN")),
        feed_body=feed_body,
        location=clean_text(_text(event, "LOCATION")),
        status=clean_text(status),
        items=_description_items(_text(event, "DESCRIPTION")),
    )
    start = _prop(event, "DTSTART")
    if start is not None:
        _set_start(draft, _calendar_time, start, "DTSTART")
    _set_calendar_end(draft, event)
    if "RRULE" in event:
        draft.warnings.append("a repeating event: only its first date is used")
    _attach_documents(draft, event)
    return draft


def _set_calendar_end(draft: _Draft, event: Component) -> None:
    end = _prop(event, "DTEND")
    if end is not None:
        _set_end(draft, _calendar_time, end, "DTEND")
        return
    duration = _value(_prop(event, "DURATION"))
    if draft.starts_at is not None and not draft.all_day and isinstance(duration, timedelta):
        draft.ends_at = draft.starts_at + duration


def _calendar_time(prop: Any) -> _When:
    value = _value(prop)
    if not isinstance(value, date):  # unparsable, or a bare TIME or a PERIOD
        raise ValueError(f"'{_cap(clean_text(str(prop)), 40)}' is not a date or time")
    if not isinstance(value, datetime):
        return _local(value, _DATE_ONLY)
    if value.tzinfo is not None and value.utcoffset() is not None:
        return _When(value.astimezone(UTC))
    tzid = prop.params.get("TZID")
    if tzid:
        return _local(value, f"unknown time zone '{_cap(clean_text(tzid), 40)}'; taken as Europe/Amsterdam")
    return _local(value, _NO_ZONE)


_NUMBERED = re.compile(r"^\s*(\d{1,3}[a-z]?)[.)](?:\s+(.*))?$")
_DASH = re.compile(r"\s+[–—-]\s+|^[–—-]\s+")


def _description_items(text: str) -> list[_DraftItem]:
    """'3. Titel – omschrijving' lines; lines right below an item continue its description."""
    items: list[_DraftItem] = []
    open_item: _DraftItem | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        numbered = _NUMBERED.match(line)
        if numbered:
            title, _, description = _DASH.sub("\x00", numbered.group(2) or "", count=1).partition("\x00")
            open_item = _DraftItem(numbered.group(1), clean_text(title), clean_text(description))
            items.append(open_item)
        elif not line.strip():
            open_item = None  # a blank line ends the item; what follows is not part of it
        elif open_item is not None:
            open_item.description = f"{open_item.description} {clean_text(line)}".strip()
    return items


def _attach_documents(draft: _Draft, event: Component) -> None:
    attachments = event.get("ATTACH") or []
    by_number = {item.number: item for item in draft.items}
    for prop in attachments if isinstance(attachments, list) else [attachments]:
        number = clean_text(str(prop.params.get("X-AGENDAPUNT", "")))
        title = clean_text(str(prop.params.get("X-TITLE", "")))
        name = _cap(title or str(prop), 60)
        item = by_number.get(number)
        if item is None:
            where = f"agenda item {number}, which is not on the agenda" if number else "no X-AGENDAPUNT"
            draft.warnings.append(f"document '{name}': {where}; left out")
            continue
        item.documents.append((title, str(prop)))


# --- across feeds -------------------------------------------------------------------------


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
    return _subject(meeting.title, meeting.starts_at, meeting.all_day)
