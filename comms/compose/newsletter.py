"""Compose the monthly Statenleden newsletter from the item ledger.

An edition takes the items since the previous edition (the first one looks back
`first_window_days`), plus items collected since then that were dated a little
earlier, so nothing falls between two editions. Each item goes into exactly one
edition: it is assigned in the ledger when the edition is built.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import markdown
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from comms.collect.sanitise import cap_html, clean_html
from comms.compose.themes import ThemeMap
from comms.config import Config, ItemKind
from comms.dates import date_and_time, local_text, long_date, month_name, time_range
from comms.domain import THEMES, province_by_name
from comms.errors import Refused
from comms.problems import Problem, Severity
from comms.reasons import Reason
from comms.store.models import Edition, EditionStatus, Item
from comms.text import strip_invisible

OTHER_SECTION = ("overig", "Overig nieuws")
_LEFT_OUT_SHOWN = 20  # left-out items named one by one in the build report; the rest counted
LATE_ARRIVAL_GRACE = timedelta(days=31)


@dataclass(frozen=True, slots=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        year, _, month = text.partition("-")
        value = cls(int(year), int(month))
        if not 1 <= value.month <= 12 or not 2000 <= value.year <= 2100:
            raise ValueError(f"not a month: {text!r} (use YYYY-MM)")
        return value

    @classmethod
    def of(cls, moment: datetime) -> Month:
        return cls(moment.year, moment.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return month_name(self.year, self.month)

    KEY_PREFIX = "nieuwsbrief-"

    @property
    def edition_key(self) -> str:
        return f"{self.KEY_PREFIX}{self}"


@dataclass(frozen=True, slots=True)
class Entry:
    title: str
    link: str | None
    summary_html: str
    published_at: datetime
    source: str
    read_more: str | None = None  # the item's link when its text was cut ("Lees verder")


@dataclass(frozen=True, slots=True)
class Event:
    title: str
    link: str | None
    summary_html: str
    starts_at: datetime
    ends_at: datetime | None
    location: str | None
    source: str
    all_day: bool = False
    read_more: str | None = None  # the item's link when its text was cut ("Lees verder")

    @property
    def when(self) -> str:
        """'Dinsdag 8 december 2026, 9.30 – 11.00 uur', or the date alone for all-day events."""
        day = long_date(self.starts_at).capitalize()
        return day if self.all_day else f"{day}, {time_range(self.starts_at, self.ends_at)}"


@dataclass
class Section:
    id: str
    title: str
    entries: list[Entry] = field(default_factory=list)


@dataclass
class NewsletterContent:
    """The edition's items, grouped; the basis of every variant."""

    month: Month
    intro_html: str
    sections: list[Section]  # the five themes, then "overig"; empty ones included
    events: list[Event]
    av_entries: list[Entry]
    province_entries: dict[str, list[Entry]]  # by province name

    @property
    def item_count(self) -> int:
        themed = sum(len(s.entries) for s in self.sections)
        by_province = sum(len(v) for v in self.province_entries.values())
        return themed + len(self.events) + len(self.av_entries) + by_province

    @property
    def is_empty(self) -> bool:
        return self.item_count == 0

    def summary(self) -> dict[str, int]:
        counts = {s.title: len(s.entries) for s in self.sections if s.entries}
        counts["Agenda"] = len(self.events)
        counts["Algemene Vergadering"] = len(self.av_entries)
        counts["Provincies"] = sum(len(v) for v in self.province_entries.values())
        return counts


@dataclass
class Composition:
    edition: Edition
    content: NewsletterContent
    problems: list[Problem]
    left_out: int = 0  # items over [newsletter] max_items, left for no edition

    @property
    def is_held(self) -> bool:
        return self.edition.status == EditionStatus.HELD


def nothing_new(since: datetime) -> Reason:
    """Why an edition with nothing to say is held."""
    return Reason(
        f"no new items since {local_text(since)}; not sent",
        f"er zijn sinds {date_and_time(since)} geen nieuwe berichten",
    )


class AlreadySent(Refused):
    """A sent (or sending) edition is never rebuilt."""


def compose_newsletter(
    session: Session,
    config: Config,
    themes: ThemeMap,
    month: Month,
    now: datetime,
    *,
    kind: str,
    audience: str,
) -> Composition:
    """Build (or rebuild, while unsent) the edition of `kind` for `month` and assign its items."""
    edition = _fresh_edition(session, config, month, now, kind, audience)
    previous = _previous_edition(session, edition)
    window_start = (
        previous.window_end
        if previous and previous.window_end
        else (now - timedelta(days=config.newsletter.first_window_days))
    )
    edition.window_start, edition.window_end = window_start, now
    eligible = _eligible_items(session, config, window_start, now, late_arrivals=previous is not None)
    items, left_out = within_cap(eligible, config.newsletter.max_items, now)
    for item in items:
        item.edition_id = edition.id
    intro_html, problems = _intro(config, month, edition.introduction)
    problems += left_out_problems(config, left_out)
    content = _group(config, themes, month, intro_html, items)
    if content.is_empty:
        for item in items:
            item.edition_id = None  # a held edition keeps nothing back from the next one
        edition.set_status(EditionStatus.HELD, nothing_new(window_start))
    edition.summary = json.dumps(content.summary(), ensure_ascii=False)
    return Composition(edition, content, problems, len(left_out))


def _fresh_edition(
    session: Session, config: Config, month: Month, now: datetime, kind: str, audience: str
) -> Edition:
    edition = session.scalars(select(Edition).where(Edition.key == month.edition_key)).first()
    if edition is not None:
        if edition.status in (EditionStatus.SENDING, EditionStatus.SENT):
            raise AlreadySent(f"{edition.key} is {edition.status}; a sent edition is never rebuilt")
        session.execute(update(Item).where(Item.edition_id == edition.id).values(edition_id=None))
        edition.set_status(EditionStatus.DRAFT)
        edition.approved_at = edition.approved_by = None
        edition.built_at = now
    else:
        edition = Edition(key=month.edition_key, kind=kind, built_at=now, status=EditionStatus.DRAFT)
        session.add(edition)
    edition.subject = config.newsletter.subject.format(month=month.label)
    edition.audience = audience
    session.flush()
    return edition


def _previous_edition(session: Session, edition: Edition) -> Edition | None:
    query = (
        select(Edition)
        .where(
            Edition.kind == edition.kind,
            Edition.id != edition.id,
            Edition.status.not_in([EditionStatus.HELD, EditionStatus.CANCELLED]),
            Edition.key < edition.key,
        )
        .order_by(Edition.key.desc())
    )
    return session.scalars(query.limit(1)).first()


def _eligible_items(
    session: Session, config: Config, since: datetime, now: datetime, late_arrivals: bool
) -> list[Item]:
    news_kinds = [ItemKind.NEWS.value, ItemKind.POSITION_PAPER.value]
    horizon = now + timedelta(days=config.newsletter.event_horizon_days)
    # Collected after the last edition, though dated shortly before it: not seen by anyone yet.
    late = and_(Item.first_seen_at >= since, Item.published_at >= since - LATE_ARRIVAL_GRACE)
    query = select(Item).where(
        Item.edition_id.is_(None),
        or_(
            and_(
                Item.kind.in_(news_kinds),
                Item.published_at <= now,
                or_(Item.published_at >= since, late) if late_arrivals else Item.published_at >= since,
            ),
            and_(Item.kind == ItemKind.EVENT.value, Item.starts_at >= now, Item.starts_at <= horizon),
        ),
    )
    return _without_duplicate_links(list(session.scalars(query.order_by(Item.published_at, Item.id))))


def within_cap(items: list[Item], max_items: int, now: datetime) -> tuple[list[Item], list[Item]]:
    """The items an edition keeps (at most `max_items`: the ones nearest its date, i.e. the
    newest news and the soonest events) and those left out, each in the order given. Left out
    items stay unassigned in the ledger."""
    if len(items) <= max_items:
        return items, []

    def distance(item: Item) -> tuple[timedelta, int]:
        moment = (item.starts_at if item.kind == ItemKind.EVENT.value else item.published_at) or now
        return abs(_aware(moment) - now), item.id

    keep = {id(item) for item in sorted(items, key=distance)[:max_items]}
    return [i for i in items if id(i) in keep], [i for i in items if id(i) not in keep]


def left_out_problems(config: Config, left_out: list[Item]) -> list[Problem]:
    """What the build report says about items over the cap: how many, and the first of them."""
    if not left_out:
        return []
    cap = config.newsletter.max_items
    summary = Problem(
        "[newsletter] max_items",
        f"{len(left_out)} item(s) left out: an edition holds at most {cap}; "
        "the newest news and the soonest events were kept",
        severity=Severity.WARNING,
    )
    shown = [
        Problem(
            item.source, "left out of this edition (max_items)", subject=item.title, severity=Severity.WARNING
        )
        for item in left_out[:_LEFT_OUT_SHOWN]
    ]
    more = len(left_out) - len(shown)
    if more:
        shown.append(
            Problem("[newsletter] max_items", f"… and {more} more left out", severity=Severity.WARNING)
        )
    return [summary, *shown]


def _aware(moment: datetime) -> datetime:
    # SQLite gives naive datetimes back; every stored time is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _without_duplicate_links(items: list[Item]) -> list[Item]:
    seen: set[str] = set()
    unique: list[Item] = []
    for item in items:
        if item.link and item.link in seen:
            continue
        if item.link:
            seen.add(item.link)
        unique.append(item)
    return unique


def _intro(config: Config, month: Month, edited: str | None) -> tuple[str, list[Problem]]:
    """The editor's introduction: as edited in the console, else the month's content file;
    Markdown, sanitised alike."""
    if edited is not None:
        return introduction_html(edited), []
    path: Path = config.resolve(config.newsletter.intro_dir) / f"{month}.md"
    if not path.exists():
        return "", [Problem(str(path), "no editor's introduction for this month", severity=Severity.WARNING)]
    return introduction_html(path.read_text(encoding="utf-8")), []


def introduction_html(text: str) -> str:
    """The editor's Markdown as safe HTML (scripts, styles and foreign attributes removed)."""
    cleaned, _ = clean_html(markdown.markdown(text))
    return cleaned


def introduction_of(config: Config, month: Month, edited: str | None) -> str:
    """The Markdown an editor starts from: the edited text, else the month's content file."""
    if edited is not None:
        return edited
    path: Path = config.resolve(config.newsletter.intro_dir) / f"{month}.md"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _group(
    config: Config, themes: ThemeMap, month: Month, intro_html: str, items: list[Item]
) -> NewsletterContent:
    titles = {s.name: s.title for s in config.sources}
    source_province = {s.name: s.province for s in config.sources if s.province}
    av_categories = {c.lower() for c in config.newsletter.av_categories}
    sections = [Section(t.id, t.name) for t in THEMES] + [Section(*OTHER_SECTION)]
    by_id = {s.id: s for s in sections}
    content = NewsletterContent(month, intro_html, sections, [], [], {})
    for item in items:
        categories = [c for c in item.categories.split("|") if c]
        if item.kind == ItemKind.EVENT.value:
            content.events.append(_event(item, titles, config.newsletter.max_item_chars))
            continue
        summary_html, cut = cap_html(item.summary_html, config.newsletter.max_item_chars)
        entry = Entry(
            strip_invisible(item.title),
            item.link,
            summary_html,
            item.published_at,
            titles.get(item.source, item.source),
            read_more=item.link if cut else None,
        )
        province = _province_of(categories, source_province.get(item.source))
        if any(c.lower() in av_categories for c in categories):
            content.av_entries.append(entry)
        elif province:
            content.province_entries.setdefault(province, []).append(entry)
        else:
            theme = themes.classify(categories, f"{entry.title} {entry.summary_html}")  # as capped
            by_id[theme.id if theme else OTHER_SECTION[0]].entries.append(entry)
    content.events.sort(key=lambda e: e.starts_at)
    for section in sections:
        section.entries.sort(key=lambda e: e.published_at, reverse=True)
    return content


def _province_of(categories: list[str], source_province: str | None) -> str | None:
    for name in [source_province or "", *categories]:
        province = province_by_name(name) if name else None
        if province:
            return province.name
    return None


def _event(item: Item, titles: dict[str, str], max_chars: int) -> Event:
    assert item.starts_at is not None
    summary_html, cut = cap_html(item.summary_html, max_chars)
    return Event(
        strip_invisible(item.title),
        item.link,
        summary_html,
        item.starts_at,
        item.ends_at,
        item.location,
        titles.get(item.source, item.source),
        item.all_day,
        read_more=item.link if cut else None,
    )
