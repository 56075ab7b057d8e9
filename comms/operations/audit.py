"""The audit log as the team reads it: who did what, when, to which edition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from comms.service import Service
from comms.store import audit
from comms.store.audit import AuditAction


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime  # UTC
    actor: str
    action: AuditAction
    edition_key: str | None
    detail: str

    @property
    def label(self) -> str:
        return self.action.label


def recent(service: Service, edition_key: str | None = None, limit: int = 200) -> list[AuditEntry]:
    """The newest entries first; only an edition's when `edition_key` is given."""
    with service.db.session() as session:
        return [
            AuditEntry(e.at, e.actor, AuditAction(e.action), e.edition_key, e.detail)
            for e in audit.entries(session, edition_key, limit)
        ]
