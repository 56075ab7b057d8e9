"""RSS 2.0 and Atom feeds to CollectedItems, via feedparser.

feedparser recovers from almost anything and only says so in `bozo`. Here a feed
that is not well-formed XML is refused as a whole: a truncated or garbled feed
would otherwise yield a few entries that look complete and silently lose the rest.
"""

from __future__ import annotations

import calendar
import dataclasses
import html
import html.entities
import re
import time
import xml.sax
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser
from feedparser.exceptions import ThingsNobodyCaresAboutButMe

from comms.collect.items import CollectedItem, LeftOut
from comms.collect.sanitise import clean_html, clean_text, safe_link, url_scheme
from comms.config import SourceConfig
from comms.problems import Problem, Severity

_SUBJECT_LENGTH = 80
_ENTITY_REFERENCE = re.compile(rb"&([A-Za-z_][\w.-]*);")
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY\s+([A-Za-z_][\w.-]*)")
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})

# expat's wording, said so that an editor understands it.
_SAX_MESSAGES = {
    "no element found": "the document ends too early (truncated?)",
    "unclosed token": "the document ends too early (truncated?)",
    "unclosed CDATA section": "the document ends too early (truncated?)",
    "not well-formed (invalid token)": "invalid character or markup",
    "syntax error": "syntax error (this does not look like XML)",
}


def parse_feed(source: SourceConfig, body: bytes) -> tuple[list[CollectedItem], list[Problem]]:
    """Items of an RSS or Atom feed; a feed that is not well-formed gives one error, no items."""
    if not body.strip():
        return [], [Problem(source.name, "the feed is empty")]
    parsed = feedparser.parse(body, sanitize_html=False, response_headers=base_headers(source))
    fatal = feed_error(source, body, parsed)
    problems: list[Problem] = []
    if fatal is not None and _is_html_entity_slip(parsed):
        # `&nbsp;` and friends are common in real feeds and feedparser recovers every
        # entry; tolerate and report (its bozo flag) rather than lose the whole feed.
        problems.append(
            dataclasses.replace(
                fatal,
                severity=Severity.WARNING,
                reason=f"{fatal.reason}; the entries were recovered",
            )
        )
    elif fatal is not None:
        return [], [fatal]
    undefined = undefined_entities(body) if _is_html_entity_slip(parsed) else frozenset()
    items: list[CollectedItem] = []
    for number, entry in enumerate(parsed.entries, start=1):
        subject = _subject(entry, number)
        try:
            _refuse_undefined_entities(entry, undefined)
            item, warnings = _item(source, entry)
        except LeftOut as skip:
            problems.append(Problem(source.name, f"entry skipped: {skip}", subject=subject))
            continue
        items.append(item)
        problems += [
            Problem(source.name, reason, subject=subject, severity=Severity.WARNING) for reason in warnings
        ]
    return items, problems


def base_headers(source: SourceConfig) -> dict[str, str]:
    """Response headers that let feedparser resolve relative links against the feed's address."""
    if urlsplit(source.url).scheme in ("http", "https"):
        return {"content-location": source.url}
    return {}


def feed_error(source: SourceConfig, body: bytes, parsed: Any) -> Problem | None:
    """The reason to refuse the whole feed, if there is one."""
    exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(exc, ThingsNobodyCaresAboutButMe):
        exc = None  # e.g. an encoding declared wrongly but recovered: the content is fine
    if not parsed.get("version"):
        if _looks_like_html(body):  # an error page or a login page, most likely
            return Problem(source.name, "not an RSS or Atom feed (it is an HTML page)")
        reason = "not an RSS or Atom feed"
        if exc is not None:
            reason += f": {_xml_reason(exc)}"
        return Problem(source.name, reason, line=_line(exc, body))
    if exc is not None:
        return Problem(source.name, _xml_reason(exc), line=_line(exc, body))
    return None


def _is_html_entity_slip(parsed: Any) -> bool:
    exc = parsed.get("bozo_exception")
    return (
        isinstance(exc, xml.sax.SAXParseException)
        and exc.getMessage() == "undefined entity"
        and bool(parsed.get("version"))
        and bool(parsed.entries)
    )


def undefined_entities(body: bytes) -> frozenset[str]:
    """Entity names the feed uses but nobody defines: not XML's five, not HTML's (which
    feedparser's lenient parser resolves, and real feeds use), not declared in its DTD."""
    used = {name.decode("ascii") for name in _ENTITY_REFERENCE.findall(body)}
    declared = {name.decode("ascii") for name in _ENTITY_DECLARATION.findall(body)}
    return frozenset(
        name for name in used - declared - _XML_ENTITIES if f"{name};" not in html.entities.html5
    )


def _refuse_undefined_entities(entry: dict[str, Any], undefined: frozenset[str]) -> None:
    """LeftOut for an entry that holds one: feedparser's lenient parser keeps it as text
    ('&lol9;' as a title), which is junk, not what the feed meant."""
    if not undefined:
        return
    texts = [entry.get(key) or "" for key in ("title", "link", "id", "summary")]
    texts += [content.get("value", "") for content in entry.get("content") or []]
    # The lenient parser leaves '&name;' as it is, or makes it '&amp;name' or '&name'.
    names = "|".join(re.escape(name) for name in sorted(undefined))
    pattern = re.compile(rf"&(?:amp;)?({names})(?![\w.-])")
    for text in texts:
        found = pattern.search(text)
        if found:
            reason = f"it holds the undefined entity &{found[1]}; (the feed is not well-formed there)"
            raise LeftOut(reason)


def _xml_reason(exc: Exception) -> str:
    if isinstance(exc, xml.sax.SAXParseException):
        message = exc.getMessage()
        return f"not well-formed XML: {_SAX_MESSAGES.get(message, message)}"
    return f"not well-formed XML: {exc}"


def _line(exc: Exception | None, body: bytes) -> int | None:
    if not isinstance(exc, xml.sax.SAXParseException):
        return None
    line = exc.getLineNumber()
    if line is None:
        return None
    # feedparser puts an XML declaration line in front of a feed that has none.
    if not body.lstrip(b"\xef\xbb\xbf").startswith(b"<?xml"):
        line -= 1
    return line if line >= 1 else None


def _looks_like_html(body: bytes) -> bool:
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def _subject(entry: dict[str, Any], number: int) -> str:
    subject = clean_text(entry.get("title", "")) or clean_text(entry.get("id", ""))
    if len(subject) > _SUBJECT_LENGTH:
        subject = subject[: _SUBJECT_LENGTH - 1] + "…"
    return subject or f"entry {number}"


def _item(source: SourceConfig, entry: dict[str, Any]) -> tuple[CollectedItem, list[str]]:
    title = clean_text(entry.get("title", ""))
    if not title:
        raise LeftOut("it has no title")
    link = _link(entry)
    published_at, warnings = _published(entry)
    summary_html, removed = clean_html(_summary(entry))
    if removed:
        warnings.append("unsafe content removed from the summary: " + "; ".join(removed))
    item = CollectedItem(
        source=source.name,
        kind=source.kind,
        title=title,
        link=link,
        summary_html=summary_html,
        guid=clean_text(entry.get("id", "")) or None,
        published_at=published_at,
        categories=_categories(entry),
    )
    return item, warnings


def _link(entry: dict[str, Any]) -> str:
    raw = (entry.get("link") or "").strip()
    if not raw:
        raise LeftOut("it has no link")
    link = safe_link(raw)
    if link is None:
        scheme = url_scheme(raw)
        kind = f"a {scheme}: URL" if scheme else "not an absolute address"
        raise LeftOut(f"its link is {kind}; only http and https links are used")
    return link


def _published(entry: dict[str, Any]) -> tuple[datetime | None, list[str]]:
    # dict.get: FeedParserDict maps a missing "updated" to "published", with a warning.
    for key in ("published_parsed", "updated_parsed"):
        parsed: time.struct_time | None = dict.get(entry, key)
        if parsed is not None:
            return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC), []
    raw = dict.get(entry, "published") or dict.get(entry, "updated")
    if raw:
        reason = f"date '{clean_text(raw)[:40]}' not understood; the time it is first seen is used"
    else:
        reason = "no publication date; the time it is first seen is used"
    return None, [reason]


def _summary(entry: dict[str, Any]) -> str:
    """The entry's summary, else its full content, as HTML."""
    details = [entry.get("summary_detail"), *(entry.get("content") or [])]
    for detail in details:
        if detail and detail.get("value", "").strip():
            value = detail["value"]
            if detail.get("type") == "text/plain":
                return "<p>" + html.escape(value) + "</p>"
            return value
    return ""


def _categories(entry: dict[str, Any]) -> tuple[str, ...]:
    names: list[str] = []
    for tag in entry.get("tags") or []:
        for raw in (tag.get("term"), tag.get("label")):
            name = clean_text(raw or "")
            if name and name not in names:
                names.append(name)
    return tuple(names)
