"""Meetings from an RSS 2.0 or Atom agenda feed, read with feedparser and ElementTree.

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

feedparser reads the standard elements, ElementTree the ipo: ones of the same entries. A feed
that is not well-formed XML, or declares a DOCTYPE (entities are refused), is refused whole:
a truncated agenda would otherwise look complete.
"""

from __future__ import annotations

import html.entities
import re
import xml.etree.ElementTree as ElementTree
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser

from comms.collect.feeds import base_headers, feed_error
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
from comms.problems import Problem, Severity

AGENDA_NS = "https://www.ipo.example.org/ns/agenda"
_NS = f"{{{AGENDA_NS}}}"
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
    parsed = feedparser.parse(content, sanitize_html=False, response_headers=base_headers(source))
    fatal = feed_error(source, content, parsed)
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
    feed = feed_from_drafts(source, drafts, now)
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


def _feed_draft(position: int, entry: Any, element: ElementTree.Element, feed_body: str) -> Draft:
    draft = Draft(
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
        set_start(draft, _text_time, start_text, "ipo:aanvang")
    end_text = clean_text(_child(element, "einde"))
    if end_text:
        set_end(draft, _text_time, end_text, "ipo:einde")
    return draft


def _feed_item(element: ElementTree.Element) -> DraftItem:
    documents = [
        (clean_text("".join(stuk.itertext())), (stuk.get("href") or "").strip())
        for stuk in element.findall(_NS + "stuk")
    ]
    return DraftItem(
        number=clean_text(element.get("nummer", "")),
        title=clean_text(_child(element, "titel")),
        description=clean_text(_child(element, "omschrijving")),
        documents=documents,
    )


def _text_time(text: str) -> When:
    """ISO 8601 ('2026-12-10T10:00:00+01:00', '2026-12-10') or RFC 822; ValueError otherwise."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return amsterdam_time(date.fromisoformat(text), DATE_ONLY)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        try:
            value = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"'{capped(text, 40)}' is not a date and time") from None
    if value.tzinfo is None or value.utcoffset() is None:
        return amsterdam_time(value, NO_ZONE)
    return When(value.astimezone(UTC))
