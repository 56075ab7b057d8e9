"""The item ledger: each collected item once, and the one edition it went into.

Identity is the guid (scoped to its source), then the link, then a hash of the
content; an item seen again under another source with the same link is the
same item, so the IPO's and BIJ12's copies of one announcement appear once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from comms.collect.items import CollectedItem
from comms.store.models import Item


@dataclass(frozen=True, slots=True)
class LedgerCounts:
    new: int = 0
    known: int = 0
    updated: int = 0  # still unsent, and its text changed at the source


def record_items(session: Session, items: list[CollectedItem], now: datetime) -> LedgerCounts:
    new = known = updated = 0
    for collected in items:
        existing = _find(session, collected)
        if existing is None:
            session.add(_new_item(collected, now))
            session.flush()  # later items in this batch may share the link
            new += 1
        elif existing.edition_id is None and existing.content_hash != collected.content_hash:
            _refresh(existing, collected)
            updated += 1
        else:
            known += 1  # an item already in an edition is never changed or sent again
    return LedgerCounts(new, known, updated)


def _find(session: Session, item: CollectedItem) -> Item | None:
    conditions = [Item.identity == item.identity]
    if item.link:
        conditions.append(Item.link == item.link)
    conditions.append(Item.content_hash == item.content_hash)
    return session.scalars(select(Item).where(or_(*conditions)).limit(1)).first()


def _new_item(item: CollectedItem, now: datetime) -> Item:
    return Item(
        identity=item.identity,
        source=item.source,
        kind=item.kind.value,
        guid=item.guid,
        link=item.link,
        content_hash=item.content_hash,
        title=item.title,
        summary_html=item.summary_html,
        categories="|".join(item.categories),
        published_at=item.published_at or now,  # undated entries count from first sight
        first_seen_at=now,
        starts_at=item.starts_at,
        ends_at=item.ends_at,
        all_day=item.all_day,
        location=item.location,
    )


def _refresh(existing: Item, item: CollectedItem) -> None:
    existing.title = item.title
    existing.summary_html = item.summary_html
    existing.content_hash = item.content_hash
    existing.categories = "|".join(item.categories)
    existing.starts_at = item.starts_at
    existing.ends_at = item.ends_at
    existing.all_day = item.all_day
    existing.location = item.location
