"""Delivering an edition that is sending, for any kind: its messages, the queue, the transport.

Safe to run in several processes at once: the message ledger hands each message to one of
them. The edition's kind says what differs: its mailing list and sender, each recipient's
optional blocks, its attachments, whom it skips at the last moment and its personal links.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from comms import kinds
from comms.audience.profile import Profile, themes_read
from comms.clock import Clock, SystemClock
from comms.deliver import queue
from comms.deliver.outbox import PreviewLink, write_manifest
from comms.deliver.run import DeliveryJob, Progress, ShouldStop, deliver
from comms.deliver.transport import Transport
from comms.editions.lifecycle import check_sendable, prepare_ledger, start_sending
from comms.kinds import MailingKind
from comms.render.message import Mailing
from comms.render.proof import PREVIEW_VALUES
from comms.render.templates import Rendered
from comms.service import Service
from comms.store.editions import find_edition
from comms.store.models import Contact, Edition, EditionStatus, Message, Preference
from comms.tokens import Signer
from comms.track.bounces import SoftBouncePolicy


@dataclass
class SendOutcome:
    edition_key: str
    delivered_now: int
    counts: dict[str, int]
    already_sent: bool = False
    orphans_released: int = 0

    @property
    def is_complete(self) -> bool:
        return self.counts.get("pending", 0) == 0 and self.counts.get("claimed", 0) == 0


def mailing_for(service: Service, edition: Edition, signer: Signer, now: datetime) -> Mailing:
    """The edition's compiled output, ready to make each recipient's message."""
    kind = kinds.find(edition.kind)
    rendered = Rendered(edition.html or "", edition.text or "")
    return Mailing(
        kind.identity(service, edition),
        rendered,
        signer,
        now,
        kind.attachments(service, edition),
        kind.personal_links(service, edition),
    )


def send(
    service: Service,
    key: str,
    transport: Transport,
    clock: Clock | None = None,
    progress: Progress | None = None,
) -> SendOutcome:
    """Deliver every pending message of an approved edition now; resumes an interrupted send."""
    clock = clock or SystemClock()
    with service.db.session() as session:
        edition = find_edition(session, key)
        if edition.status == EditionStatus.SENT:
            return SendOutcome(key, 0, queue.counts(session, edition.id), already_sent=True)
    start_sending(service, key, clock)
    return deliver_edition(service, key, transport, clock, progress)


def deliver_edition(
    service: Service,
    key: str,
    transport: Transport,
    clock: Clock,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    wait_for_retries: bool = True,
) -> SendOutcome:
    """Deliver what is due of an edition that is sending; marks it sent once settled."""
    config = service.config
    with service.db.session() as session:
        edition = find_edition(session, key)
        if edition.status == EditionStatus.SENT:
            return SendOutcome(key, 0, queue.counts(session, edition.id), already_sent=True)
        check_sendable(edition)
    prepare_ledger(service, key)  # nothing is claimed before the whole audience is in the ledger
    with service.db.session() as session:
        edition = find_edition(session, key)
        kind = kinds.find(edition.kind)
        mailing = mailing_for(service, edition, service.signer(), clock.now())
        job = DeliveryJob(
            edition.id,
            kind.key,
            mailing,
            lambda claimed: kind.blocks(claimed.profile),
            kind.skip(edition, clock.now()),
            SoftBouncePolicy.from_config(config.bounces),
        )
        total = sum(queue.counts(session, edition.id).values())
    with service.db.session() as session:
        timeout = timedelta(seconds=config.delivery.claim_timeout_seconds)
        released = queue.release_orphans(session, job.edition_id, clock.now(), timeout)
    delivered = deliver(
        service.db, job, transport, config.delivery, clock, progress, total, should_stop, wait_for_retries
    )
    with service.db.session() as session:
        edition = session.get_one(Edition, job.edition_id)
        if (
            edition.status == EditionStatus.SENDING
            and not edition.is_being_prepared
            and queue.is_settled(session, edition.id)
        ):
            edition.status, edition.sent_at = EditionStatus.SENT, clock.now()
        counts = queue.counts(session, edition.id)
        if transport.writes_files:
            _publish_outbox(service, session, edition, counts, mailing, kind)
    return SendOutcome(key, delivered, counts, orphans_released=released)


def sending(service: Service) -> list[str]:
    """Every edition that is sending, the one that started first first."""
    with service.db.session() as session:
        query = (
            select(Edition.key)
            .where(Edition.status == EditionStatus.SENDING)
            .order_by(Edition.sending_at, Edition.id)
        )
        return list(session.scalars(query))


def has_due_work(service: Service, now: datetime) -> bool:
    """A sending edition still being prepared, or with a message pending, or with a retry
    (failed, uncertain) whose time has come."""
    with service.db.session() as session:
        started = session.execute(
            select(Edition.id, Edition.ledger_through).where(Edition.status == EditionStatus.SENDING)
        ).all()
        return any(through is not None or queue.has_due(session, eid, now) for eid, through in started)


@dataclass
class DryRunOutcome:
    accepted: int = 0
    failures: list[tuple[str, int]] = field(default_factory=list)


def dry_run(service: Service, key: str, transport: Transport, clock: Clock) -> DryRunOutcome:
    """Every message the edition would send, through the transport's sandbox; the ledger is
    not touched, so a real send afterwards starts from scratch."""
    with service.db.session() as session:
        edition = find_edition(session, key)
        check_sendable(edition)
        kind = kinds.find(edition.kind)
        audience = kind.audience_clause(service, edition)
        mailing = mailing_for(service, edition, service.signer(), clock.now())
        rows = session.execute(
            select(Contact, themes_read())
            .outerjoin(Preference, Preference.email == Contact.email)
            .where(Contact.active.is_(True), audience, ~queue.is_suppressed(kind.key))
            .order_by(Contact.id)
        ).all()
    outcome, reasons = DryRunOutcome(), Counter[str]()
    size = service.config.delivery.batch_size or transport.batch_size
    for start in range(0, len(rows), size):
        messages = [
            mailing.message(
                queue.recipient(0, contact),
                kind.blocks(Profile.from_columns(contact.province, contact.roles, themes)),
            )
            for contact, themes in rows[start : start + size]
        ]
        for result in transport.send_batch(messages):
            if result.delivered:
                outcome.accepted += 1
            else:
                reasons[result.reason or "unknown"] += 1
    outcome.failures = reasons.most_common()
    return outcome


def _publish_outbox(
    service: Service,
    session: Session,
    edition: Edition,
    counts: dict[str, int],
    mailing: Mailing,
    kind: MailingKind,
) -> None:
    """index.html and a preview per variant (each distinct selection of blocks sent)."""
    preview_dir = service.outbox_dir / edition.key / "preview"
    preview_dir.mkdir(parents=True, exist_ok=True)
    per_variant = session.execute(
        select(Message.variant, func.count())
        .where(Message.edition_id == edition.id, Message.status == "sent")
        .group_by(Message.variant)
        .order_by(Message.variant)
    ).all()
    previews = []
    for number, (variant, count) in enumerate(per_variant, start=1):
        blocks = frozenset(b for b in variant.split(",") if b)
        name = f"variant-{number:03d}.html"
        (preview_dir / name).write_text(mailing.preview_html(blocks, PREVIEW_VALUES), encoding="utf-8")
        previews.append(PreviewLink(kind.variant_label(blocks), f"{edition.key}/preview/{name}", count))
    write_manifest(service.outbox_dir, edition.key, edition.subject, edition.status, counts, previews)
