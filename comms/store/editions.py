"""Finding editions: the queries every layer that handles an edition shares."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from comms.errors import NotFound
from comms.store.models import Contact, Edition, EditionRevision, EditionStatus


class EditionNotFound(NotFound):
    pass


def find_edition(session: Session, key: str) -> Edition:
    """The edition with this key; EditionNotFound names the known keys."""
    edition = session.scalars(select(Edition).where(Edition.key == key)).first()
    if edition is None:
        known = ", ".join(session.scalars(select(Edition.key).order_by(Edition.key))) or "none yet"
        raise EditionNotFound(f"no edition {key!r} (known: {known})")
    return edition


def edition_or_none(session: Session, key: str) -> Edition | None:
    return session.scalars(select(Edition).where(Edition.key == key)).first()


def due_for_sending(session: Session, kind: str, now: datetime) -> list[str]:
    """Approved editions of a kind whose planned send time has come, oldest plan first."""
    query = (
        select(Edition.key)
        .where(Edition.kind == kind, Edition.status == EditionStatus.APPROVED, Edition.send_at <= now)
        .order_by(Edition.send_at, Edition.id)
    )
    return list(session.scalars(query))


def audience_size(session: Session, audience: ColumnElement[bool]) -> int:
    """Active contacts in an audience, as the ledger would snapshot them (before suppressions)."""
    count = select(func.count()).select_from(Contact).where(Contact.active.is_(True), audience)
    return session.scalar(count) or 0


def new_revision(session: Session, edition: Edition, by: str | None, now: datetime) -> EditionRevision:
    """Keep what was just built as the edition's next revision (1, 2, …) and make it current.
    Earlier revisions stay as they were: what was approved can always be shown again."""
    session.flush()  # a new edition needs its id
    by = by or None  # nobody named: stored as unknown, never as ""
    latest = session.scalar(
        select(func.max(EditionRevision.number)).where(EditionRevision.edition_id == edition.id)
    )
    revision = EditionRevision(
        edition_id=edition.id,
        number=(latest or 0) + 1,
        subject=edition.subject,
        html=edition.html,
        text=edition.text,
        summary=edition.summary or "{}",
        built_at=now,
        built_by=by,
        approved_at=edition.approved_at,
        approved_by=edition.approved_by,
    )
    session.add(revision)
    edition.revision, edition.built_by = revision.number, by
    return revision


def current_revision(session: Session, edition: Edition) -> EditionRevision | None:
    return session.scalars(
        select(EditionRevision).where(
            EditionRevision.edition_id == edition.id, EditionRevision.number == edition.revision
        )
    ).first()


def revisions_of(session: Session, edition: Edition) -> list[EditionRevision]:
    """Every revision, the newest first."""
    query = (
        select(EditionRevision)
        .where(EditionRevision.edition_id == edition.id)
        .order_by(EditionRevision.number.desc())
    )
    return list(session.scalars(query))
