"""The audit log: who did what, when, to which edition.

`record` adds an entry to the caller's session, so it commits (or rolls back) with the change
it describes: the log never claims an approval that did not happen.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from comms.store.models import AuditEvent


class AuditAction(StrEnum):
    """What the log records; the Dutch label is what the console shows."""

    BUILD = "build"
    REBUILD = "rebuild"  # a new revision of an edition that existed
    EDIT_INTRODUCTION = "edit-introduction"
    TEST_SEND = "test-send"
    APPROVE = "approve"
    HOLD = "hold"
    DISCARD = "discard"
    SEND_EARLY = "send-early"  # sent before its planned time or outside the send window
    SEND_START = "send-start"
    LIFT_SUPPRESSION = "lift-suppression"
    LOGIN = "login"
    LOGIN_FAILED = "login-failed"
    LOCKED_OUT = "locked-out"
    LOGOUT = "logout"
    USER_ADDED = "user-added"
    USER_CHANGED = "user-changed"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    AuditAction.BUILD: "opgebouwd",
    AuditAction.REBUILD: "opnieuw opgebouwd",
    AuditAction.EDIT_INTRODUCTION: "inleiding bewerkt",
    AuditAction.TEST_SEND: "testversie verstuurd",
    AuditAction.APPROVE: "goedgekeurd",
    AuditAction.HOLD: "aangehouden",
    AuditAction.DISCARD: "vervallen verklaard",
    AuditAction.SEND_EARLY: "eerder verstuurd",
    AuditAction.SEND_START: "verzending gestart",
    AuditAction.LIFT_SUPPRESSION: "blokkade opgeheven",
    AuditAction.LOGIN: "ingelogd",
    AuditAction.LOGIN_FAILED: "inlogpoging mislukt",
    AuditAction.LOCKED_OUT: "account tijdelijk geblokkeerd",
    AuditAction.LOGOUT: "uitgelogd",
    AuditAction.USER_ADDED: "account aangemaakt",
    AuditAction.USER_CHANGED: "account gewijzigd",
}


def record(
    session: Session,
    at: datetime,
    actor: str,
    action: AuditAction,
    edition_key: str | None = None,
    detail: str = "",
) -> AuditEvent:
    """Add an entry to `session` (it commits with the change). `detail` is Dutch, for the team,
    and holds no recipient's personal data."""
    event = AuditEvent(at=at, actor=actor, action=action.value, edition_key=edition_key, detail=detail)
    session.add(event)
    return event


def entries(session: Session, edition_key: str | None = None, limit: int = 200) -> list[AuditEvent]:
    """The newest entries first; only an edition's when `edition_key` is given."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    if edition_key is not None:
        query = query.where(AuditEvent.edition_key == edition_key)
    return list(session.scalars(query))
