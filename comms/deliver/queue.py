"""The message ledger as a queue: snapshot, claim, acknowledge.

Every (edition, contact) pair gets one row when sending starts, so nobody in
the audience is skipped and nobody is queued twice (a unique constraint).
Workers claim batches, deliver them, then acknowledge. A claim whose worker
died is released again: at once when the worker ran on this host and its
process is gone, otherwise after `claim_timeout`. The crash window is the
time between a transport accepting a message and its acknowledgement.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from comms.deliver.transport import DeliveryResult
from comms.render.message import Recipient
from comms.store.models import Contact, Message, MessageStatus, Suppression

AV_ROLE = "%,av-lid,%"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def variant_expression() -> ColumnElement[str]:
    """The variant key in SQL, as render.newsletter.Variant.key builds it in Python."""
    av = case((Contact.roles.like(AV_ROLE), literal("|av")), else_=literal(""))
    return func.coalesce(Contact.province, literal("")) + av


def is_suppressed(kind: str) -> ColumnElement[bool]:
    return exists().where(Suppression.email == Contact.email, Suppression.scope.in_(["*", kind]))


def snapshot(session: Session, edition_id: int, kind: str, audience: ColumnElement[bool]) -> int:
    """Insert one ledger row per audience member, in SQL: the audience never sits in memory."""
    status = case(
        (is_suppressed(kind), literal(MessageStatus.SUPPRESSED.value)),
        else_=literal(MessageStatus.PENDING.value),
    )
    already = exists().where(Message.edition_id == edition_id, Message.contact_id == Contact.id)
    rows = select(literal(edition_id), Contact.id, variant_expression(), status, literal(0)).where(
        Contact.active.is_(True), audience, ~already
    )
    before = _total(session, edition_id)
    session.execute(
        insert(Message).from_select(["edition_id", "contact_id", "variant", "status", "attempts"], rows)
    )
    # counted, not rowcount: drivers disagree on rowcount for INSERT … SELECT
    return _total(session, edition_id) - before


def _total(session: Session, edition_id: int) -> int:
    count = select(func.count()).select_from(Message).where(Message.edition_id == edition_id)
    return session.scalar(count) or 0


@dataclass(frozen=True, slots=True)
class Claimed:
    recipient: Recipient
    variant: str


def release_orphans(session: Session, edition_id: int, now: datetime, claim_timeout: timedelta) -> int:
    """Give claims of dead workers back to the queue."""
    host = socket.gethostname()
    stale = []
    claims = session.execute(
        select(Message.claimed_by, Message.claimed_at)
        .where(Message.edition_id == edition_id, Message.status == MessageStatus.CLAIMED)
        .distinct()
    )
    for claimed_by, claimed_at in claims:
        owner_host, _, pid = (claimed_by or "").rpartition(":")
        dead_here = owner_host == host and pid.isdigit() and not _process_alive(int(pid))
        if dead_here or claimed_at is None or claimed_at < now - claim_timeout:
            stale.append(claimed_by)
    if not stale:
        return 0
    result = session.execute(
        update(Message)
        .where(
            Message.edition_id == edition_id,
            Message.status == MessageStatus.CLAIMED,
            Message.claimed_by.in_(stale),
        )
        .values(status=MessageStatus.PENDING, claimed_by=None, claimed_at=None)
    )
    return result.rowcount or 0


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim(
    session: Session, edition_id: int, kind: str, worker: str, size: int, now: datetime
) -> list[Claimed]:
    """Take up to `size` due messages for this worker; suppressed contacts are settled, not sent."""
    due = or_(
        Message.status == MessageStatus.PENDING,
        and_(
            Message.status == MessageStatus.FAILED,
            Message.retry_at.is_not(None),
            Message.retry_at <= now,
        ),
    )
    candidates = (
        select(Message.id)
        .where(Message.edition_id == edition_id, due)
        .order_by(Message.variant, Message.id)
        .limit(size)
        .with_for_update(skip_locked=True)  # PostgreSQL: concurrent workers skip each other's rows
    )
    ids = list(session.scalars(candidates))
    if not ids:
        return []
    session.execute(
        update(Message)
        .where(Message.id.in_(ids), due)  # re-checked: another worker may have been faster
        .values(
            status=MessageStatus.CLAIMED,
            claimed_by=worker,
            claimed_at=now,
            attempts=Message.attempts + 1,
        )
    )
    suppressed = select(Message.id).join(Contact).where(Message.id.in_(ids), is_suppressed(kind))
    session.execute(
        update(Message)
        .where(Message.id.in_(suppressed.scalar_subquery()), Message.claimed_by == worker)
        .values(status=MessageStatus.SUPPRESSED, claimed_by=None)
    )
    rows = session.execute(
        select(
            Message.id,
            Message.variant,
            Contact.public_id,
            Contact.email,
            Contact.first_name,
            Contact.infix,
            Contact.last_name,
        )
        .join(Contact)
        .where(
            Message.id.in_(ids),
            Message.claimed_by == worker,
            Message.status == MessageStatus.CLAIMED,
        )
        .order_by(Message.variant, Message.id)
    )
    return [
        Claimed(
            Recipient(mid, public_id, email, first, " ".join(p for p in (first, infix, last) if p)),
            variant,
        )
        for mid, variant, public_id, email, first, infix, last in rows
    ]


def acknowledge(session: Session, worker: str, results: Sequence[DeliveryResult], now: datetime) -> None:
    delivered = [r.ledger_id for r in results if r.delivered]
    if delivered:
        session.execute(
            update(Message)
            .where(Message.id.in_(delivered), Message.claimed_by == worker)
            .values(status=MessageStatus.SENT, sent_at=now, claimed_by=None, error=None, retry_at=None)
        )
    for result in results:
        if result.delivered:
            continue
        retry_at = now + result.retry_after if result.retry_after is not None else None
        session.execute(
            update(Message)
            .where(Message.id == result.ledger_id, Message.claimed_by == worker)
            .values(status=MessageStatus.FAILED, claimed_by=None, error=result.reason, retry_at=retry_at)
        )


def counts(session: Session, edition_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Message.status, func.count()).where(Message.edition_id == edition_id).group_by(Message.status)
    )
    found = dict(rows.all())
    return {status.value: found.get(status.value, 0) for status in MessageStatus}


def is_settled(session: Session, edition_id: int) -> bool:
    """Done: nothing pending, claimed, or failed with a retry still to come."""
    open_work = select(Message.id).where(
        Message.edition_id == edition_id,
        or_(
            Message.status.in_([MessageStatus.PENDING, MessageStatus.CLAIMED]),
            and_(Message.status == MessageStatus.FAILED, Message.retry_at.is_not(None)),
        ),
    )
    return session.scalars(open_work.limit(1)).first() is None


def failure_reasons(session: Session, edition_id: int, limit: int = 20) -> list[tuple[str, int]]:
    rows = session.execute(
        select(Message.error, func.count())
        .where(Message.edition_id == edition_id, Message.status == MessageStatus.FAILED)
        .group_by(Message.error)
        .order_by(func.count().desc())
        .limit(limit)
    )
    return [(reason or "unknown", n) for reason, n in rows]
