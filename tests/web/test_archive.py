"""The public archive at /nieuwsbrief/ and its Atom feed: sent editions with a web version only,
newest first, nothing personal, escaped, cacheable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import feedparser
import pytest

from comms.store.models import Edition, EditionStatus
from tests.web.support import NOW, Site

# A newsletter's compiled HTML as the renderer leaves it: personal values and blocks as markers.
HTML = (
    "<html><body><h1>Nieuws uit de provincies</h1><p>Beste @@c.first_name@@,</p>"
    "@@b.provincie:utrecht@@<p>Nieuws uit Utrecht</p>@@/b@@"
    "@@b.av@@<p>Alleen voor AV-leden</p>@@/b@@"
    "@@b.thema:landelijk-gebied@@<p>Landelijk Gebied</p>@@/b@@"
    '<a href="@@c.unsubscribe_url@@">Afmelden</a> @@c.email@@</body></html>'
)


def edition(
    key: str, status: EditionStatus, sent_at: datetime | None, kind: str = "newsletter", subject: str = ""
) -> Edition:
    return Edition(
        key=key,
        kind=kind,
        subject=subject or f"IPO-nieuwsbrief voor Statenleden – {key}",
        audience="statenleden",
        status=status,
        built_at=(sent_at or NOW) - timedelta(days=2),
        sent_at=sent_at,
        html=HTML,
    )


def seed(site: Site, *editions: Edition) -> None:
    with site.service.db.session() as session:
        session.add_all(editions)


class Links(HTMLParser):
    """The archive's edition links, in page order, and its year headings."""

    def __init__(self, page: str):
        super().__init__()
        self.links: list[str] = []
        self.years: list[str] = []
        self._in_h2 = False
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href") or ""
        if tag == "a" and href.startswith("/nieuwsbrief/") and not href.endswith(".xml"):
            self.links.append(href)
        self._in_h2 = tag == "h2"

    def handle_data(self, data: str) -> None:
        if self._in_h2 and data.strip():
            self.years.append(data.strip())
            self._in_h2 = False


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 8, 0, tzinfo=UTC)


@pytest.fixture
def archive(site: Site) -> Site:
    seed(
        site,
        edition("nieuwsbrief-2025-11", EditionStatus.SENT, at(2025, 11, 6)),
        edition("nieuwsbrief-2026-11", EditionStatus.SENT, at(2026, 11, 5)),
        edition("nieuwsbrief-2026-10", EditionStatus.SENT, at(2026, 10, 1)),
        edition("nieuwsbrief-2026-12", EditionStatus.APPROVED, None),
        edition("nieuwsbrief-2027-01", EditionStatus.DRAFT, None),
        edition("nieuwsbrief-2026-09", EditionStatus.HELD, None),
        edition("nieuwsbrief-2026-08", EditionStatus.CANCELLED, None),
        edition("nieuwsbrief-2026-07", EditionStatus.SENDING, None),
        edition("agenda-digest-2026-w48", EditionStatus.SENT, at(2026, 11, 30), kind="agenda-digest"),
    )
    return site


SENT = ["nieuwsbrief-2026-11", "nieuwsbrief-2026-10", "nieuwsbrief-2025-11"]


def test_the_archive_lists_only_sent_editions_with_a_web_version_newest_first(archive: Site) -> None:
    response = archive.client.get("/nieuwsbrief/")

    page = Links(response.text)
    assert response.status_code == 200
    assert page.links == [f"/nieuwsbrief/{key}" for key in SENT]
    assert page.years == ["2026", "2025"]
    assert 'Verzonden op <time datetime="2026-11-05">donderdag 5 november 2026</time>' in response.text
    assert response.headers["cache-control"].startswith("public")
    assert '<link rel="alternate" type="application/atom+xml"' in response.text


def test_each_archived_edition_opens_its_web_version_without_anything_personal(archive: Site) -> None:
    for link in Links(archive.client.get("/nieuwsbrief/").text).links:
        page = archive.client.get(link)

        assert page.status_code == 200
        assert "Nieuws uit de provincies" in page.text
        assert "Landelijk Gebied" in page.text  # a public block: every theme
        for private in ("Nieuws uit Utrecht", "Alleen voor AV-leden", "@@", "anna", "#afmelden"):
            assert private not in page.text, (link, private)
        # the mail's own unsubscribe link leads a reader to ask for a link to their preferences
        assert f'href="{archive.config.web_base_url.rstrip("/")}/voorkeuren">Afmelden' in page.text


def test_an_empty_archive_says_so(site: Site) -> None:
    seed(site, edition("nieuwsbrief-2026-12", EditionStatus.APPROVED, None))

    response = site.client.get("/nieuwsbrief/")

    assert response.status_code == 200
    assert Links(response.text).links == []
    assert "Er is nog geen nieuwsbrief verzonden." in response.text
    assert site.client.get("/nieuwsbrief", follow_redirects=True).status_code == 200


def test_the_feed_is_atom_with_one_entry_per_sent_edition(archive: Site) -> None:
    response = archive.client.get("/nieuwsbrief/atom.xml")
    parsed = feedparser.parse(response.content)
    base = archive.config.web_base_url

    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert response.headers["cache-control"].startswith("public")
    assert (parsed.bozo, parsed.version) == (False, "atom10")
    assert parsed.feed.id == f"{base}/nieuwsbrief/"
    assert parsed.feed.title == "Nieuwsbrieven van het IPO"
    assert parsed.feed.updated == "2026-11-05T08:00:00Z"
    links = {link.rel: link.href for link in parsed.feed.links}
    assert links == {"self": f"{base}/nieuwsbrief/atom.xml", "alternate": f"{base}/nieuwsbrief/"}
    assert [e.id for e in parsed.entries] == [f"{base}/nieuwsbrief/{key}" for key in SENT]
    assert [e.link for e in parsed.entries] == [f"{base}/nieuwsbrief/{key}" for key in SENT]
    first = parsed.entries[0]
    assert first.title == "IPO-nieuwsbrief voor Statenleden – nieuwsbrief-2026-11"
    assert first.updated == "2026-11-05T08:00:00Z"
    assert (
        first.summary == "Maandelijkse nieuwsbrief voor Statenleden, verzonden op donderdag 5 november 2026."
    )


def test_an_empty_feed_is_still_valid_atom(site: Site) -> None:
    parsed = feedparser.parse(site.client.get("/nieuwsbrief/atom.xml").content)

    assert (parsed.bozo, parsed.version, parsed.entries) == (False, "atom10", [])
    assert parsed.feed.updated == NOW.strftime("%Y-%m-%dT%H:%M:%SZ")


SUBJECT = 'Wonen & Bereikbaarheid: <script>alert(1)</script> en "meer"'


def test_subjects_with_markup_characters_are_escaped_in_page_and_feed(site: Site) -> None:
    seed(site, edition("nieuwsbrief-2026-11", EditionStatus.SENT, at(2026, 11, 5), subject=SUBJECT))

    page = site.client.get("/nieuwsbrief/").text
    parsed = feedparser.parse(site.client.get("/nieuwsbrief/atom.xml").content)

    assert "<script>" not in page
    assert "Wonen &amp; Bereikbaarheid: &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert parsed.bozo is False
    assert parsed.entries[0].title == SUBJECT


def test_the_feed_path_cannot_be_taken_by_an_edition_and_keys_still_work(archive: Site) -> None:
    seed(
        archive, edition("atom.xml", EditionStatus.SENT, at(2026, 11, 20))
    )  # cannot be made, but say it were

    feed = archive.client.get("/nieuwsbrief/atom.xml")

    assert feed.headers["content-type"].startswith("application/atom+xml")
    assert feedparser.parse(feed.content).version == "atom10"
    assert archive.client.get("/nieuwsbrief/nieuwsbrief-2026-11").status_code == 200
    assert archive.client.get("/nieuwsbrief/nieuwsbrief-2026-12").status_code == 404  # approved, not sent
