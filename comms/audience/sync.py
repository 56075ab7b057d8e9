"""Bring the contacts table in line with the griffies' exports.

Contacts are matched by address. Preferences and suppressions are kept in their
own tables keyed by address, so a re-import never undoes an unsubscribe; a
contact missing from the exports is deactivated, not deleted, because the
message ledger still refers to it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from comms.audience.contacts import Contact as ContactRow
from comms.audience.resolve import tags
from comms.store.models import Contact


@dataclass(frozen=True, slots=True)
class ImportCounts:
    added: int
    updated: int
    deactivated: int


def new_public_id() -> str:
    return secrets.token_hex(8)


def import_contacts(session: Session, rows: Iterable[ContactRow], now: datetime) -> ImportCounts:
    existing = {c.email: c for c in session.scalars(select(Contact))}
    seen: set[str] = set()
    added = updated = 0
    for row in rows:
        seen.add(row.email)
        contact = existing.get(row.email)
        if contact is None:
            contact = Contact(email=row.email, public_id=new_public_id())
            session.add(contact)
            added += 1
        else:
            updated += 1
        _copy(row, contact, now)
    gone = [c.id for email, c in existing.items() if email not in seen and c.active]
    if gone:
        session.execute(update(Contact).where(Contact.id.in_(gone)).values(active=False, updated_at=now))
    return ImportCounts(added, updated, len(gone))


def _copy(row: ContactRow, contact: Contact, now: datetime) -> None:
    contact.first_name = row.first_name
    contact.infix = row.infix
    contact.last_name = row.last_name
    contact.province = row.province
    contact.party = row.party
    contact.roles = tags(row.roles)
    contact.themes = tags(row.themes)
    contact.bodies = tags({seat.stored for seat in row.bodies})
    contact.source_file = f"{row.source}, row {row.row}"
    contact.active = True
    contact.updated_at = now
