"""RSS and Atom parsing: broken feeds are refused whole, bad entries one by one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from comms.collect import source as source_module
from comms.collect.feeds import parse_feed
from comms.collect.items import CollectedItem, SourceResult, SourceState
from comms.collect.source import collect_source
from comms.config import ItemKind, SourceConfig
from comms.problems import Problem, Severity

SAMPLE = Path(__file__).resolve().parents[2] / "sample" / "feeds"
SOURCE = SourceConfig("ipo-nieuws", "IPO-nieuws", "feeds/nieuws.xml", "feed", ItemKind.NEWS)
REL = 'rel="noopener noreferrer"'


def rss(*items: str, declaration: bool = True) -> bytes:
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' if declaration else ""
    return (
        head
        + '<rss version="2.0">\n<channel>\n<title>IPO-nieuws</title>\n'
        + "\n".join(items)
        + "\n</channel>\n</rss>\n"
    ).encode()


def item(
    title: str | None = "Provinciefonds onder druk",
    link: str | None = "https://www.ipo.example.org/nieuws/provinciefonds",
    date: str | None = "Tue, 10 Nov 2026 09:00:00 +0100",
    description: str | None = "&lt;p&gt;Tekst.&lt;/p&gt;",
    guid: str | None = "nieuws-1",
    extra: str = "",
) -> str:
    parts = [
        f"<title>{title}</title>" if title is not None else "",
        f"<link>{link}</link>" if link is not None else "",
        f"<pubDate>{date}</pubDate>" if date is not None else "",
        f"<description>{description}</description>" if description is not None else "",
        f'<guid isPermaLink="false">{guid}</guid>' if guid is not None else "",
        extra,
    ]
    return "<item>" + "".join(parts) + "</item>"


def only(body: bytes, source: SourceConfig = SOURCE) -> tuple[CollectedItem, list[Problem]]:
    items, problems = parse_feed(source, body)
    assert len(items) == 1, problems
    return items[0], problems


# --- whole-source failures --------------------------------------------------------------

TRUNCATED = rss(item(), item(guid="nieuws-2"))[:-60]  # ends inside a tag
CUT_IN_TEXT = rss(item(), item(guid="nieuws-2")).split(b"Tekst")[0]
MISMATCHED = rss(item(title="Goed"), "<item><title>Fout</link></item>")
HTML_PAGE = b"""<!DOCTYPE html>
<html><head><title>Pagina niet gevonden</title></head>
<body><p>Deze pagina bestaat niet.<br></p></body></html>
"""


@pytest.mark.parametrize(
    ("body", "reason", "line"),
    [
        pytest.param(b"", "the feed is empty", None, id="empty"),
        pytest.param(b"  \n ", "the feed is empty", None, id="blank"),
        pytest.param(
            b"dit is geen feed\nmaar gewoon tekst",
            "not an RSS or Atom feed: not well-formed XML: syntax error (this does not look like XML)",
            1,
            id="not XML",
        ),
        pytest.param(
            b'{"items": []}',
            "not an RSS or Atom feed: not well-formed XML: invalid character or markup",
            1,
            id="JSON",
        ),
        pytest.param(
            TRUNCATED,
            "not well-formed XML: the document ends too early (truncated?)",
            TRUNCATED.count(b"\n") + 1,
            id="truncated",
        ),
        pytest.param(
            CUT_IN_TEXT,
            "not well-formed XML: the document ends too early (truncated?)",
            CUT_IN_TEXT.count(b"\n") + 1,
            id="truncated in text",
        ),
        pytest.param(MISMATCHED, "not well-formed XML: mismatched tag", 6, id="mismatched tag"),
        pytest.param(
            rss(item(title="Goed"), "<item><title>Fout</link></item>", declaration=False),
            "not well-formed XML: mismatched tag",
            5,
            id="line right without XML declaration",
        ),
        pytest.param(HTML_PAGE, "not an RSS or Atom feed (it is an HTML page)", None, id="HTML page"),
        pytest.param(
            b"<html><body><p>Onderhoud</p></body></html>",
            "not an RSS or Atom feed (it is an HTML page)",
            None,
            id="well-formed HTML page",
        ),
        pytest.param(
            b'<?xml version="1.0"?><note><to>griffie</to></note>',
            "not an RSS or Atom feed",
            None,
            id="other XML",
        ),
    ],
)
def test_broken_feed_is_one_error_and_no_items(body: bytes, reason: str, line: int | None) -> None:
    items, problems = parse_feed(SOURCE, body)

    assert items == []
    assert problems == [Problem("ipo-nieuws", reason, line=line)]
    assert SourceResult(SOURCE, items, problems).is_broken


def test_an_html_entity_in_xml_is_reported_and_the_entries_kept() -> None:
    items, problems = parse_feed(SOURCE, rss(item(title="Wonen&nbsp;en werken"), item(title="Tweede")))

    assert len(items) == 2
    assert [str(p) for p in problems] == [
        "ipo-nieuws, line 5: not well-formed XML: undefined entity; the entries were recovered"
    ]
    assert not problems[0].is_error


@pytest.mark.parametrize(
    ("entry", "subject", "entity"),
    [
        (item(title="&lol9;"), "&lol9;", "lol9"),
        (item(title="Wonen &bogus; werken"), "Wonen &bogus; werken", "bogus"),
        (item(title="Goed", description="Tekst &onbekend; meer"), "Goed", "onbekend"),
        (item(title="Goed", link="https://www.ipo.example.org/&x1;"), "Goed", "x1"),
    ],
    ids=["title alone", "inside a title", "in the description", "in the link"],
)
def test_an_entry_with_an_undefined_entity_is_left_out_and_reported(
    entry: str, subject: str, entity: str
) -> None:
    items, problems = parse_feed(SOURCE, rss(entry, item(title="Tweede &nbsp; bericht", guid="nieuws-2")))

    assert [i.title for i in items] == ["Tweede bericht"]  # &nbsp; is HTML's: resolved, kept
    assert [str(p) for p in problems if p.is_error] == [
        f"ipo-nieuws [{subject}]: entry skipped: it holds the undefined entity &{entity}; "
        "(the feed is not well-formed there)"
    ]
    assert not SourceResult(SOURCE, items, problems).is_broken  # the feed goes on


@pytest.mark.parametrize(
    ("body", "title"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY ipo "IPO">]>'
            + rss(item(title="Nieuws van &ipo;"), declaration=False),
            "Nieuws van IPO",
        ),
        (rss(item(title="Gelijk &amp;lol9; (letterlijk)")), "Gelijk &lol9; (letterlijk)"),
    ],
    ids=["declared in the DTD", "escaped: text, not an entity"],
)
def test_defined_or_escaped_entities_are_fine(body: bytes, title: str) -> None:
    found, problems = only(body)

    assert (found.title, problems) == (title, [])


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("\u202egpj.exe\u202c Notulen", "gpj.exe Notulen"),
        ("Wonen\u200ben\u2060werken\ufeff", "Wonenenwerken"),
        ("\u2066Subsidie\u2069 \u200e\u200f\u061c", "Subsidie"),
        ("&#x202E;Omgekeerd&#x202C;", "Omgekeerd"),
        ("Team \U0001f469\u200d\U0001f4bb", "Team \U0001f469\u200d\U0001f4bb"),
    ],
    ids=[
        "RLO and PDF",
        "zero-width and BOM",
        "isolates and marks",
        "as character references",
        "ZWJ in emoji",
    ],
)
def test_bidi_and_invisible_characters_are_stripped_from_titles_and_links(title: str, shown: str) -> None:
    link = "https://www.ipo.example.org/nieuws/\u202eabc"
    found, _ = only(rss(item(title=title, link=link, description=f"&lt;p&gt;{title}&lt;/p&gt;")))

    assert found.title == shown
    assert found.link == "https://www.ipo.example.org/nieuws/abc"
    assert found.summary_html in (f"<p>{shown}</p>", f"<p>{shown} </p>")


def test_error_message_names_source_and_line() -> None:
    _, [problem] = parse_feed(SOURCE, MISMATCHED)

    assert str(problem) == "ipo-nieuws, line 6: not well-formed XML: mismatched tag"


def test_wrongly_declared_encoding_is_not_an_error() -> None:
    body = rss(item(title="Nieuws uit Fryslân")).decode().encode("latin-1")

    found, problems = only(body)

    assert found.title == "Nieuws uit Fryslân"
    assert problems == []


# --- entries ----------------------------------------------------------------------------

JS_DESCRIPTION = "&lt;a href=&quot;javascript:alert(1)&quot;&gt;klik&lt;/a&gt;"


@pytest.mark.parametrize(
    ("entry", "reason", "subject"),
    [
        pytest.param(item(title=None), "entry skipped: it has no title", "nieuws-1", id="no title"),
        pytest.param(
            item(title="  ", guid=None),
            "entry skipped: it has no title",
            "entry 1",
            id="blank title",
        ),
        pytest.param(item(link=None), "entry skipped: it has no link", None, id="no link"),
        pytest.param(
            item(link="javascript:alert(1)"),
            "entry skipped: its link is a javascript: URL; only http and https links are used",
            None,
            id="javascript link",
        ),
        pytest.param(
            item(link="/actueel/nieuws/1"),
            "entry skipped: its link is not an absolute address; only http and https links are used",
            None,
            id="relative link in a local feed",
        ),
    ],
)
def test_entry_without_title_or_usable_link_is_skipped(entry: str, reason: str, subject: str | None) -> None:
    items, problems = parse_feed(SOURCE, rss(entry, item(title="Goed", guid="nieuws-2")))

    assert [i.title for i in items] == ["Goed"]
    assert problems == [Problem("ipo-nieuws", reason, subject=subject or "Provinciefonds onder druk")]
    assert not SourceResult(SOURCE, items, problems).is_broken


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        pytest.param(item(date=None), "no publication date; the time it is first seen is used", id="no date"),
        pytest.param(
            item(date="gisteren"),
            "date 'gisteren' not understood; the time it is first seen is used",
            id="bad date",
        ),
        pytest.param(
            item(description="&lt;p&gt;Tekst&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;"),
            "unsafe content removed from the summary: removed <script> element",
            id="script",
        ),
        pytest.param(
            item(description="&lt;p onclick=&quot;steal()&quot;&gt;Tekst&lt;/p&gt;"),
            "unsafe content removed from the summary: removed event-handler attribute onclick",
            id="onclick",
        ),
        pytest.param(
            item(description=JS_DESCRIPTION),
            "unsafe content removed from the summary: removed javascript: URL",
            id="javascript URL in summary",
        ),
        pytest.param(
            item(description="<![CDATA[<p onmouseover=x>a</p><script>b()</script>]]>"),
            "unsafe content removed from the summary: removed event-handler attribute "
            "onmouseover; removed <script> element",
            id="CDATA, two reasons",
        ),
    ],
)
def test_entry_is_kept_with_a_warning(entry: str, reason: str) -> None:
    found, problems = only(rss(entry))

    assert problems == [
        Problem("ipo-nieuws", reason, subject="Provinciefonds onder druk", severity=Severity.WARNING)
    ]
    assert "script" not in found.summary_html
    assert "onclick" not in found.summary_html
    assert "javascript" not in found.summary_html


def test_entry_fields() -> None:
    entry = item(
        description="&lt;p&gt;Lees de &lt;a href=&quot;https://www.ipo.example.org/x&quot;&gt;"
        "brief&lt;/a&gt;.&lt;/p&gt;",
        extra="<category>Landelijk Gebied</category><category> stikstof\n</category>",
    )

    found, problems = only(rss(entry))

    assert problems == []
    assert found == CollectedItem(
        source="ipo-nieuws",
        kind=ItemKind.NEWS,
        title="Provinciefonds onder druk",
        link="https://www.ipo.example.org/nieuws/provinciefonds",
        summary_html=f'<p>Lees de <a href="https://www.ipo.example.org/x" {REL}>brief</a>.</p>',
        guid="nieuws-1",
        published_at=datetime(2026, 11, 10, 8, 0, tzinfo=UTC),
        categories=("Landelijk Gebied", "stikstof"),
    )


@pytest.mark.parametrize(
    "title",
    [
        "Nieuws&#13;\nBcc: iemand@example.org",
        "Nieuws\r\nBcc: iemand@example.org",
        "Nieuws&#10;&#9;Bcc:   iemand@example.org ",
        "&lt;b&gt;Nieuws&lt;/b&gt; Bcc: iemand@example.org",
    ],
)
def test_title_is_one_line_of_plain_text(title: str) -> None:
    found, _ = only(rss(item(title=title)))

    assert found.title == "Nieuws Bcc: iemand@example.org"


def test_relative_link_is_resolved_against_the_feed_url() -> None:
    online = SourceConfig(
        "ipo-nieuws",
        "IPO-nieuws",
        "https://www.ipo.example.org/feeds/nieuws.xml",
        "feed",
        ItemKind.NEWS,
    )

    found, problems = only(rss(item(link="/actueel/nieuws/1")), online)

    assert found.link == "https://www.ipo.example.org/actueel/nieuws/1"
    assert problems == []


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Position papers</title>
  <id>tag:ipo.example.org,2026:position-papers</id>
  <updated>2026-11-26T08:00:00+01:00</updated>
  <entry>
    <id>tag:ipo.example.org,2026:pp/1</id>
    <title type="html">Inbreng &lt;em&gt;netcongestie&lt;/em&gt;</title>
    <link rel="alternate" href="https://www.ipo.example.org/position-papers/1"/>
    <updated>2026-11-26T08:00:00+01:00</updated>
    <category term="klimaat-leefomgeving" label="Klimaat &amp; Leefomgeving"/>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Inhoud</p></div></content>
  </entry>
  <entry>
    <id>tag:ipo.example.org,2026:pp/2</id>
    <title>Tekst met &lt;script&gt; als letterlijke tekst</title>
    <link href="https://www.ipo.example.org/position-papers/2"/>
    <published>2026-11-04T09:00:00+01:00</published>
    <updated>2026-11-05T09:00:00+01:00</updated>
    <summary type="text">Gebruik &lt;script&gt; niet &amp; zo.</summary>
  </entry>
</feed>
"""


def test_atom() -> None:
    papers = SourceConfig("position-papers", "Position papers", "pp.xml", "feed", ItemKind.POSITION_PAPER)

    items, problems = parse_feed(papers, ATOM)

    assert problems == []
    first, second = items
    assert (first.title, first.guid, first.kind) == (
        "Inbreng netcongestie",
        "tag:ipo.example.org,2026:pp/1",
        ItemKind.POSITION_PAPER,
    )
    assert first.published_at == datetime(2026, 11, 26, 7, 0, tzinfo=UTC)  # only <updated>
    assert first.categories == ("klimaat-leefomgeving", "Klimaat & Leefomgeving")
    assert first.summary_html == "<p>Inhoud</p>"
    assert second.published_at == datetime(2026, 11, 4, 8, 0, tzinfo=UTC)  # <published> wins
    assert second.summary_html == "<p>Gebruik &lt;script&gt; niet &amp; zo.</p>"


def test_entries_with_the_same_guid_are_collected_once(tmp_path: Path) -> None:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "nieuws.xml").write_bytes(rss(item(), item(title="Herhaald")))

    result = collect_source(SOURCE, SourceState(), tmp_path)

    assert [i.title for i in result.items] == ["Provinciefonds onder druk"]
    assert [str(p) for p in result.problems] == [
        "ipo-nieuws [Herhaald]: left out: the same guid or link as an earlier entry"
    ]


def test_a_parser_crash_becomes_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(source: SourceConfig, body: bytes) -> tuple[list[CollectedItem], list[Problem]]:
        raise RuntimeError("unexpected end of the world")

    monkeypatch.setitem(source_module.PARSERS, "feed", crash)
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "nieuws.xml").write_bytes(rss(item()))

    result = collect_source(SOURCE, SourceState(), tmp_path)

    assert [str(p) for p in result.problems] == ["ipo-nieuws: could not parse: unexpected end of the world"]
    assert result.is_broken


def test_unknown_format() -> None:
    odd = SourceConfig("odd", "Odd", "odd.json", "json", ItemKind.NEWS)

    result = collect_source(odd, SourceState(), Path("."))

    assert [str(p) for p in result.problems] == ["odd: unknown format 'json' (expected 'feed' or 'ical')"]


# --- the sample feeds -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "kind", "count"),
    [
        ("ipo-nieuws.xml", ItemKind.NEWS, 25),
        ("bij12-nieuws.xml", ItemKind.NEWS, 12),
        ("position-papers.xml", ItemKind.POSITION_PAPER, 6),
    ],
)
def test_sample_feeds_parse_cleanly(filename: str, kind: ItemKind, count: int) -> None:
    sample = SourceConfig(filename, filename, filename, "feed", kind)

    result = collect_source(sample, SourceState(), SAMPLE)

    assert result.problems == []
    assert len(result.items) == count
    for found in result.items:
        assert found.guid and found.link and found.link.startswith("https://")
        assert ".example.org/" in found.link
        assert found.published_at is not None
        assert datetime(2026, 9, 15, tzinfo=UTC) <= found.published_at
        assert found.published_at < datetime(2026, 12, 1, tzinfo=UTC)
        assert found.summary_html.count("<p>") >= 2 and "<a href=" in found.summary_html


def test_sample_news_has_av_items_province_items_and_uncategorised_items() -> None:
    news = SourceConfig("ipo-nieuws", "IPO-nieuws", "ipo-nieuws.xml", "feed", ItemKind.NEWS)

    items = collect_source(news, SourceState(), SAMPLE).items

    categories = [set(found.categories) for found in items]
    assert sum("Algemene Vergadering" in c for c in categories) >= 2
    assert sum(bool(c & {"Gelderland", "Fryslân", "Zeeland"}) for c in categories) >= 2
    assert sum(not c for c in categories) >= 2
    november = [i for i in items if i.published_at and i.published_at.month == 11]
    assert len(november) > len(items) / 2
