"""The message ledger as a queue: snapshot, claim, acknowledge.

Every (edition, contact) pair gets one row when sending starts, so nobody in
the audience is skipped and nobody is queued twice (a unique constraint).
Workers claim batches, deliver them, then acknowledge. A claim whose worker
died is released again: at once when the worker ran on this host and its
process is gone, otherwise after `claim_timeout`. The crash window is the
time between a transport accepting a message and its acknowledgement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    Table,
    and_,
    bindparam,
    case,
    false,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from comms.audience.profile import Profile, themes_read
from comms.deliver.transport import DeliveryResult
from comms.render.message import Recipient
from comms.store.database import rows_changed
from comms.store.models import Contact, Message, MessageStatus, Preference, UTCDateTime
from comms.store.owners import died_on_this_host
from comms.track.suppressions import contact_suppressed


def is_suppressed(kind: str) -> ColumnElement[bool]:
    """Contacts whose suppressions stop `kind` mail (track.suppressions has the rule)."""
    return contact_suppressed(kind)


def snapshot(
    session: Session,
    edition_id: int,
    kind: str,
    audience: ColumnElement[bool],
    after: int = 0,
    through: int | None = None,
) -> int:
    """Insert one ledger row per audience member (with a contact id in `after` < id ≤ `through`),
    in SQL: the audience never sits in memory. Returns how many rows it added.

    ON CONFLICT DO NOTHING on the (edition, contact) constraint rather than NOT EXISTS: the
    constraint already keeps each pair once, and an anti-join's plan depends on statistics
    (PostgreSQL right after an import chose a nested loop that scanned the ledger per contact).
    """
    status = case(
        (is_suppressed(kind), literal(MessageStatus.SUPPRESSED.value)),
        else_=literal(MessageStatus.PENDING.value),
    )
    rows = select(literal(edition_id), Contact.id, literal(""), status, literal(0)).where(
        Contact.active.is_(True), audience, Contact.id > after
    )
    if through is not None:
        rows = rows.where(Contact.id <= through)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(cast(Table, Message.__table__))  # Core, not the ORM's bulk insert: it counts
        .from_select(["edition_id", "contact_id", "variant", "status", "attempts"], rows)
        .on_conflict_do_nothing(index_elements=["edition_id", "contact_id"])
        .execution_options(preserve_rowcount=True)  # SQLAlchemy drops an INSERT's count otherwise
    )
    # The rows the database reports inserted: psycopg and sqlite3 both count INSERT … SELECT
    # exactly (tests/deliver/test_queue.py checks it on both), skipped conflicts excluded.
    return rows_changed(session.execute(statement))


def range_end(session: Session, after: int, size: int) -> int | None:
    """The contact id that closes the next batch of `size` contacts after `after` (by the
    primary key, so its cost does not depend on statistics); None when none are left."""
    ids = select(Contact.id).where(Contact.id > after).order_by(Contact.id)
    end = session.scalar(ids.offset(size - 1).limit(1))
    if end is None:
        end = session.scalar(select(func.max(Contact.id)).where(Contact.id > after))
    return end


RETRIED = (MessageStatus.FAILED, MessageStatus.UNCERTAIN)  # with retry_at: tried again then


def is_due(now: datetime) -> ColumnElement[bool]:
    """Messages to send now: pending, or a retry (transient failure, uncertain) whose time came."""
    return or_(Message.status == MessageStatus.PENDING, and_(is_waiting(), Message.retry_at <= now))


def is_waiting() -> ColumnElement[bool]:
    """Messages with a retry still to come."""
    return and_(Message.status.in_(RETRIED), Message.retry_at.is_not(None))


_LEDGER = cast(Table, Message.__table__)


def due_retries(edition_id: int, now: datetime) -> Select[int]:
    """Retries (failed, uncertain) whose time has come, soonest first: ix_messages_retry."""
    return (
        select(Message.id)
        .where(Message.edition_id == edition_id, is_waiting(), Message.retry_at <= now)
        .order_by(Message.retry_at)
    )


def pending(edition_id: int) -> Select[int]:
    """Messages not tried yet, in ledger order: ix_messages_due."""
    return (
        select(Message.id)
        .where(Message.edition_id == edition_id, Message.status == MessageStatus.PENDING)
        .order_by(Message.id)
    )


# The claim's two lookups, built once as Core statements with parameters: building ORM
# expressions anew on every claim cost more than the indexed lookups themselves.
_EDITION: BindParameter[int] = bindparam("edition")
_SIZE: BindParameter[int] = bindparam("size")
_NOW = bindparam("now", type_=UTCDateTime())
_RETRIES_DUE = (
    select(_LEDGER.c.id)
    .where(
        _LEDGER.c.edition_id == _EDITION,
        _LEDGER.c.status.in_([s.value for s in RETRIED]),
        _LEDGER.c.retry_at.is_not(None),
        _LEDGER.c.retry_at <= _NOW,
    )
    .order_by(_LEDGER.c.retry_at)
    .limit(_SIZE)
    .with_for_update(skip_locked=True)  # PostgreSQL: concurrent workers pass each other's rows by
)
_PENDING = (
    select(_LEDGER.c.id)
    .where(_LEDGER.c.edition_id == _EDITION, _LEDGER.c.status == MessageStatus.PENDING.value)
    .order_by(_LEDGER.c.id)
    .limit(_SIZE)
    .with_for_update(skip_locked=True)
)


def due_ids(session: Session, edition_id: int, size: int, now: datetime) -> list[int]:
    """Up to `size` due messages, retries first, locked for this claim.

    Two lookups, each served by its own index, rather than one query on `is_due`: its OR kept
    both SQLite and PostgreSQL from using an index, so every claim read and sorted the edition's
    whole ledger (396 ms per claim at a million messages). tests/deliver/test_claim_plan.py
    checks the plans.
    """
    connection = session.connection()
    found = connection.execute(_RETRIES_DUE, {"edition": edition_id, "now": now, "size": size})
    ids = list(found.scalars())
    if len(ids) < size:
        more = connection.execute(_PENDING, {"edition": edition_id, "size": size - len(ids)})
        ids += more.scalars()
    return ids


def has_due(session: Session, edition_id: int, now: datetime) -> bool:
    """Is anything due (`is_due`)? By the claim's two index lookups."""
    return any(
        session.scalars(q.limit(1)).first() is not None
        for q in (pending(edition_id), due_retries(edition_id, now))
    )


@dataclass(frozen=True, slots=True)
class Claimed:
    recipient: Recipient
    profile: Profile  # what decides the recipient's optional blocks


def release_orphans(session: Session, edition_id: int, now: datetime, claim_timeout: timedelta) -> int:
    """Give claims of dead workers back to the queue."""
    stale = []
    claims = session.execute(
        select(Message.claimed_by, Message.claimed_at)
        .where(Message.edition_id == edition_id, Message.status == MessageStatus.CLAIMED)
        .distinct()
    )
    for claimed_by, claimed_at in claims:
        if died_on_this_host(claimed_by) or claimed_at is None or claimed_at < now - claim_timeout:
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
    return rows_changed(result)


@dataclass(frozen=True, slots=True)
class Skip:
    """Recipients who no longer need this mailing (a survey reminder to who has answered):
    settled as suppressed at claim time, with the reason, however long ago the snapshot was."""

    when: ColumnElement[bool]  # on Contact
    reason: str


def claim(
    session: Session,
    edition_id: int,
    kind: str,
    worker: str,
    size: int,
    now: datetime,
    skip: Skip | None = None,
) -> list[Claimed]:
    """Take up to `size` due messages for this worker; suppressed contacts are settled, not sent.

    Cached Core statements, three round trips besides the lookup (four or five when some are
    settled): building ORM updates and loading whole Contact objects cost ten times the
    database's own work per batch.
    """
    ids = due_ids(session, edition_id, size, now)
    if not ids:
        return []
    connection = session.connection()
    # Re-checked as due: on SQLite another worker may have been faster since the lookup.
    taken = connection.execute(_TAKE, {"ids": ids, "now": now, "worker": worker}).scalars().all()
    if not taken:
        return []
    query = _whom(kind).add_columns((skip.when if skip else false()).label("skipped"))
    rows = connection.execute(query, {"ids": taken}).all()
    suppressed = [row.id for row in rows if row.suppressed]
    skipped = [row.id for row in rows if row.skipped and not row.suppressed]
    if suppressed:
        connection.execute(_SETTLE, {"ids": suppressed, "worker": worker})
    if skip is not None and skipped:
        connection.execute(_SETTLE_SKIPPED, {"ids": skipped, "worker": worker, "error": skip.reason})
    return [_claimed(row) for row in rows if not (row.suppressed or row.skipped)]


_IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)
_WORKER: BindParameter[str] = bindparam("worker")
_TAKE = (
    update(_LEDGER)
    .where(
        _LEDGER.c.id.in_(_IDS),
        or_(
            _LEDGER.c.status == MessageStatus.PENDING.value,
            and_(
                _LEDGER.c.status.in_([s.value for s in RETRIED]),
                _LEDGER.c.retry_at.is_not(None),
                _LEDGER.c.retry_at <= _NOW,
            ),
        ),
    )
    .values(
        status=MessageStatus.CLAIMED.value,
        claimed_by=_WORKER,
        claimed_at=_NOW,
        attempts=_LEDGER.c.attempts + 1,
    )
    .returning(_LEDGER.c.id)
)
_SETTLED = update(_LEDGER).where(_LEDGER.c.id.in_(_IDS), _LEDGER.c.claimed_by == _WORKER)
_SETTLE = _SETTLED.values(status=MessageStatus.SUPPRESSED.value, claimed_by=None)
_SETTLE_SKIPPED = _SETTLED.values(
    status=MessageStatus.SUPPRESSED.value, claimed_by=None, error=bindparam("error")
)


@lru_cache(maxsize=16)
def _whom(kind: str) -> Select[Any]:
    """What a claimed message's Recipient and Profile need, and whether `kind` mail to its
    contact is suppressed: only these columns, no ORM objects."""
    return (
        select(
            _LEDGER.c.id,
            Contact.public_id,
            Contact.email,
            Contact.first_name,
            Contact.infix,
            Contact.last_name,
            Contact.province,
            Contact.roles,
            themes_read().label("themes"),
            is_suppressed(kind).label("suppressed"),
        )
        .join(Contact, _LEDGER.c.contact_id == Contact.id)
        .outerjoin(Preference, Preference.email == Contact.email)
        .where(_LEDGER.c.id.in_(_IDS))
        .order_by(_LEDGER.c.id)
    )


def _claimed(row: Sequence[Any]) -> Claimed:
    # Unpacked by position: a Row's attribute lookups cost more than the rest of this function.
    mid, public_id, email, first_name, infix, last_name, province, roles, themes = row[:9]
    name = full_name(first_name, infix, last_name)
    return Claimed(
        Recipient(mid, public_id, email, first_name, name), Profile.from_columns(province, roles, themes)
    )


def recipient(ledger_id: int, contact: Contact) -> Recipient:
    name = full_name(contact.first_name, contact.infix, contact.last_name)
    return Recipient(ledger_id, contact.public_id, contact.email, contact.first_name, name)


def full_name(*parts: str | None) -> str:
    return " ".join(p for p in parts if p)


def acknowledge(
    session: Session,
    worker: str,
    results: Sequence[DeliveryResult],
    now: datetime,
    variants: dict[int, str] | None = None,
    backoff: Callable[[int], timedelta] | None = None,
    max_attempts: int = 0,
    uncertain_retry: timedelta = timedelta(hours=1),
) -> None:
    """Record what the transport said. A transient failure is retried after the longer of
    the transport's hint and the backoff for its attempt; after `max_attempts` it is final.
    An uncertain one is retried once, after `uncertain_retry`, then settled as uncertain.
    `variants` notes which blocks each delivered message had."""
    table = cast(Table, Message.__table__)
    delivered = [
        {"b_id": r.ledger_id, "b_variant": (variants or {}).get(r.ledger_id, "")}
        for r in results
        if r.delivered
    ]
    if delivered:
        session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.claimed_by == worker)
            .values(
                status=MessageStatus.SENT,
                sent_at=now,
                claimed_by=None,
                error=None,
                retry_at=None,
                variant=bindparam("b_variant"),
            ),
            delivered,
        )
    failed = [r for r in results if not r.delivered]
    if not failed:
        return
    query = select(Message.id, Message.attempts, Message.uncertain_at).where(
        Message.id.in_([r.ledger_id for r in failed])
    )
    rows = {mid: (tries, since) for mid, tries, since in session.execute(query)}
    for result in failed:
        tries, uncertain_since = rows.get(result.ledger_id, (1, None))
        if result.is_uncertain:
            values = _uncertain(result, uncertain_since, now, uncertain_retry)
        else:
            values = _failed(result, tries, now, backoff, max_attempts)
        session.execute(
            update(Message)
            .where(Message.id == result.ledger_id, Message.claimed_by == worker)
            .values(claimed_by=None, **values)
        )


def _failed(
    result: DeliveryResult,
    tries: int,
    now: datetime,
    backoff: Callable[[int], timedelta] | None,
    max_attempts: int,
) -> dict[str, object]:
    error, retry_at = result.reason, None
    if result.retry_after is not None:
        if max_attempts and tries >= max_attempts:
            error = f"gave up after {tries} attempts: {result.reason}"
        else:
            wait = max(result.retry_after, backoff(tries) if backoff else timedelta(0))
            retry_at = now + wait
    return {"status": MessageStatus.FAILED, "error": error, "retry_at": retry_at}


def _uncertain(
    result: DeliveryResult, since: datetime | None, now: datetime, retry: timedelta
) -> dict[str, object]:
    """Perhaps delivered: sent once more after a long delay, and after that never again."""
    if since is None:
        return {
            "status": MessageStatus.UNCERTAIN,
            "error": result.reason,
            "retry_at": now + retry,
            "uncertain_at": now,
        }
    error = f"still uncertain after one more try: {result.reason}"
    return {"status": MessageStatus.UNCERTAIN, "error": error, "retry_at": None}


def release(session: Session, ledger_ids: list[int], worker: str) -> None:
    """Give a batch back untouched (the transport could not take it); the attempt is not counted."""
    session.execute(
        update(Message)
        .where(
            Message.id.in_(ledger_ids), Message.claimed_by == worker, Message.status == MessageStatus.CLAIMED
        )
        .values(status=MessageStatus.PENDING, claimed_by=None, claimed_at=None, attempts=Message.attempts - 1)
    )


def counts(session: Session, edition_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Message.status, func.count()).where(Message.edition_id == edition_id).group_by(Message.status)
    )
    found = dict(rows.all())
    return {status.value: found.get(status.value, 0) for status in MessageStatus}


def is_settled(session: Session, edition_id: int) -> bool:
    """Done: nothing pending, claimed, or failed or uncertain with a retry still to come."""
    in_hand = select(Message.id).where(
        Message.edition_id == edition_id, Message.status.in_([MessageStatus.PENDING, MessageStatus.CLAIMED])
    )
    waiting = select(Message.id).where(Message.edition_id == edition_id, is_waiting())
    # Two lookups, one index each (an OR of both reads the whole ledger)
    return all(session.scalars(q.limit(1)).first() is None for q in (in_hand, waiting))


def failure_reasons(
    session: Session, edition_id: int, limit: int = 20, status: MessageStatus = MessageStatus.FAILED
) -> list[tuple[str, int]]:
    """The reasons of failed (or, with `status`, uncertain) messages, most frequent first."""
    rows = session.execute(
        select(Message.error, func.count())
        .where(Message.edition_id == edition_id, Message.status == status)
        .group_by(Message.error)
        .order_by(func.count().desc())
        .limit(limit)
    )
    return [(reason or "unknown", n) for reason, n in rows]
