"""The delivery loop: claim a batch, build it, hand it to the transport, acknowledge.

Transient failures come back after a backoff (exponential, with jitter) until
`max_attempts`; the loop waits for them rather than leaving an edition half
sent. Rate limits hold per second (locally) and per hour (a sliding window
counted in the message ledger, so it holds across restarts and workers).
A transport that cannot deliver at all (bad credentials, unreachable) stops
the run: the batch goes back to the queue untouched.

Once the transport has accepted a batch, its results must reach the ledger: a
database that is briefly away (restart, failover, terminated backends) is
waited for, up to the claim timeout. The crash window that remains: the process
dies between hand-over and acknowledgement, or the database stays away longer
than the claim timeout (`AcknowledgementFailed` then names the edition and how
many messages may be sent again). Either way at most one batch per worker.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from comms.clock import Clock
from comms.config import DeliveryConfig
from comms.deliver import queue
from comms.deliver.transport import DeliveryResult, Transport, TransportUnavailable
from comms.errors import Unavailable
from comms.render.message import Mailing, OutgoingMessage
from comms.store.database import Database, database_away, database_reason
from comms.store.models import Message
from comms.store.owners import worker_name
from comms.track import bounces

Progress = Callable[[int, int], None]  # (delivered in this batch, total in the ledger)
ShouldStop = Callable[[], bool]
Blocks = Callable[[queue.Claimed], frozenset[str]]
HOUR = timedelta(hours=1)
ACK_FIRST_WAIT = 0.5  # seconds; doubled after each failed acknowledgement, up to ACK_MAX_WAIT
ACK_MAX_WAIT = 30.0
log = logging.getLogger(__name__)


class AcknowledgementFailed(Unavailable):
    """The transport took messages the ledger could not record: they may be sent again."""


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    edition_id: int
    kind: str
    mailing: Mailing
    blocks_for: Blocks
    skip: queue.Skip | None = None
    bounce_policy: bounces.SoftBouncePolicy = field(default_factory=bounces.SoftBouncePolicy)


def deliver(
    db: Database,
    job: DeliveryJob,
    transport: Transport,
    settings: DeliveryConfig,
    clock: Clock,
    progress: Progress | None = None,
    total: int = 0,
    should_stop: ShouldStop | None = None,
    wait_for_retries: bool = True,
) -> int:
    """Deliver until nothing is due (or waiting for a retry); returns how many were delivered.

    `should_stop` is asked between batches (SIGTERM in a worker): the batch in hand is
    finished and acknowledged, nothing more is claimed. A worker serving many editions
    passes `wait_for_retries=False` and comes back for the retries on a later round.
    """
    worker = worker_name()
    delivered = 0
    transport.open()
    try:
        while not (should_stop and should_stop()):
            size = _allowed_now(db, settings, clock, settings.batch_size or transport.batch_size)
            with db.session() as session:
                batch = queue.claim(session, job.edition_id, job.kind, worker, size, clock.now(), job.skip)
            if not batch:
                if not wait_for_retries or not _wait_for_retries(db, job.edition_id, clock):
                    return delivered
                continue
            started = clock.now()
            done = _deliver_batch(db, job, transport, settings, clock, worker, batch)
            delivered += done
            if progress:
                progress(done, total)
            _pace(settings, clock, started, len(batch))
        return delivered
    finally:
        transport.close()


def _deliver_batch(
    db: Database,
    job: DeliveryJob,
    transport: Transport,
    settings: DeliveryConfig,
    clock: Clock,
    worker: str,
    batch: list[queue.Claimed],
) -> int:
    # The claim was taken just now; past its timeout another worker may take the rows again.
    deadline = clock.now() + timedelta(seconds=settings.claim_timeout_seconds)
    messages, unbuildable = _build(job, batch)
    try:
        results = transport.send_batch(messages) if messages else []
    except TransportUnavailable:
        with db.session() as session:
            queue.release(session, [c.recipient.ledger_id for c in batch], worker)
        raise
    # From here the messages are out: dropping these results would send them again later.
    _acknowledge(db, job, settings, clock, worker, messages, results + unbuildable, deadline)
    return sum(1 for r in results if r.delivered)


def _build(
    job: DeliveryJob, batch: list[queue.Claimed]
) -> tuple[list[OutgoingMessage], list[DeliveryResult]]:
    """Each recipient's message; one that cannot be built fails alone and the batch goes on.

    Any error counts: a poison message must never keep its batch claimed (and so, re-run
    after re-run, get the rest of the batch sent again without being acknowledged).
    """
    messages: list[OutgoingMessage] = []
    unbuildable: list[DeliveryResult] = []
    for claimed in batch:
        ledger_id = claimed.recipient.ledger_id
        try:
            message = job.mailing.message(claimed.recipient, job.blocks_for(claimed))
            message.check()
        except Exception as exc:  # see the docstring; the reason is kept in the ledger
            log.warning("message %d cannot be built: %s", ledger_id, type(exc).__name__)
            unbuildable.append(DeliveryResult.unbuildable(ledger_id, exc))
            continue
        messages.append(message)
    return messages, unbuildable


def _acknowledge(
    db: Database,
    job: DeliveryJob,
    settings: DeliveryConfig,
    clock: Clock,
    worker: str,
    messages: Sequence[OutgoingMessage],
    results: list[DeliveryResult],
    deadline: datetime,
) -> None:
    """Record the results, keeping them in memory while the database is away.

    Retrying is safe: acknowledge only changes rows still claimed by this worker, so an
    attempt that did commit before its connection broke makes the next one a no-op.
    """
    wait = ACK_FIRST_WAIT
    while True:
        try:
            with db.session() as session:
                queue.acknowledge(
                    session,
                    worker,
                    results,
                    clock.now(),
                    variants={m.ledger_id: m.variant for m in messages},
                    backoff=lambda attempts: backoff(attempts, settings.retry_base_seconds),
                    max_attempts=settings.max_attempts,
                    uncertain_retry=timedelta(seconds=settings.uncertain_retry_seconds),
                )
                refusals = smtp_refusals(messages, results)
                bounces.record_smtp_refusals(session, refusals, job.bounce_policy, clock.now())
            return
        except DBAPIError as exc:
            if not database_away(exc):
                raise
            left = (deadline - clock.now()).total_seconds()
            sent = sum(1 for r in results if r.delivered)
            key = job.mailing.identity.edition_key
            if left <= 0:
                raise AcknowledgementFailed(
                    f"edition {key}: the transport accepted {sent} message(s) but the database stayed "
                    f"unreachable for {settings.claim_timeout_seconds} s, so they are not recorded as "
                    f"sent; up to {sent} recipient(s) may get them again once their claim expires"
                ) from exc
            log.warning(
                "edition %s: database unreachable (%s); %d accepted message(s) wait to be recorded, "
                "trying again in %.1f s",
                key,
                database_reason(exc),
                sent,
                min(wait, left),
                extra={"edition": key, "accepted": sent},
            )
            clock.sleep(min(wait, left))
            wait = min(wait * 2, ACK_MAX_WAIT)


def smtp_refusals(
    messages: Sequence[OutgoingMessage], results: list[DeliveryResult]
) -> list[bounces.SmtpRefusal]:
    """The recipients an SMTP server refused, for the bounce policy (track.bounces)."""
    addresses = {m.ledger_id: m.recipient.email for m in messages}
    return [
        bounces.SmtpRefusal(
            r.ledger_id,
            addresses[r.ledger_id],
            bounces.SmtpReply.parse(r.reason or "", r.reply_code, r.enhanced_code),
        )
        for r in results
        if not r.delivered and r.reply_code is not None and r.ledger_id in addresses
    ]


def backoff(attempts: int, base_seconds: float, cap: timedelta = HOUR) -> timedelta:
    """Exponential with full jitter: spreads retries so they do not come back as a crowd."""
    ceiling = min(base_seconds * 2 ** max(attempts - 1, 0), cap.total_seconds())
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def _wait_for_retries(db: Database, edition_id: int, clock: Clock) -> bool:
    """Sleep until the next retry (transient failure, uncertain) is due; False when none waits."""
    with db.session() as session:
        next_retry = session.scalar(
            select(func.min(Message.retry_at)).where(Message.edition_id == edition_id, queue.is_waiting())
        )
    if next_retry is None:
        return False
    clock.sleep(max((next_retry - clock.now()).total_seconds(), 0))
    return True


def _allowed_now(db: Database, settings: DeliveryConfig, clock: Clock, batch_size: int) -> int:
    """The batch size the hourly window allows, after waiting for room if it is full."""
    if not settings.max_per_hour:
        return batch_size
    while True:
        now = clock.now()
        with db.session() as session:
            in_window = select(Message.sent_at).where(Message.sent_at > now - HOUR)
            sent = session.scalar(select(func.count()).select_from(in_window.subquery())) or 0
            oldest = session.scalar(select(func.min(Message.sent_at)).where(Message.sent_at > now - HOUR))
        room = settings.max_per_hour - sent
        if room > 0:
            return min(batch_size, room)
        assert oldest is not None
        clock.sleep((oldest + HOUR - now).total_seconds() + 1)


def _pace(settings: DeliveryConfig, clock: Clock, started: datetime, sent: int) -> None:
    if settings.max_per_second:
        minimum = sent / settings.max_per_second
        clock.sleep(minimum - (clock.now() - started).total_seconds())
