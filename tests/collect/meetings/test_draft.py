"""The checks every format shares, through the RSS parser: the body, meetings left out, smaller flaws."""

from __future__ import annotations

from pathlib import Path

import pytest

from comms.collect.meetings.feed import parse_meeting_feed
from comms.config import ItemKind, SourceConfig, load_config
from comms.problems import Problem, Severity
from tests.collect.meetings.support import (
    BAC,
    BESTUUR,
    DATED,
    KNOWN_BODIES,
    LG,
    NOW,
    item,
    only,
    punt,
    rss,
    stuk,
    texts,
)


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


# --- bad input --- ------------------------------------------------------------------------


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


# --- configuration --- --------------------------------------------------------------------

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
            [
                "comms.toml, line 10 [source agenda]: "
                f"body 'Provinciale Staten' is not an IPO body ({KNOWN_BODIES})"
            ],
            id="unknown",
        ),
        pytest.param(
            "news",
            'body = "AV"',
            "av",
            ["comms.toml, line 10 [source agenda]: body is only used by sources of kind 'meeting'; ignored"],
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

    assert [text.removeprefix(f"{tmp_path}/") for text in texts(found)] == problems
    if config is not None:
        [source] = config.sources
        assert (source.kind, source.body) == (ItemKind(kind), expected)
    else:
        assert any(p.is_error for p in found)
