"""Segments as SQL, so the audience is selected by the database, never loaded whole."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import and_, not_, or_, true
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from comms.audience.segments import Segment
from comms.domain import SEATS
from comms.store.models import Contact


class SegmentSource(Protocol):
    """Where segment names are looked up (the service: audiences/segments.toml)."""

    def segment(self, name: str) -> Segment: ...


class Audience(Protocol):
    """Who an edition goes to: what `Edition.audience` stores, and the same as SQL.

    Each mailing kind reads its own stored form (a segment name, a province's GS for a
    meeting, a survey round's invitees): the string is parsed in one place per form.
    """

    @property
    def stored(self) -> str: ...

    @property
    def label(self) -> str:
        """Who it is, in Dutch, for the team's console ("segment statenleden", "GS van Utrecht")."""
        ...

    def clause(self, segments: SegmentSource) -> ColumnElement[bool]: ...


@dataclass(frozen=True, slots=True)
class SegmentAudience:
    """A segment of audiences/segments.toml, by name."""

    name: str

    @property
    def stored(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        return f"segment {self.name}"

    def clause(self, segments: SegmentSource) -> ColumnElement[bool]:
        return segment_clause(segments.segment(self.name))


def _any_tag(column: InstrumentedAttribute[str], tags: frozenset[str]) -> ColumnElement[bool]:
    # roles and themes are stored delimited (",statenlid,av-lid,"): one LIKE per tag
    return or_(*(column.like(f"%,{tag},%") for tag in sorted(tags)))


def segment_clause(segment: Segment) -> ColumnElement[bool]:
    """Who is in the segment, as a WHERE clause on contacts."""
    conditions: list[ColumnElement[bool]] = []
    if segment.roles:
        conditions.append(_any_tag(Contact.roles, segment.roles))
    if segment.provinces:
        conditions.append(Contact.province.in_(sorted(segment.provinces)))
    if segment.themes:
        conditions.append(_any_tag(Contact.themes, segment.themes))
    if segment.exclude_roles:
        conditions.append(not_(_any_tag(Contact.roles, segment.exclude_roles)))
    return and_(true(), *conditions)


def seat_clause(body_id: str) -> ColumnElement[bool]:
    """Member or substitute of the body (a Body.id): seats are stored as ",ipo-bestuur:lid,"."""
    return _any_tag(Contact.bodies, frozenset(f"{body_id}:{seat}" for seat in SEATS))


def tags(values: frozenset[str] | set[str]) -> str:
    """The stored form of a set of roles, themes or seats ("bac-landelijk-gebied:lid")."""
    return "," + ",".join(sorted(values)) + "," if values else ","


def tags_of(stored: str) -> frozenset[str]:
    return frozenset(t for t in stored.split(",") if t)
