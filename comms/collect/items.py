"""What a source yields: items, already sanitised, plus what went wrong."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from comms.config import ItemKind, SourceConfig
from comms.errors import CommsError
from comms.problems import Problem, Severity


@dataclass(frozen=True, slots=True)
class SourceState:
    """Validators kept per source for conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class CollectedItem:
    """One feed entry or calendar event, every text field safe to show.

    `title`, `location` are plain text on one line; `summary_html` passed the
    allow-list sanitiser; `link` is an http(s) URL or None. Datetimes are aware (UTC).
    """

    source: str
    kind: ItemKind
    title: str
    link: str | None
    summary_html: str
    guid: str | None = None
    published_at: datetime | None = None
    categories: tuple[str, ...] = ()
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    location: str | None = None
    all_day: bool = False  # starts_at is local midnight (Europe/Amsterdam); show no time

    @property
    def content_hash(self) -> str:
        text = "\x1f".join([self.title, self.summary_html, self.link or ""])
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def identity(self) -> str:
        """Ledger key: the guid (scoped to its source), then the link, then the content."""
        if self.guid:
            return f"guid:{self.source}:{self.guid}"[:500]
        if self.link:
            return f"link:{self.link}"[:500]
        return f"hash:{self.content_hash}"


@dataclass(slots=True)
class SourceResult:
    """The outcome of collecting one source: feedparser's `bozo`, made explicit."""

    source: SourceConfig
    items: list[CollectedItem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    state: SourceState = field(default_factory=SourceState)
    not_modified: bool = False  # HTTP 304: nothing new since the last fetch

    @property
    def is_broken(self) -> bool:
        """The source could not be read at all and was skipped."""
        return any(p.is_error and p.subject is None for p in self.problems)


class LeftOut(CommsError):
    """One entry of a source (a feed entry, an event, a meeting) is left out, for the reason
    given: raised and caught inside the parsers, where it becomes a Problem and the other
    entries go on. It never leaves comms.collect."""

    def __init__(self, reason: str, severity: Severity = Severity.ERROR):
        super().__init__(reason)
        self.severity = severity
