"""An edition's life: build → approve → send, with everything checked before sending.

This is the newsletter job end to end; each step calls one pipeline stage, so
this module reads as the pipeline in DESIGN.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from comms.audience.profile import Profile
from comms.audience.resolve import segment_clause
from comms.audience.segments import Segment
from comms.clock import Clock, SystemClock
from comms.compose.newsletter import Composition, Month, compose_newsletter
from comms.deliver import queue
from comms.deliver.outbox import OutboxTransport, PreviewLink, write_manifest
from comms.deliver.run import DeliveryJob, Progress, ShouldStop, deliver
from comms.deliver.transport import Transport
from comms.problems import Problem, ValidationFailed
from comms.render.message import Attachment, Mailing, MailingIdentity
from comms.render.newsletter import blocks_for, label, render_newsletter
from comms.render.personalise import Personaliser
from comms.render.templates import Rendered, TemplateError
from comms.service import Service
from comms.store.models import Contact, Edition, EditionStatus, Message, Preference
from comms.tokens import Signer

PREVIEW_VALUES = {
    "first_name": "[voornaam]",
    "name": "[naam]",
    "email": "[e-mailadres]",
    "unsubscribe_url": "#afmelden",
    "preferences_url": "#voorkeuren",
    "survey_url": "#enquete",
}


class EditionNotFound(LookupError):
    pass


# -- build -----------------------------------------------------------------------------


@dataclass
class BuildOutcome:
    composition: Composition
    audience_size: int
    problems: list[Problem] = field(default_factory=list)


def build_newsletter(service: Service, month: Month, now: datetime) -> BuildOutcome:
    """Compose the month's edition and render it once, with its optional blocks.

    Raises ValidationFailed (and stores nothing) when a template, the theme mapping
    or the audience definition is broken.
    """
    themes, problems = service.themes()
    audience = _audience(service, service.config.newsletter.audience, problems)
    with service.db.session() as session:
        composition = compose_newsletter(session, service.config, themes, month, now)
        problems += composition.problems
        edition = composition.edition
        edition.html = edition.text = None
        if not composition.is_held:
            rendered = _render(service, composition)
            edition.html, edition.text = rendered.html, rendered.text
        size = _audience_size(session, segment_clause(audience))
    return BuildOutcome(composition, size, problems)


def _audience(service: Service, name: str, problems: list[Problem]) -> Segment:
    segments, segment_problems = service.segments()
    problems += segment_problems
    audience = segments.get(name)
    if audience is None:
        where = str(service.config.segments_file)
        problems.append(Problem(where, f"audience segment {name!r} is not defined"))
    if audience is None or any(p.is_error for p in problems):
        raise ValidationFailed(problems)
    return audience


def _audience_size(session: Session, audience: ColumnElement[bool]) -> int:
    count = select(func.count()).select_from(Contact).where(Contact.active.is_(True), audience)
    return session.scalar(count) or 0


def _render(service: Service, composition: Composition) -> Rendered:
    edition = composition.edition
    try:
        rendered = render_newsletter(
            service.templates, service.config, composition.content, edition.key, edition.subject
        )
        # Unknown recipient fields and unbalanced blocks fail here, not mid-send.
        Personaliser.cut(rendered.html, is_html=True)
        Personaliser.cut(rendered.text, is_html=False)
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
            problem = Problem(key, f"only a draft can be approved; this edition is {edition.status}{reason}")
            raise ValidationFailed([problem])
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


def send(
    service: Service,
    key: str,
    transport: Transport,
    clock: Clock | None = None,
    progress: Progress | None = None,
) -> SendOutcome:
    """Deliver every pending message of an approved edition; resumes an interrupted send."""
    clock = clock or SystemClock()
    with service.db.session() as session:
        edition = find_edition(session, key)
        if edition.status == EditionStatus.SENT:
            return SendOutcome(key, 0, queue.counts(session, edition.id), already_sent=True)
    start_sending(service, key, clock)
    return deliver_edition(service, key, transport, clock, progress)


def due_for_sending(service: Service, kind: str, now: datetime) -> list[str]:
    """Approved editions of a kind whose planned send time has come, oldest plan first."""
    with service.db.session() as session:
        query = (
            select(Edition.key)
            .where(Edition.kind == kind, Edition.status == EditionStatus.APPROVED, Edition.send_at <= now)
            .order_by(Edition.send_at, Edition.id)
        )
        return list(session.scalars(query))


def start_sending(service: Service, key: str, clock: Clock) -> Edition:
    """approved → sending: the audience is snapshotted into the message ledger, once.

    From here any worker may deliver it. Refuses (ValidationFailed) anything not approved.
    """
    with service.db.session() as session:
        edition = find_edition(session, key)
        _check_sendable(edition)
        if edition.status == EditionStatus.APPROVED:
            queue.snapshot(session, edition.id, edition.kind, audience_clause(service, edition))
            edition.status, edition.sending_at = EditionStatus.SENDING, clock.now()
        return edition


def deliver_edition(
    service: Service,
    key: str,
    transport: Transport,
    clock: Clock,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    wait_for_retries: bool = True,
) -> SendOutcome:
    """Deliver what is due of an edition that is sending; marks it sent once settled.

    Safe to run in several processes at once: the ledger hands each message to one of them.
    """
    config = service.config
    with service.db.session() as session:
        edition = find_edition(session, key)
        if edition.status == EditionStatus.SENT:
            return SendOutcome(key, 0, queue.counts(session, edition.id), already_sent=True)
        _check_sendable(edition)
        mailing = mailing_for(service, edition, service.signer(), clock.now())
        blocks = blocks_by_kind(edition.kind)
        skip = _skip(edition, clock.now())
        job = DeliveryJob(edition.id, edition.kind, mailing, lambda claimed: blocks(claimed.profile), skip)
        total = sum(queue.counts(session, edition.id).values())
    with service.db.session() as session:
        timeout = timedelta(seconds=config.delivery.claim_timeout_seconds)
        released = queue.release_orphans(session, job.edition_id, clock.now(), timeout)
    delivered = deliver(
        service.db, job, transport, config.delivery, clock, progress, total, should_stop, wait_for_retries
    )
    with service.db.session() as session:
        edition = session.get_one(Edition, job.edition_id)
        if edition.status == EditionStatus.SENDING and queue.is_settled(session, edition.id):
            edition.status, edition.sent_at = EditionStatus.SENT, clock.now()
        counts = queue.counts(session, edition.id)
        if isinstance(transport, OutboxTransport):
            _publish_outbox(service, session, edition, counts, mailing)
    return SendOutcome(key, delivered, counts, orphans_released=released)


@dataclass
class DryRunOutcome:
    accepted: int = 0
    failures: list[tuple[str, int]] = field(default_factory=list)


def dry_run(service: Service, key: str, transport: Transport, clock: Clock) -> DryRunOutcome:
    """Every message the edition would send, through the transport's sandbox; the ledger is
    not touched, so a real send afterwards starts from scratch."""
    with service.db.session() as session:
        edition = find_edition(session, key)
        _check_sendable(edition)
        audience = audience_clause(service, edition)
        mailing = mailing_for(service, edition, service.signer(), clock.now())
        blocks = blocks_by_kind(edition.kind)
        rows = session.execute(
            select(Contact, Preference.themes)
            .outerjoin(Preference, Preference.email == Contact.email)
            .where(Contact.active.is_(True), audience, ~queue.is_suppressed(edition.kind))
            .order_by(Contact.id)
        ).all()
    outcome, reasons = DryRunOutcome(), Counter[str]()
    size = service.config.delivery.batch_size or transport.batch_size
    for start in range(0, len(rows), size):
        messages = [
            mailing.message(
                queue.recipient(0, contact),
                blocks(Profile.from_columns(contact.province, contact.roles, themes)),
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


def _check_sendable(edition: Edition) -> None:
    if edition.status in (EditionStatus.APPROVED, EditionStatus.SENDING):
        return
    why = {
        EditionStatus.DRAFT: f"it is a draft that nobody approved yet (run: comms approve {edition.key})",
        EditionStatus.HELD: f"it is held: {edition.status_reason}",
        EditionStatus.CANCELLED: "it was cancelled",
    }.get(EditionStatus(edition.status), edition.status)
    raise ValidationFailed([Problem(edition.key, f"not sent: {why}")])


def audience_clause(service: Service, edition: Edition) -> ColumnElement[bool]:
    """Who the edition goes to: an agenda notice's province and body, or a segment."""
    from comms.compose.agenda import audience_of
    from comms.survey import rounds

    clause = audience_of(edition.audience)
    if clause is None:
        clause = rounds.audience_of(edition.audience)
    if clause is not None:
        return clause
    return segment_clause(_audience(service, edition.audience, []))


def blocks_by_kind(kind: str) -> Callable[[Profile], frozenset[str]]:
    """Which optional blocks a recipient's copy keeps, by the kind of mailing."""
    from comms.compose.agenda import DIGEST_KIND, IN_COPY_BLOCK, NOTICE_KIND

    if kind == NOTICE_KIND:
        return lambda profile: frozenset({IN_COPY_BLOCK}) if profile.is_kps else frozenset()
    if kind == DIGEST_KIND:
        return lambda profile: frozenset()
    return blocks_for


def identity(service: Service, edition: Edition) -> MailingIdentity:
    config = service.config
    list_name, list_id = {
        "agenda-notice": (config.agenda.notice_list_name, config.agenda.notice_list_id),
        "agenda-digest": (config.agenda.digest_list_name, config.agenda.digest_list_id),
        "survey": ("Evaluaties van het IPO", "evaluaties"),
    }.get(edition.kind, (config.newsletter.list_name, config.newsletter.list_id))
    return MailingIdentity(
        edition_key=edition.key,
        kind=edition.kind,
        subject=edition.subject,
        sender=config.sender,
        list_name=list_name,
        list_id=list_id,
        base_url=config.web_base_url,
    )


def mailing_for(service: Service, edition: Edition, signer: Signer, now: datetime) -> Mailing:
    """The edition's compiled output, ready to make each recipient's message."""
    from comms.survey import rounds

    rendered = Rendered(edition.html or "", edition.text or "")
    links = rounds.personal_links(service, edition)
    return Mailing(identity(service, edition), rendered, signer, now, _attachments(service, edition), links)


def _skip(edition: Edition, now: datetime) -> queue.Skip | None:
    from comms.survey import rounds

    return rounds.skip_for(edition, now)


def _attachments(service: Service, edition: Edition) -> tuple[Attachment, ...]:
    """An agenda notice carries its meeting as .ics, made from what the notice announced."""
    if edition.kind != "agenda-notice":
        return ()
    import json

    from comms.collect.meetings.model import Meeting
    from comms.render.agenda import notice_attachment

    summary = json.loads(edition.summary)
    meeting = Meeting.from_json(summary["meeting"])
    cancelled = summary.get("notice") == "cancellation"
    return (notice_attachment(service.config, meeting, summary["version"], cancelled, edition.built_at),)


def _publish_outbox(
    service: Service, session: Session, edition: Edition, counts: dict[str, int], mailing: Mailing
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
        previews.append(PreviewLink(label(blocks), f"{edition.key}/preview/{name}", count))
    write_manifest(service.outbox_dir, edition.key, edition.subject, edition.status, counts, previews)


# -- status and preview -------------------------------------------------------------------


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
    """(html, text): every block with sample values, or one contact's own copy."""
    with service.db.session() as session:
        edition = find_edition(session, key)
        if not edition.html or not edition.text:
            why = edition.status_reason or "not rendered"
            raise ValidationFailed(
                [Problem(key, f"nothing to preview: the edition is {edition.status} ({why})")]
            )
        rendered = Rendered(edition.html, edition.text)
        if contact_email is None:
            return _fill(rendered, PREVIEW_VALUES, None)
        row = session.execute(
            select(Contact, Preference.themes)
            .outerjoin(Preference, Preference.email == Contact.email)
            .where(Contact.email == contact_email.strip().lower())
        ).first()
        if row is None:
            raise ValidationFailed([Problem(key, f"no contact with address {contact_email!r}")])
        contact, themes = row
        mailing = mailing_for(service, edition, service.signer(), datetime.now(UTC))
        recipient = queue.recipient(0, contact)
        blocks = blocks_for(Profile.from_columns(contact.province, contact.roles, themes))
        return _fill(rendered, mailing.values(recipient), blocks)


def web_version(service: Service, key: str) -> str | None:
    """The edition as a public page: no personal values, no AV or province blocks."""
    with service.db.session() as session:
        edition = session.scalars(select(Edition).where(Edition.key == key)).first()
        if edition is None or edition.kind != "newsletter" or edition.status != EditionStatus.SENT:
            return None
        if not edition.html:
            return None
        public = blocks_for(Profile(None, False, None))
        values = PREVIEW_VALUES | {"first_name": "lezer", "name": "lezer", "email": ""}
        return Personaliser.cut(edition.html, is_html=True).fill(values, public)


def _fill(rendered: Rendered, values: dict[str, str], blocks: frozenset[str] | None) -> tuple[str, str]:
    html = Personaliser.cut(rendered.html, is_html=True).fill(values, blocks)
    return html, Personaliser.cut(rendered.text, is_html=False).fill(values, blocks)
