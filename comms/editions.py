"""An edition's life: build → approve → send, with everything checked before sending.

This is the newsletter job end to end; each step is one pipeline stage's public
function, so this module reads as the pipeline in DESIGN.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from comms.audience.resolve import segment_clause
from comms.compose.newsletter import (
    Composition,
    Month,
    NewsletterContent,
    compose_newsletter,
    load_content,
)
from comms.dates import utcnow
from comms.deliver import queue
from comms.deliver.outbox import OutboxTransport, PreviewLink, write_manifest
from comms.deliver.transport import Transport
from comms.problems import Problem, ValidationFailed
from comms.render.message import MailingIdentity, MessageBuilder, Recipient
from comms.render.newsletter import Variant, render_variant
from comms.render.personalise import Personaliser
from comms.render.templates import Rendered, TemplateError
from comms.service import Service
from comms.store.models import Contact, Edition, EditionStatus, Message
from comms.store.models import Variant as VariantRow
from comms.tokens import Signer

PREVIEW_VALUES = {
    "first_name": "[voornaam]",
    "name": "[naam]",
    "email": "[e-mailadres]",
    "unsubscribe_url": "#afmelden",
    "preferences_url": "#voorkeuren",
}


class EditionNotFound(LookupError):
    pass


# -- build -----------------------------------------------------------------------------


@dataclass
class BuildOutcome:
    composition: Composition
    variants: list[str]
    audience_size: int
    problems: list[Problem] = field(default_factory=list)


def build_newsletter(service: Service, month: Month, now: datetime) -> BuildOutcome:
    """Compose the month's edition and render every variant its audience needs.

    Raises ValidationFailed (and stores nothing) when a template, the theme mapping
    or the audience definition is broken.
    """
    themes, problems = service.themes()
    segments, segment_problems = service.segments()
    problems += segment_problems
    audience = segments.get(service.config.newsletter.audience)
    if audience is None:
        problems.append(
            Problem(
                str(service.config.segments_file),
                f"audience segment {service.config.newsletter.audience!r} is not defined",
            )
        )
    if any(p.is_error for p in problems):
        raise ValidationFailed(problems)
    with service.db.session() as session:
        composition = compose_newsletter(session, service.config, themes, month, now)
        problems += composition.problems
        edition = composition.edition
        keys = _variant_keys(session, segment_clause(audience))
        session.execute(delete(VariantRow).where(VariantRow.edition_id == edition.id))
        if not composition.is_held:
            _render_variants(service, session, edition, composition, keys)
        size = _audience_size(session, segment_clause(audience))
    return BuildOutcome(composition, sorted(keys), size, problems)


def _variant_keys(session: Session, audience: ColumnElement[bool]) -> set[str]:
    rows = session.scalars(
        select(queue.variant_expression()).where(Contact.active.is_(True), audience).distinct()
    )
    return set(rows)


def _audience_size(session: Session, audience: ColumnElement[bool]) -> int:
    return (
        session.scalar(select(func.count()).select_from(Contact).where(Contact.active.is_(True), audience))
        or 0
    )


def _render_variants(
    service: Service, session: Session, edition: Edition, composition: Composition, keys: set[str]
) -> None:
    for key in sorted(keys):
        rendered = _render(service, edition, composition.content, Variant.from_key(key))
        session.add(VariantRow(edition_id=edition.id, key=key, html=rendered.html, text=rendered.text))


def _render(service: Service, edition: Edition, content: NewsletterContent, variant: Variant) -> Rendered:
    try:
        rendered = render_variant(
            service.templates, service.config, content, edition.key, edition.subject, variant
        )
        Personaliser.cut(rendered.html, is_html=True)  # unknown recipient fields fail here, not mid-send
        return rendered
    except TemplateError as exc:
        raise ValidationFailed([exc.problem]) from exc
    except ValueError as exc:
        raise ValidationFailed([Problem(str(service.templates.directory), str(exc))]) from exc


# -- approve ----------------------------------------------------------------------------


def find_edition(session: Session, key: str) -> Edition:
    edition = session.scalars(select(Edition).where(Edition.key == key)).first()
    if edition is None:
        known = ", ".join(session.scalars(select(Edition.key).order_by(Edition.key))) or "none yet"
        raise EditionNotFound(f"no edition {key!r} (known: {known})")
    return edition


def approve(service: Service, key: str, by: str, now: datetime) -> Edition:
    with service.db.session() as session:
        edition = find_edition(session, key)
        if edition.status != EditionStatus.DRAFT:
            reason = f": {edition.status_reason}" if edition.status_reason else ""
            raise ValidationFailed(
                [
                    Problem(
                        key,
                        f"only a draft can be approved; this edition is {edition.status}{reason}",
                    )
                ]
            )
        edition.status, edition.approved_at, edition.approved_by = EditionStatus.APPROVED, now, by
        return edition


# -- send -------------------------------------------------------------------------------


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


Progress = Callable[[int, int], None]  # (delivered in this batch, total in the ledger)


def send(
    service: Service,
    key: str,
    transport: Transport,
    clock: Callable[[], datetime] = utcnow,
    progress: Progress | None = None,
) -> SendOutcome:
    """Deliver every pending message of an approved edition; resumes an interrupted send."""
    config = service.config
    signer = service.signer()
    with service.db.session() as session:
        edition = find_edition(session, key)
        if edition.status == EditionStatus.SENT:
            return SendOutcome(key, 0, queue.counts(session, edition.id), already_sent=True)
        _check_sendable(edition)
        kind = edition.kind
        builder = _builder(service, session, edition, signer, clock())
        if edition.status == EditionStatus.APPROVED:
            segments, problems = service.segments()
            audience = segments.get(edition.audience)
            if audience is None:
                raise ValidationFailed(
                    [
                        *problems,
                        Problem(
                            str(config.segments_file),
                            f"audience segment {edition.audience!r} is not defined",
                        ),
                    ]
                )
            queue.snapshot(session, edition.id, kind, segment_clause(audience))
            edition.status, edition.sending_at = EditionStatus.SENDING, clock()
        edition_id = edition.id
        total = sum(queue.counts(session, edition_id).values())
        _ensure_variants(service, session, edition, builder)
    with service.db.session() as session:
        released = queue.release_orphans(
            session, edition_id, clock(), timedelta(seconds=config.delivery.claim_timeout_seconds)
        )
    delivered = _deliver(service, edition_id, kind, builder, transport, clock, total, progress)
    with service.db.session() as session:
        edition = session.get(Edition, edition_id)
        assert edition is not None
        if queue.is_settled(session, edition_id):
            edition.status, edition.sent_at = EditionStatus.SENT, clock()
        counts = queue.counts(session, edition_id)
        if isinstance(transport, OutboxTransport):
            _publish_outbox(service, session, edition, counts, builder)
    return SendOutcome(key, delivered, counts, orphans_released=released)


def _check_sendable(edition: Edition) -> None:
    if edition.status in (EditionStatus.APPROVED, EditionStatus.SENDING):
        return
    why = {
        EditionStatus.DRAFT: f"it is a draft that nobody approved yet (run: comms approve {edition.key})",
        EditionStatus.HELD: f"it is held: {edition.status_reason}",
        EditionStatus.CANCELLED: "it was cancelled",
    }.get(EditionStatus(edition.status), edition.status)
    raise ValidationFailed([Problem(edition.key, f"not sent: {why}")])


def _identity(service: Service, edition: Edition) -> MailingIdentity:
    newsletter = service.config.newsletter
    return MailingIdentity(
        edition_key=edition.key,
        kind=edition.kind,
        subject=edition.subject,
        sender=service.config.sender,
        list_name=newsletter.list_name,
        list_id=newsletter.list_id,
        base_url=service.config.web_base_url,
    )


def _builder(
    service: Service, session: Session, edition: Edition, signer: Signer, now: datetime
) -> MessageBuilder:
    rows = session.scalars(select(VariantRow).where(VariantRow.edition_id == edition.id))
    variants = {row.key: Rendered(row.html, row.text) for row in rows}
    return MessageBuilder(_identity(service, edition), variants, signer, now)


def _ensure_variants(service: Service, session: Session, edition: Edition, builder: MessageBuilder) -> None:
    """Render variants the audience gained since the build (a re-import), before the first message."""
    needed = set(session.scalars(select(Message.variant).where(Message.edition_id == edition.id).distinct()))
    missing = needed - builder.variant_keys
    if not missing:
        return
    themes, _ = service.themes()
    content = load_content(session, service.config, themes, edition)
    for key in sorted(missing):
        rendered = _render(service, edition, content, Variant.from_key(key))
        session.add(VariantRow(edition_id=edition.id, key=key, html=rendered.html, text=rendered.text))
        builder.add_variant(key, rendered)


def _deliver(
    service: Service,
    edition_id: int,
    kind: str,
    builder: MessageBuilder,
    transport: Transport,
    clock: Callable[[], datetime],
    total: int,
    progress: Progress | None,
) -> int:
    worker = queue.worker_name()
    size = service.config.delivery.batch_size
    delivered = 0
    transport.open()
    try:
        while True:
            with service.db.session() as session:
                batch = queue.claim(session, edition_id, kind, worker, size, clock())
            if not batch:
                return delivered
            messages = [builder.build(c.recipient, c.variant) for c in batch]
            results = transport.send_batch(messages)
            with service.db.session() as session:
                queue.acknowledge(session, worker, results, clock())
            done = sum(1 for r in results if r.delivered)
            delivered += done
            if progress:
                progress(done, total)
    finally:
        transport.close()


def _publish_outbox(
    service: Service,
    session: Session,
    edition: Edition,
    counts: dict[str, int],
    builder: MessageBuilder,
) -> None:
    edition_dir = service.outbox_dir / edition.key
    preview_dir = edition_dir / "preview"
    preview_dir.mkdir(parents=True, exist_ok=True)
    per_variant = dict(
        session.execute(
            select(Message.variant, func.count())
            .where(Message.edition_id == edition.id)
            .group_by(Message.variant)
        ).all()
    )
    previews = []
    for key in sorted(per_variant):
        variant = Variant.from_key(key)
        html = builder.preview_html(key, PREVIEW_VALUES)
        (preview_dir / f"{variant.slug}.html").write_text(html, encoding="utf-8")
        previews.append(
            PreviewLink(variant.label, f"{edition.key}/preview/{variant.slug}.html", per_variant[key])
        )
    write_manifest(service.outbox_dir, edition.key, edition.subject, edition.status, counts, previews)


# -- status -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EditionStatusReport:
    key: str
    subject: str
    status: str
    status_reason: str | None
    built_at: datetime
    counts: dict[str, int]
    failures: list[tuple[str, int]]


def status(service: Service, key: str | None = None) -> list[EditionStatusReport]:
    with service.db.session() as session:
        if key:
            editions = [find_edition(session, key)]
        else:
            editions = list(session.scalars(select(Edition).order_by(Edition.built_at.desc())))
        return [
            EditionStatusReport(
                e.key,
                e.subject,
                e.status,
                e.status_reason,
                e.built_at,
                queue.counts(session, e.id),
                queue.failure_reasons(session, e.id),
            )
            for e in editions
        ]


def preview(service: Service, key: str, contact_email: str | None) -> tuple[str, str]:
    """(html, text) of the edition: its first variant with sample values, or a contact's own copy."""
    with service.db.session() as session:
        edition = find_edition(session, key)
        query = select(VariantRow).where(VariantRow.edition_id == edition.id).order_by(VariantRow.key)
        variants = {row.key: Rendered(row.html, row.text) for row in session.scalars(query)}
        if not variants:
            why = edition.status_reason or "no variants rendered"
            raise ValidationFailed(
                [Problem(key, f"nothing to preview: the edition is {edition.status} ({why})")]
            )
        if contact_email is None:
            return _fill(next(iter(variants.values())), PREVIEW_VALUES)
        contact = session.scalars(
            select(Contact).where(Contact.email == contact_email.strip().lower())
        ).first()
        if contact is None:
            raise ValidationFailed([Problem(key, f"no contact with address {contact_email!r}")])
        variant_key = session.scalar(select(queue.variant_expression()).where(Contact.id == contact.id))
        if variant_key not in variants:
            reason = f"{contact_email} is not in this edition's audience ({edition.audience})"
            raise ValidationFailed([Problem(key, reason)])
        builder = MessageBuilder(_identity(service, edition), {}, service.signer(), utcnow())
        name = " ".join(p for p in (contact.first_name, contact.infix, contact.last_name) if p)
        recipient = Recipient(0, contact.public_id, contact.email, contact.first_name, name)
        return _fill(variants[variant_key], builder.values(recipient))


def _fill(rendered: Rendered, values: dict[str, str]) -> tuple[str, str]:
    html = Personaliser.cut(rendered.html, is_html=True).fill(values)
    return html, Personaliser.cut(rendered.text, is_html=False).fill(values)
