"""Meeting sources: the agenda feeds (RSS/Atom and iCalendar) as Meetings, bad input as Problems."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from comms.collect.items import ItemKind, SourceConfig
from comms.collect.meetings import (
    AgendaItem,
    Document,
    Meeting,
    MeetingFeed,
    MeetingStatus,
    merge_feeds,
    parse_meeting_calendar,
    parse_meeting_feed,
)
from comms.config import load_config
from comms.dates import AMSTERDAM
from comms.problems import Problem, Severity

SAMPLE = Path(__file__).resolve().parents[2] / "sample" / "agenda"
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


# --- the three formats --------------------------------------------------------------------

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


@pytest.mark.parametrize(
    ("parse", "content"),
    [
        pytest.param(parse_meeting_feed, rss(item()), id="RSS"),
        pytest.param(parse_meeting_feed, atom(ATOM_ENTRY), id="Atom"),
        pytest.param(parse_meeting_calendar, ics(FULL_EVENT), id="iCalendar"),
    ],
)
def test_every_format_gives_the_same_meeting(parse, content: bytes) -> None:  # type: ignore[no-untyped-def]
    feed = parse(content, BAC, NOW)

    assert feed.problems == []
    assert not feed.bozo
    assert only(feed) == EXPECTED
    assert EXPECTED.starts_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("filename", "source", "count"),
    [
        ("ipo-bestuur.xml", BESTUUR, 5),
        ("bac.xml", BAC, 8),
        ("bac-ondernemen-cultuur.xml", BAC, 2),
        ("av.ics", AV, 2),
    ],
)
def test_sample_feeds_parse_cleanly(filename: str, source: SourceConfig, count: int) -> None:
    parse = parse_meeting_calendar if filename.endswith(".ics") else parse_meeting_feed

    feed = parse((SAMPLE / filename).read_bytes(), source, NOW)

    assert feed.problems == []
    assert len(feed.meetings) == count
    assert all(m.items or m.is_cancelled for m in feed.meetings)


def test_samples_cross_the_change_to_summer_time() -> None:
    feed = parse_meeting_feed((SAMPLE / "ipo-bestuur.xml").read_bytes(), BESTUUR, NOW)
    starts = {m.uid.split("@")[0]: m.starts_at for m in feed.meetings}

    # 13.00 uur Dutch time on both sides of 28 March 2027
    assert starts["ipo-bestuur-2027-03-25"] == utc(2027, 3, 25, 12)
    assert starts["ipo-bestuur-2027-04-22"] == utc(2027, 4, 22, 11)


@pytest.mark.parametrize(
    ("start", "expected", "all_day", "warnings"),
    [
        pytest.param("2026-12-10T10:00:00+01:00", utc(2026, 12, 10, 9), False, [], id="offset"),
        pytest.param("2026-12-10T09:00:00Z", utc(2026, 12, 10, 9), False, [], id="Z"),
        pytest.param("Thu, 10 Dec 2026 10:00:00 +0100", utc(2026, 12, 10, 9), False, [], id="RFC 822"),
        pytest.param(
            "2026-12-10T10:00",
            utc(2026, 12, 10, 9),
            False,
            ["its time has no time zone; taken as Europe/Amsterdam"],
            id="no zone, winter",
        ),
        pytest.param(
            "2027-04-01T10:00:00",
            utc(2027, 4, 1, 8),
            False,
            ["its time has no time zone; taken as Europe/Amsterdam"],
            id="no zone, summer",
        ),
        pytest.param(
            "2026-12-10",
            utc(2026, 12, 9, 23),
            True,
            ["only a date, no start time: announced without a time"],
            id="date only",
        ),
    ],
)
def test_feed_times_become_utc(start: str, expected: datetime, all_day: bool, warnings: list[str]) -> None:
    feed = parse_meeting_feed(rss(item(start=start, end=None)), BAC, NOW)

    meeting = only(feed)
    assert (meeting.starts_at, meeting.all_day) == (expected, all_day)
    assert [(p.reason, p.severity) for p in feed.problems] == [(w, Severity.WARNING) for w in warnings]


@pytest.mark.parametrize(
    ("dtstart", "expected", "all_day", "warning"),
    [
        pytest.param(
            "DTSTART;TZID=Europe/Amsterdam:20261210T100000", utc(2026, 12, 10, 9), False, None, id="TZID"
        ),
        pytest.param("DTSTART:20261210T090000Z", utc(2026, 12, 10, 9), False, None, id="UTC"),
        pytest.param(
            "DTSTART:20261210T100000",
            utc(2026, 12, 10, 9),
            False,
            "its time has no time zone; taken as Europe/Amsterdam",
            id="floating",
        ),
        pytest.param(
            "DTSTART;TZID=Mars/Olympus:20261210T100000",
            utc(2026, 12, 10, 9),
            False,
            "unknown time zone 'Mars/Olympus'; taken as Europe/Amsterdam",
            id="unknown zone",
        ),
        pytest.param(
            "DTSTART;VALUE=DATE:20261210",
            utc(2026, 12, 9, 23),
            True,
            "only a date, no start time: announced without a time",
            id="date only",
        ),
    ],
)
def test_calendar_times_become_utc(
    dtstart: str, expected: datetime, all_day: bool, warning: str | None
) -> None:
    feed = parse_meeting_calendar(ics(vevent(start=dtstart)), AV, NOW)

    meeting = only(feed)
    assert (meeting.starts_at, meeting.all_day) == (expected, all_day)
    assert [p.reason for p in feed.problems] == ([warning] if warning else [])


def test_a_cancelled_calendar_event_is_a_cancelled_meeting_and_sequence_is_not_identity() -> None:
    first = only(parse_meeting_calendar(ics(vevent("SEQUENCE:1")), AV, NOW))
    cancelled = only(parse_meeting_calendar(ics(vevent("SEQUENCE:2", "STATUS:CANCELLED")), AV, NOW))

    assert cancelled.is_cancelled and not first.is_cancelled
    assert cancelled.uid == first.uid
    assert cancelled.content_hash != first.content_hash


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("gepland", MeetingStatus.PLANNED),
        ("Gewijzigd", MeetingStatus.CHANGED),
        ("geannuleerd", MeetingStatus.CANCELLED),
        ("cancelled", MeetingStatus.CANCELLED),
        (None, MeetingStatus.PLANNED),
    ],
)
def test_feed_status(status: str | None, expected: MeetingStatus) -> None:
    meeting = only(parse_meeting_feed(rss(item(status=status)), BAC, NOW))

    assert meeting.status is expected
    assert meeting.is_cancelled is (expected is MeetingStatus.CANCELLED)


@pytest.mark.parametrize(
    ("channel", "body", "source", "expected"),
    [
        pytest.param("", "BAC Landelijk Gebied", BAC, "bac-landelijk-gebied", id="item names it"),
        pytest.param("<ipo:orgaan>AV</ipo:orgaan>", None, BAC, "av", id="channel names it"),
        pytest.param("", None, BESTUUR, "ipo-bestuur", id="comms.toml names it"),
        pytest.param(
            "<ipo:orgaan>AV</ipo:orgaan>", "Landelijk Gebied", BAC, "bac-landelijk-gebied", id="item wins"
        ),
    ],
)
def test_the_body_comes_from_the_meeting_the_feed_or_the_configuration(
    channel: str, body: str | None, source: SourceConfig, expected: str
) -> None:
    meeting = only(parse_meeting_feed(rss(item(body=body), channel=channel), source, NOW))

    assert meeting.body == expected


def test_the_calendar_names_the_body_once_for_all_its_events() -> None:
    feed = parse_meeting_calendar(ics(vevent(), header=("X-IPO-ORGAAN:Algemene Vergadering",)), BAC, NOW)

    assert only(feed).body == "av"


def test_titles_and_descriptions_are_plain_single_line_text() -> None:
    agenda = (
        punt("1", "Opening &lt;b&gt;nu&lt;/b&gt;", "Tekst&lt;script&gt;alert(1)&lt;/script&gt; met\nregels"),
    )
    entry = item(title="Vergadering\r\nBcc: iedereen@example.org", location="Zaal&#9;&#10;1", agenda=agenda)

    meeting = only(parse_meeting_feed(rss(entry), BAC, NOW))

    assert meeting.title == "Vergadering Bcc: iedereen@example.org"
    assert meeting.location == "Zaal 1"
    assert meeting.items[0].title == "Opening nu"
    assert meeting.items[0].description == "Tekst met regels"


def test_calendar_description_lines_make_the_agenda() -> None:
    description = (
        r"DESCRIPTION:Agenda van de vergadering.\n\n1. Opening\n"
        r"2) Begroting 2027 - Besluit over de begroting\nmet de meerjarenraming.\n"
        r"4a. Position paper — Bespreken\n\nDe vergadering is openbaar.\nAanmelden via de griffie."
    )
    attach = f'ATTACH;X-AGENDAPUNT=4a;X-TITLE="Position paper":{DOCS}/pp.pdf'

    meeting = only(parse_meeting_calendar(ics(vevent(agenda=(description, attach))), AV, NOW))

    assert meeting.items == (
        AgendaItem("1", "Opening", "", ()),
        AgendaItem("2", "Begroting 2027", "Besluit over de begroting met de meerjarenraming.", ()),
        AgendaItem("4a", "Position paper", "Bespreken", (Document("Position paper", f"{DOCS}/pp.pdf"),)),
    )


def test_an_html_entity_is_tolerated_and_reported() -> None:
    feed = parse_meeting_feed(rss(item(title="Vergadering&nbsp;BAC")), BAC, NOW)

    assert only(feed).title == "Vergadering BAC"  # one line, blanks folded
    assert texts(feed.problems) == [
        "agenda-bac: HTML entities are not XML (&nbsp;); read as the characters they stand for"
    ]
    assert not feed.is_broken


def test_a_feed_in_another_encoding_is_read() -> None:
    content = rss(item(location="Provinciehuis Fryslân")).replace(b"UTF-8", b"windows-1252")
    content = content.decode().encode("cp1252")

    assert only(parse_meeting_feed(content, BAC, NOW)).location == "Provinciehuis Fryslân"


# --- bad input ----------------------------------------------------------------------------

TRUNCATED = rss(item())[:-40]
TRUNCATED_LINE = TRUNCATED.count(b"\n") + 1

DATED = f"{LG}, 10 december 2026 10.00 uur"


@pytest.mark.parametrize(
    ("entry", "expected", "severity"),
    [
        pytest.param(
            item(start=None),
            f"agenda-bac [{LG}]: meeting left out: it has no date (no start time)",
            Severity.ERROR,
            id="no date",
        ),
        pytest.param(
            item(start="binnenkort"),
            f"agenda-bac [{LG}]: meeting left out: its start (ipo:aanvang) is not understood: "
            "'binnenkort' is not a date and time",
            Severity.ERROR,
            id="unreadable date",
        ),
        pytest.param(
            item(start="2026-11-12T10:00:00+01:00", end=None),
            f"agenda-bac [{LG}, 12 november 2026 10.00 uur]: meeting left out: it is in the past; "
            "nothing to announce",
            Severity.WARNING,
            id="date in the past",
        ),
        pytest.param(
            item(body="BAC Digitalisering"),
            f"agenda-bac [{DATED}]: meeting left out: unknown body 'BAC Digitalisering' ({KNOWN_BODIES})",
            Severity.ERROR,
            id="unknown body",
        ),
        pytest.param(
            item(body=None),
            f"agenda-bac [{DATED}]: meeting left out: no body: set `body` for this source in comms.toml, "
            "or give the meeting ipo:orgaan (RSS/Atom) or X-IPO-ORGAAN (iCalendar)",
            Severity.ERROR,
            id="no body",
        ),
    ],
)
def test_a_bad_meeting_is_left_out_and_the_others_still_go(
    entry: str, expected: str, severity: Severity
) -> None:
    good = item(guid="bac-lg-2027-02-10", start="2027-02-10T13:30:00+01:00", end=None)

    feed = parse_meeting_feed(rss(entry, good), BAC, NOW)

    assert [m.uid for m in feed.meetings] == ["bac-lg-2027-02-10"]
    assert texts(feed.problems) == [expected]
    assert feed.problems[0].severity is severity
    assert feed.bozo and not feed.is_broken


@pytest.mark.parametrize(
    ("entry", "warning"),
    [
        pytest.param(
            item(
                agenda=(
                    punt("1", "Opening"),
                    punt("2", None, "Alleen een omschrijving"),
                    punt("3", "Sluiting"),
                )
            ),
            "agenda item 2 has no title; left out",
            id="agenda item without title",
        ),
        pytest.param(
            item(agenda=(punt("1", "Opening"), punt("2", "  "), punt("3", "Sluiting"))),
            "agenda item 2 has no title; left out",
            id="agenda item with a blank title",
        ),
        pytest.param(
            item(
                agenda=(punt("1", "Opening", "", stuk("Stuk", "javascript:alert(1)")), punt("3", "Sluiting"))
            ),
            "document 'Stuk' of agenda item 1: not an http(s) link; left out",
            id="document link not http",
        ),
        pytest.param(
            item(agenda=(punt(None, "Opening"), punt("3", "Sluiting"))),
            "agenda item 'Opening' has no number; numbered 1",
            id="agenda item without number",
        ),
        pytest.param(
            item(status="uitgesteld"),
            "status 'uitgesteld' not understood (gepland, gewijzigd, geannuleerd); taken as gepland",
            id="unknown status",
        ),
        pytest.param(
            item(end="2026-12-10T09:00:00+01:00"),
            "it ends before it starts; the end time is left out",
            id="end before start",
        ),
        pytest.param(
            item(body="Landelijk Gebied", guid=None, link=None),
            "no guid/UID and no link; identified by body and start, so a new time looks like a new meeting",
            id="no identity",
        ),
    ],
)
def test_smaller_flaws_are_warnings_and_the_meeting_is_kept(entry: str, warning: str) -> None:
    feed = parse_meeting_feed(rss(entry), BAC, NOW)

    assert len(feed.meetings) == 1
    assert feed.problems == [Problem("agenda-bac", warning, subject=DATED, severity=Severity.WARNING)]


def test_an_agenda_item_without_title_is_dropped_and_the_rest_kept() -> None:
    entry = item(agenda=(punt("1", "Opening"), punt("2", None, "Zonder titel"), punt("3", "Sluiting")))

    meeting = only(parse_meeting_feed(rss(entry), BAC, NOW))

    assert [(i.number, i.title) for i in meeting.items] == [("1", "Opening"), ("3", "Sluiting")]


@pytest.mark.parametrize(
    ("event", "warning"),
    [
        pytest.param(
            vevent(agenda=(r"DESCRIPTION:1. Opening\n2. – Alleen omschrijving\n3. Sluiting",)),
            "agenda item 2 has no title; left out",
            id="agenda line without title",
        ),
        pytest.param(
            vevent(agenda=("DESCRIPTION:1. Opening", f'ATTACH;X-AGENDAPUNT=7;X-TITLE="Stuk":{DOCS}/x.pdf')),
            "document 'Stuk': agenda item 7, which is not on the agenda; left out",
            id="document for an item not on the agenda",
        ),
        pytest.param(
            vevent(agenda=("DESCRIPTION:1. Opening", f"ATTACH:{DOCS}/x.pdf")),
            f"document '{DOCS}/x.pdf': no X-AGENDAPUNT; left out",
            id="document without agenda item",
        ),
        pytest.param(
            vevent("RRULE:FREQ=WEEKLY;COUNT=3"),
            "a repeating event: only its first date is used",
            id="repeating",
        ),
    ],
)
def test_calendar_flaws_are_warnings(event: str, warning: str) -> None:
    feed = parse_meeting_calendar(ics(event), AV, NOW)

    assert len(feed.meetings) == 1
    assert feed.problems == [Problem("agenda-av", warning, subject=DATED, severity=Severity.WARNING)]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(
            vevent(start=None),
            f"agenda-av [{LG}]: meeting left out: it has no date (no start time)",
            id="no DTSTART",
        ),
        pytest.param(
            vevent(start="DTSTART:morgen"),
            f"agenda-av [{LG}]: meeting left out: its start (DTSTART) is not understood: "
            "'morgen' is not a date or time",
            id="broken DTSTART",
        ),
        pytest.param(
            vevent("X-IPO-ORGAAN:Provinciale Staten"),
            f"agenda-av [{DATED}]: meeting left out: unknown body 'Provinciale Staten' ({KNOWN_BODIES})",
            id="unknown body",
        ),
    ],
)
def test_a_bad_calendar_event_is_left_out_and_the_others_still_go(event: str, expected: str) -> None:
    good = vevent(uid="av-2027-04-07", start="DTSTART;TZID=Europe/Amsterdam:20270407T130000")

    feed = parse_meeting_calendar(ics(event, good), AV, NOW)

    assert [m.uid for m in feed.meetings] == ["av-2027-04-07"]
    assert texts(feed.problems) == [expected]


@pytest.mark.parametrize(
    ("parse", "content", "expected"),
    [
        pytest.param(parse_meeting_feed, b"", "agenda-bac: the feed is empty", id="empty feed"),
        pytest.param(
            parse_meeting_feed,
            TRUNCATED,
            f"agenda-bac, line {TRUNCATED_LINE}: not well-formed XML: "
            "the document ends too early (truncated?)",
            id="truncated feed",
        ),
        pytest.param(
            parse_meeting_feed,
            b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x "x">]><rss version="2.0"><channel/></rss>',
            "agenda-bac: the feed declares a DOCTYPE or entities; refused (not allowed in an agenda feed)",
            id="DTD with entities",
        ),
        pytest.param(
            parse_meeting_feed,
            b"<html><body><p>Onderhoud</p></body></html>",
            "agenda-bac: not an RSS or Atom feed (it is an HTML page)",
            id="HTML page",
        ),
        pytest.param(
            parse_meeting_calendar, b" \n", "agenda-bac: the calendar file is empty", id="empty .ics"
        ),
        pytest.param(
            parse_meeting_calendar,
            b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\n",
            "agenda-bac: not a valid iCalendar file: no complete VCALENDAR … END:VCALENDAR "
            "(is the file truncated?)",
            id="truncated .ics",
        ),
        pytest.param(
            parse_meeting_calendar,
            b"dit is geen agenda",
            "agenda-bac, line 1: not a valid iCalendar file: line not understood: 'dit is geen agenda'",
            id="not iCalendar",
        ),
    ],
)
def test_a_source_that_does_not_parse_is_one_error_and_no_meetings(
    parse, content: bytes, expected: str
) -> None:  # type: ignore[no-untyped-def]
    feed = parse(content, BAC, NOW)

    assert feed.meetings == []
    assert texts(feed.problems) == [expected]
    assert feed.is_broken


# --- across feeds -------------------------------------------------------------------------


def meeting(**changes: object) -> Meeting:
    return dataclasses.replace(EXPECTED, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("second", "reason"),
    [
        pytest.param(
            meeting(source="agenda-lg", title="BAC LG"),
            "listed twice (the same uid as in agenda-bac); the copy from agenda-bac is used",
            id="same uid",
        ),
        pytest.param(
            meeting(source="agenda-lg", uid="urn:lg:2026-12-10", title="BAC LG"),
            "listed twice (the same body and start as in agenda-bac); the copy from agenda-bac is used",
            id="same body and start",
        ),
    ],
)
def test_a_meeting_in_two_feeds_is_kept_once_with_a_warning_naming_both(second: Meeting, reason: str) -> None:
    other = meeting(uid="av-2026-12-16", body="av", source="agenda-av")

    meetings, problems = merge_feeds(
        [
            MeetingFeed("agenda-bac", [EXPECTED]),
            MeetingFeed("agenda-lg", [second]),
            MeetingFeed("agenda-av", [other]),
        ]
    )

    assert meetings == [EXPECTED, other]
    assert texts(problems) == [f"agenda-lg [BAC LG, 10 december 2026 10.00 uur]: {reason}"]
    assert not problems[0].is_error


def test_a_meeting_listed_twice_in_one_feed_is_kept_once() -> None:
    meetings, problems = merge_feeds([MeetingFeed("agenda-bac", [EXPECTED, meeting(location="Elders")])])

    assert meetings == [EXPECTED]
    assert [p.reason for p in problems] == [
        "listed twice (the same uid as earlier in this source); the copy from agenda-bac is used"
    ]


def test_a_cancelled_meeting_and_its_replacement_at_the_same_hour_are_two() -> None:
    cancelled = meeting(status=MeetingStatus.CANCELLED)
    replacement = meeting(uid="bac-lg-2026-12-10-nieuw")

    meetings, problems = merge_feeds([MeetingFeed("agenda-bac", [cancelled, replacement])])

    assert meetings == [cancelled, replacement]
    assert problems == []


def test_feeds_parsed_from_two_formats_merge() -> None:
    feeds = [
        parse_meeting_feed(rss(item()), BAC, NOW),
        parse_meeting_calendar(ics(FULL_EVENT), AV, NOW),
    ]

    meetings, problems = merge_feeds(feeds)

    assert [m.source for m in meetings] == ["agenda-bac"]
    assert [p.where for p in problems] == ["agenda-av"]


# --- identity of content ------------------------------------------------------------------


def test_content_hash_is_stable_and_ignores_the_source() -> None:
    again = only(parse_meeting_feed(rss(item()), BAC, NOW))
    from_calendar = only(parse_meeting_calendar(ics(FULL_EVENT), AV, NOW))

    assert again.content_hash == EXPECTED.content_hash
    assert from_calendar.source != EXPECTED.source
    assert from_calendar.content_hash == EXPECTED.content_hash
    assert len(EXPECTED.content_hash) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Extra vergadering BAC Landelijk Gebied"},
        {"starts_at": utc(2026, 12, 10, 10)},
        {"ends_at": None},
        {"location": "Online"},
        {"status": MeetingStatus.CANCELLED},
        {"url": None},
        {"all_day": True},
        {"items": EXPECTED.items[:2]},
        {
            "items": (
                EXPECTED.items[0],
                dataclasses.replace(EXPECTED.items[1], documents=()),
                EXPECTED.items[2],
            )
        },
    ],
    ids=lambda change: next(iter(change)),
)
def test_content_hash_changes_with_what_recipients_read(change: dict[str, object]) -> None:
    assert meeting(**change).content_hash != EXPECTED.content_hash


def test_json_round_trip() -> None:
    changed = meeting(all_day=True, ends_at=None, status=MeetingStatus.CHANGED)

    for original in (EXPECTED, changed):
        assert Meeting.from_json(original.to_json()) == original


# --- what changed -------------------------------------------------------------------------

OPENING, STIKSTOF, RONDVRAAG = EXPECTED.items


@pytest.mark.parametrize(
    ("change", "sentences"),
    [
        pytest.param({}, [], id="nothing"),
        pytest.param(
            {"starts_at": utc(2026, 12, 10, 12, 30), "ends_at": utc(2026, 12, 10, 15)},
            [
                "Aanvang gewijzigd: van donderdag 10 december 2026 10.00 uur "
                "naar donderdag 10 december 2026 13.30 uur",
                "Einde gewijzigd: van 12.30 uur naar 16.00 uur",
            ],
            id="time",
        ),
        pytest.param(
            {"starts_at": utc(2026, 12, 9, 23), "all_day": True, "ends_at": None},
            [
                "Aanvang gewijzigd: van donderdag 10 december 2026 10.00 uur naar donderdag 10 december 2026 "
                "(tijd nog niet bekend)",
                "Eindtijd vervallen (was 12.30 uur)",
            ],
            id="time no longer known",
        ),
        pytest.param(
            {"location": "Provinciehuis Gelderland, Arnhem"},
            ["Locatie gewijzigd: van Huis van de Provincies, Den Haag naar Provinciehuis Gelderland, Arnhem"],
            id="location",
        ),
        pytest.param(
            {"location": None},
            ["Locatie vervallen (was: Huis van de Provincies, Den Haag)"],
            id="no location",
        ),
        pytest.param(
            {"items": (OPENING, STIKSTOF, AgendaItem("4", "Water en bodem sturend", "", ()), RONDVRAAG)},
            ["Agendapunt 4 toegevoegd: Water en bodem sturend"],
            id="item added",
        ),
        pytest.param(
            {"items": (OPENING, RONDVRAAG)},
            ["Agendapunt 2 vervallen: Stikstof: intern salderen"],
            id="item removed",
        ),
        pytest.param(
            {"items": (OPENING, dataclasses.replace(STIKSTOF, description="Besluitvorming."), RONDVRAAG)},
            ["Agendapunt 2 gewijzigd: Stikstof: intern salderen"],
            id="item description changed",
        ),
        pytest.param(
            {"items": (OPENING, dataclasses.replace(STIKSTOF, title="Stikstof en natuur"), RONDVRAAG)},
            ["Agendapunt 2 gewijzigd: Stikstof en natuur"],
            id="item title changed",
        ),
        pytest.param(
            {
                "items": (
                    OPENING,
                    dataclasses.replace(
                        STIKSTOF, documents=(*STIKSTOF.documents, Document("Advies", f"{DOCS}/a"))
                    ),
                    RONDVRAAG,
                )
            },
            ["Stukken bij agendapunt 2 gewijzigd"],
            id="documents changed",
        ),
        pytest.param(
            {
                "items": (
                    OPENING,
                    AgendaItem("2", "Begroting 2027", "", ()),
                    dataclasses.replace(STIKSTOF, number="3"),
                    dataclasses.replace(RONDVRAAG, number="4"),
                )
            },
            ["Agendapunt 2 toegevoegd: Begroting 2027", "De nummering van de agendapunten is gewijzigd."],
            id="item inserted, the rest renumbered",
        ),
        pytest.param(
            {"items": (STIKSTOF, OPENING, RONDVRAAG)},
            ["De volgorde van de agendapunten is gewijzigd."],
            id="order only",
        ),
        pytest.param({"status": MeetingStatus.CANCELLED}, ["De vergadering is geannuleerd."], id="cancelled"),
        pytest.param(
            {"status": MeetingStatus.CHANGED},
            ["Status gewijzigd: van gepland naar gewijzigd"],
            id="marked changed",
        ),
        pytest.param(
            {"title": "Extra vergadering", "body": "av"},
            [
                f"Titel gewijzigd: van {LG} naar Extra vergadering",
                "Orgaan gewijzigd: van BAC Landelijk Gebied naar Algemene Vergadering",
            ],
            id="title and body",
        ),
    ],
)
def test_changes_from_says_what_changed_in_dutch(change: dict[str, object], sentences: list[str]) -> None:
    assert meeting(**change).changes_from(EXPECTED) == sentences


def test_a_reinstated_meeting_says_so() -> None:
    cancelled = meeting(status=MeetingStatus.CANCELLED)

    assert EXPECTED.changes_from(cancelled) == ["De annulering is ingetrokken: de vergadering gaat door."]


# --- configuration ------------------------------------------------------------------------

CONFIG = """
[sender]
address = "agenda@ipo.example.org"
[web]
base_url = "https://comms.ipo.example.org"
[[sources]]
name = "agenda"
url = "agenda.xml"
kind = "{kind}"
{body}
"""


@pytest.mark.parametrize(
    ("kind", "body", "expected", "problems"),
    [
        pytest.param("meeting", 'body = "BAC Landelijk Gebied"', "bac-landelijk-gebied", [], id="by name"),
        pytest.param("meeting", 'body = "AV"', "av", [], id="short"),
        pytest.param("meeting", "", None, [], id="left to the feed"),
        pytest.param(
            "meeting",
            'body = "Provinciale Staten"',
            None,
            [f"comms.toml [source agenda]: body 'Provinciale Staten' is not an IPO body ({KNOWN_BODIES})"],
            id="unknown",
        ),
        pytest.param(
            "news",
            'body = "AV"',
            "av",
            ["comms.toml [source agenda]: body is only used by sources of kind 'meeting'; ignored"],
            id="not a meeting source",
        ),
    ],
)
def test_configured_body(
    tmp_path: Path, kind: str, body: str, expected: str | None, problems: list[str]
) -> None:
    path = tmp_path / "comms.toml"
    path.write_text(CONFIG.format(kind=kind, body=body), encoding="utf-8")

    config, found = load_config(path)

    assert texts(found) == problems
    if config is not None:
        [source] = config.sources
        assert (source.kind, source.body) == (ItemKind(kind), expected)
    else:
        assert any(p.is_error for p in found)
