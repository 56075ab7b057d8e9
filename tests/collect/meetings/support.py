"""Builders of agenda feeds (RSS/Atom and iCalendar) and the meeting most tests expect from them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from comms.collect.meetings.model import AgendaItem, Document, Meeting, MeetingFeed, MeetingStatus
from comms.config import ItemKind, SourceConfig
from comms.dates import AMSTERDAM
from comms.problems import Problem

SAMPLE = Path(__file__).resolve().parents[3] / "sample" / "agenda"
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=AMSTERDAM)
BAC = SourceConfig("agenda-bac", "Agenda's BAC's", "bac.xml", "feed", ItemKind.MEETING)
BESTUUR = SourceConfig(
    "agenda-ipo-bestuur", "Agenda IPO-bestuur", "bestuur.xml", "feed", ItemKind.MEETING, body="ipo-bestuur"
)
AV = SourceConfig("agenda-av", "Agenda AV", "av.ics", "ical", ItemKind.MEETING, body="av")
NS = 'xmlns:ipo="https://www.ipo.example.org/ns/agenda"'
DOCS = "https://www.ipo.example.org/stukken"
LG = "Vergadering BAC Landelijk Gebied"  # the title of the meeting most tests use
KNOWN_BODIES = (
    "known: ipo-bestuur, bac-wonen-bereikbaarheid, bac-landelijk-gebied, bac-klimaat-leefomgeving, "
    "bac-ondernemen-cultuur, bac-financien-openbaar-bestuur, av"
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- building feeds -----------------------------------------------------------------------


def rss(*items: str, channel: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" {NS}>\n<channel>\n'
        f"<title>Agenda</title>\n{channel}\n" + "\n".join(items) + "\n</channel>\n</rss>\n"
    ).encode()


def punt(
    number: str | None = "1", title: str | None = "Opening", description: str = "", *stukken: str
) -> str:
    attribute = f' nummer="{number}"' if number is not None else ""
    parts = [
        f"<ipo:titel>{title}</ipo:titel>" if title is not None else "",
        f"<ipo:omschrijving>{description}</ipo:omschrijving>" if description else "",
        *stukken,
    ]
    return f"<ipo:agendapunt{attribute}>" + "".join(parts) + "</ipo:agendapunt>"


def stuk(title: str, href: str) -> str:
    return f'<ipo:stuk href="{href}">{title}</ipo:stuk>'


AGENDA = (
    punt("1", "Opening en vaststellen agenda"),
    punt(
        "2",
        "Stikstof: intern salderen",
        "Gezamenlijke lijn voor de vergunningverlening.",
        stuk("Notitie intern salderen", f"{DOCS}/intern-salderen.pdf"),
    ),
    punt("3", "Rondvraag en sluiting"),
)


def item(
    title: str | None = LG,
    guid: str | None = "bac-lg-2026-12-10@ipo.example.org",
    link: str | None = "https://www.ipo.example.org/vergaderingen/bac-lg/2026-12-10",
    body: str | None = "bac-landelijk-gebied",
    start: str | None = "2026-12-10T10:00:00+01:00",
    end: str | None = "2026-12-10T12:30:00+01:00",
    location: str | None = "Huis van de Provincies, Den Haag",
    status: str | None = "gepland",
    agenda: tuple[str, ...] = AGENDA,
) -> str:
    parts = [
        f"<title>{title}</title>" if title is not None else "",
        f"<link>{link}</link>" if link is not None else "",
        f'<guid isPermaLink="false">{guid}</guid>' if guid is not None else "",
        f"<ipo:orgaan>{body}</ipo:orgaan>" if body is not None else "",
        f"<ipo:aanvang>{start}</ipo:aanvang>" if start is not None else "",
        f"<ipo:einde>{end}</ipo:einde>" if end is not None else "",
        f"<ipo:locatie>{location}</ipo:locatie>" if location is not None else "",
        f"<ipo:status>{status}</ipo:status>" if status is not None else "",
        *agenda,
    ]
    return "<item>" + "\n".join(p for p in parts if p) + "</item>"


def atom(*entries: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" {NS}>\n'
        "<title>Agenda</title><id>urn:agenda</id><updated>2026-11-27T16:00:00Z</updated>\n"
        + "\n".join(entries)
        + "\n</feed>\n"
    ).encode()


VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/Amsterdam
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE"""


def ics(*events: str, header: tuple[str, ...] = ()) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//IPO//Test//NL", *header, VTIMEZONE, *events]
    return "\r\n".join([*lines, "END:VCALENDAR", ""]).replace("\r\n", "\n").replace("\n", "\r\n").encode()


ICS_AGENDA = (
    r"DESCRIPTION:1. Opening en vaststellen agenda\n2. Stikstof: intern salderen – Gezamenl"
    "\r\n ijke lijn voor de vergunningverlening.\\n3. Rondvraag en sluiting",
    f'ATTACH;X-AGENDAPUNT=2;X-TITLE="Notitie intern salderen":{DOCS}/intern-salderen.pdf',
)


def vevent(
    *lines: str,
    uid: str = "bac-lg-2026-12-10@ipo.example.org",
    summary: str | None = LG,
    start: str | None = "DTSTART;TZID=Europe/Amsterdam:20261210T100000",
    agenda: tuple[str, ...] = ICS_AGENDA,
) -> str:
    head = [f"UID:{uid}", f"SUMMARY:{summary}" if summary is not None else "", start or ""]
    return "\r\n".join(line for line in ["BEGIN:VEVENT", *head, *lines, *agenda, "END:VEVENT"] if line)


FULL_EVENT = vevent(
    "DTEND;TZID=Europe/Amsterdam:20261210T123000",
    "LOCATION:Huis van de Provincies\\, Den Haag",
    "URL:https://www.ipo.example.org/vergaderingen/bac-lg/2026-12-10",
    "X-IPO-ORGAAN:bac-landelijk-gebied",
    "STATUS:CONFIRMED",
    "SEQUENCE:3",
)


def only(feed: MeetingFeed) -> Meeting:
    assert len(feed.meetings) == 1, feed.problems
    return feed.meetings[0]


def texts(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


# --- the meeting every format gives -------------------------------------------------------

EXPECTED = Meeting(
    uid="bac-lg-2026-12-10@ipo.example.org",
    body="bac-landelijk-gebied",
    title=LG,
    starts_at=utc(2026, 12, 10, 9),
    ends_at=utc(2026, 12, 10, 11, 30),
    location="Huis van de Provincies, Den Haag",
    status=MeetingStatus.PLANNED,
    items=(
        AgendaItem("1", "Opening en vaststellen agenda", "", ()),
        AgendaItem(
            "2",
            "Stikstof: intern salderen",
            "Gezamenlijke lijn voor de vergunningverlening.",
            (Document("Notitie intern salderen", f"{DOCS}/intern-salderen.pdf"),),
        ),
        AgendaItem("3", "Rondvraag en sluiting", "", ()),
    ),
    url="https://www.ipo.example.org/vergaderingen/bac-lg/2026-12-10",
    source="agenda-bac",
)
ATOM_ENTRY = (
    f"<entry><title>{LG}</title><id>bac-lg-2026-12-10@ipo.example.org</id>"
    '<link rel="alternate" href="https://www.ipo.example.org/vergaderingen/bac-lg/2026-12-10"/>'
    "<updated>2026-11-27T16:00:00Z</updated>"
    + item(title=None, guid=None, link=None).removeprefix("<item>").removesuffix("</item>")
    + "</entry>"
)
DATED = f"{LG}, 10 december 2026 10.00 uur"  # EXPECTED as a problem names it


def meeting(**changes: object) -> Meeting:
    return dataclasses.replace(EXPECTED, **changes)  # type: ignore[arg-type]
