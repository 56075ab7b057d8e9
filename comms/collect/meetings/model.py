"""A meeting of an IPO body as every format gives it, and as the meeting ledger stores it (JSON)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from comms.collect.meetings.changes import changes_between
from comms.domain import BODIES
from comms.problems import Problem


class MeetingStatus(StrEnum):
    PLANNED = "planned"
    CHANGED = "changed"  # the IPO marked it changed (moved, agenda reissued)
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        """The Dutch word a recipient reads: gepland, gewijzigd, geannuleerd."""
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    MeetingStatus.PLANNED: "gepland",
    MeetingStatus.CHANGED: "gewijzigd",
    MeetingStatus.CANCELLED: "geannuleerd",
}


@dataclass(frozen=True, slots=True)
class Document:
    title: str
    url: str  # http(s) only


@dataclass(frozen=True, slots=True)
class AgendaItem:
    number: str  # as the agenda numbers it: "3", "4a"
    title: str
    description: str  # plain text on one line
    documents: tuple[Document, ...] = ()


@dataclass(frozen=True, slots=True)
class Meeting:
    """One meeting of an IPO body; every text is plain, single-line and safe in a mail header."""

    uid: str
    body: str  # a domain.BODIES id
    title: str
    starts_at: datetime  # aware UTC
    ends_at: datetime | None
    location: str | None
    status: MeetingStatus
    items: tuple[AgendaItem, ...]
    url: str | None
    source: str  # the configured source it came from; not part of the content
    all_day: bool = False  # only a date was given: starts_at is local midnight, show no time

    @property
    def is_cancelled(self) -> bool:
        return self.status is MeetingStatus.CANCELLED

    @property
    def body_name(self) -> str:
        return next((b.name for b in BODIES if b.id == self.body), self.body)

    @property
    def content_hash(self) -> str:
        """Changes whenever anything a recipient reads changes; the source does not count."""
        data = self._as_dict()
        del data["source"]
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_json(self) -> str:
        return json.dumps(self._as_dict(), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Meeting:
        """The inverse of to_json; raises ValueError, KeyError or TypeError on anything else."""
        data = json.loads(text)
        items = tuple(
            AgendaItem(
                number=item["number"],
                title=item["title"],
                description=item["description"],
                documents=tuple(Document(d["title"], d["url"]) for d in item["documents"]),
            )
            for item in data["items"]
        )
        return cls(
            uid=data["uid"],
            body=data["body"],
            title=data["title"],
            starts_at=_from_iso(data["starts_at"]),
            ends_at=_from_iso(data["ends_at"]) if data["ends_at"] else None,
            location=data["location"],
            status=MeetingStatus(data["status"]),
            items=items,
            url=data["url"],
            source=data["source"],
            all_day=bool(data.get("all_day", False)),
        )

    def changes_from(self, previous: Meeting) -> list[str]:
        """What a recipient of the previous version should know, in Dutch; [] when nothing."""
        return changes_between(previous, self)

    def _as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["starts_at"] = self.starts_at.astimezone(UTC).isoformat()
        data["ends_at"] = self.ends_at.astimezone(UTC).isoformat() if self.ends_at else None
        data["status"] = self.status.value
        return data


def _from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass(slots=True)
class MeetingFeed:
    """The meetings of one source and what was wrong with it: feedparser's bozo, made explicit."""

    source: str
    meetings: list[Meeting] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def bozo(self) -> bool:
        return bool(self.problems)

    @property
    def is_broken(self) -> bool:
        """The source could not be read at all (an error not about one meeting)."""
        return any(p.is_error and p.subject is None for p in self.problems)
