"""The allow-list sanitiser: what survives, what goes, and what the editor is told."""

from __future__ import annotations

import pytest

from comms.collect.sanitise import cap_html, clean_html, clean_text, safe_link

REL = 'rel="noopener noreferrer"'


@pytest.mark.parametrize(
    ("raw", "expected_html", "expected_reasons"),
    [
        pytest.param(
            "<p>Provincies <strong>investeren</strong> in <em>natuur</em>.</p>",
            "<p>Provincies <strong>investeren</strong> in <em>natuur</em>.</p>",
            [],
            id="allowed markup stays",
        ),
        pytest.param(
            "<h3>Kop</h3><ul><li>een</li></ul><ol><li>twee</li></ol><blockquote>citaat</blockquote>",
            "<h3>Kop</h3><ul><li>een</li></ul><ol><li>twee</li></ol><blockquote>citaat</blockquote>",
            [],
            id="lists, headings and quotes stay",
        ),
        pytest.param(
            '<a href="https://www.ipo.example.org/nieuws">lees meer</a>',
            f'<a href="https://www.ipo.example.org/nieuws" {REL}>lees meer</a>',
            [],
            id="http link gets rel",
        ),
        pytest.param(
            '<a href="mailto:info@ipo.example.org" target="_blank" rel="opener">mail</a>',
            f'<a href="mailto:info@ipo.example.org" {REL}>mail</a>',
            [],
            id="mailto link, own rel and target replaced",
        ),
        pytest.param(
            "<p>Tekst<script>alert(document.cookie)</script></p>",
            "<p>Tekst</p>",
            ["removed <script> element"],
            id="script element",
        ),
        pytest.param(
            '<p onclick="steal()">Klik</p>',
            "<p>Klik</p>",
            ["removed event-handler attribute onclick"],
            id="onclick",
        ),
        pytest.param(
            '<img src="x.png" onerror="alert(1)">Tekst',
            "Tekst",
            ["removed event-handler attribute onerror"],
            id="onerror on an image",
        ),
        pytest.param(
            '<a href="javascript:alert(1)">klik</a>',
            f"<a {REL}>klik</a>",
            ["removed javascript: URL"],
            id="javascript link",
        ),
        pytest.param(
            '<a href=" JaVa&#x09;Script:alert(1)">klik</a>',
            f"<a {REL}>klik</a>",
            ["removed javascript: URL"],
            id="disguised javascript link",
        ),
        pytest.param(
            '<a href="data:text/html;base64,PHNjcmlwdD4=">klik</a>',
            f"<a {REL}>klik</a>",
            ["removed data: URL"],
            id="data link",
        ),
        pytest.param(
            '<iframe src="https://evil.example.com/"></iframe><p>Na</p>',
            "<p>Na</p>",
            ["removed <iframe> element"],
            id="iframe",
        ),
        pytest.param(
            '<form action="https://evil.example.com/"><input name="pw"></form>',
            "",
            ["removed <form> element", "removed <input> element"],
            id="form",
        ),
        pytest.param(
            "<script>a()</script><script>b()</script><p onclick=x onmouseover=y>t</p>",
            "<p>t</p>",
            [
                "removed <script> element",
                "removed event-handler attribute onclick",
                "removed event-handler attribute onmouseover",
            ],
            id="each reason once, in order",
        ),
        pytest.param(
            '<div class="x"><span style="color:red">Tekst</span><img src="a.png"></div>',
            "Tekst",
            [],
            id="harmless unknown markup goes silently",
        ),
        pytest.param(
            '<a href="/actueel/nieuws">relatief</a>',
            f"<a {REL}>relatief</a>",
            [],
            id="relative link has no meaning in a mail",
        ),
        pytest.param("", "", [], id="empty"),
    ],
)
def test_clean_html(raw: str, expected_html: str, expected_reasons: list[str]) -> None:
    assert clean_html(raw) == (expected_html, expected_reasons)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("Nieuws\r\nBcc: iemand@example.org", "Nieuws Bcc: iemand@example.org", id="CRLF"),
        pytest.param("a\tb\x00c\x0bd\x1fe\x7ff", "a b c d e f", id="control characters"),
        pytest.param("regel\u2028twee\u2029drie\x85vier", "regel twee drie vier", id="unicode breaks"),
        pytest.param("  veel   spaties \n ", "veel spaties", id="collapsed and trimmed"),
        pytest.param("<b>Wonen</b> &amp; <i>Bereikbaarheid</i>", "Wonen & Bereikbaarheid", id="tags"),
        pytest.param("Titel<script>alert(1)</script>", "Titel", id="script content dropped"),
        pytest.param("Frysl&acirc;n &#8211; Zeeland", "Fryslân – Zeeland", id="entities"),
        pytest.param("Nieuws&#13;&#10;To: x@example.org", "Nieuws To: x@example.org", id="CRLF as entities"),
        pytest.param("", "", id="empty"),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.ipo.example.org/nieuws?id=1", "https://www.ipo.example.org/nieuws?id=1"),
        ("HTTP://www.ipo.example.org/", "http://www.ipo.example.org/"),
        ("  https://www.ipo.example.org/a b  ", "https://www.ipo.example.org/a%20b"),
        ("javascript:alert(1)", None),
        ("mailto:info@ipo.example.org", None),
        ("ftp://ftp.example.org/feed.xml", None),
        ("/actueel/nieuws", None),
        ("//www.ipo.example.org/", None),
        ("https://", None),
        ("https://www.ipo.example.org/\r\nX-Injected: 1", None),
        ("https://[::1", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_link(url: str | None, expected: str | None) -> None:
    assert safe_link(url) == expected


@pytest.mark.parametrize(
    ("html", "max_chars", "expected", "cut"),
    [
        pytest.param("<p>Kort bericht.</p>", 100, "<p>Kort bericht.</p>", False, id="short: as it is"),
        pytest.param(
            "<p>Een <b>lange</b> tekst over stikstof en water</p><p>Tweede alinea</p>",
            20,
            "<p>Een <b>lange</b> tekst over…</p>",
            True,
            id="cut at a word, open tags closed",
        ),
        pytest.param(
            "<ul><li>een</li><li>twee drie vier vijf</li></ul><p>weg</p>",
            12,
            "<ul><li>een</li><li>twee drie…</li></ul>",
            True,
            id="inside a list",
        ),
        pytest.param(
            f'<p><a href="https://www.ipo.example.org/x" {REL}>Provinciefondsverdeling</a> en meer</p>',
            20,
            f'<p><a href="https://www.ipo.example.org/x" {REL}>Provinciefondsverdel…</a></p>',
            True,
            id="a word longer than what is left is cut in the word",
        ),
        pytest.param("<b></b>" * 1000, 10, "<b></b>" * 5 + "<b>…</b>", True, id="markup counts too"),
        pytest.param("<p>" + "a &amp; " * 50_000 + "</p>", 30, None, True, id="long: only a prefix is read"),
        pytest.param("<p>" + "woord " * 1_000_000 + "</p>", 1000, None, True, id="megabytes"),
    ],
)
def test_cap_html(html: str, max_chars: int, expected: str | None, cut: bool) -> None:
    capped, was_cut = cap_html(html, max_chars)

    assert was_cut is cut
    if expected is not None:
        assert capped == expected
    assert len(capped) <= 5 * max_chars + 100
    assert capped.endswith("…</p>") or not cut or expected is not None
