"""The archive's Atom 1.0 feed (RFC 4287): one entry per sent edition, absolute URLs.

Written with ElementTree, so a subject with "&" or "<" is escaped by the serialiser, never by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from comms.editions.views import Published

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"
TITLE = "Nieuwsbrieven van het IPO"
AUTHOR = "Interprovinciaal Overleg (IPO)"


def archive_url(base_url: str) -> str:
    return f"{base_url}/nieuwsbrief/"


def feed_url(base_url: str) -> str:
    return f"{base_url}/nieuwsbrief/atom.xml"


def edition_url(base_url: str, key: str) -> str:
    return f"{base_url}/nieuwsbrief/{key}"


def feed(base_url: str, editions: Sequence[Published], now: datetime) -> bytes:
    """The feed; its `updated` is the newest edition's send time (now, while there is none)."""
    root = ET.Element("feed", {"xmlns": ATOM, "xml:lang": "nl"})
    _text(root, "id", archive_url(base_url))
    _text(root, "title", TITLE)
    _text(
        root,
        "subtitle",
        "Elke verzonden nieuwsbrief, zoals hij in de mail stond, zonder persoonlijke gegevens.",
    )
    _text(root, "updated", _stamp(editions[0].sent_at if editions else now))
    ET.SubElement(root, "link", {"rel": "self", "type": MEDIA_TYPE, "href": feed_url(base_url)})
    ET.SubElement(root, "link", {"rel": "alternate", "type": "text/html", "href": archive_url(base_url)})
    _text(ET.SubElement(root, "author"), "name", AUTHOR)
    for edition in editions:
        url = edition_url(base_url, edition.key)
        entry = ET.SubElement(root, "entry")
        _text(entry, "id", url)
        _text(entry, "title", edition.subject)
        _text(entry, "updated", _stamp(edition.sent_at))
        _text(entry, "published", _stamp(edition.sent_at))
        ET.SubElement(entry, "link", {"rel": "alternate", "type": "text/html", "href": url})
        _text(entry, "summary", f"{edition.kind_label}, verzonden op {edition.sent_on}.")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def _stamp(moment: datetime) -> str:
    """RFC 3339 in UTC: '2026-12-01T08:00:00Z'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
