"""The team's operations on editions of any kind: build, rebuild, edit the introduction,
preview, test-send, approve, hold, discard, send (at its time, or early and confirmed),
status, revisions, and start what is due.

The workflow's rules live here and in comms.editions, so the CLI and the console share them:
approving releases an edition for its planned time; sending earlier or outside the send
window is a separate step (`start_early`, `send(early=True)`); a change to an approved
edition makes a new draft revision that the team is asked to approve again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from comms import kinds
from comms.clock import Clock, FixedClock, SystemClock
from comms.dates import local
from comms.deliver.run import Progress
from comms.deliver.transport import Transport
from comms.deliver.transports import make_transport
from comms.editions import delivery, lifecycle, proofs
from comms.editions.delivery import DryRunOutcome, SendOutcome, has_due_work, sending
from comms.editions.delivery import deliver_edition as deliver
from comms.editions.lifecycle import approve, discard, hold, schedule_send, start_sending
from comms.editions.proofs import ProofOutcome
from comms.editions.team import check_actor
from comms.editions.views import planned_for, preview
from comms.errors import CommsError, NeedsApproval, Refused, WorkflowRefused
from comms.kinds import Approval, BuildOutcome, BuildRequest, DueBuild, PeriodicKind, TriggeredKind
from comms.operations import workflow
from comms.operations.status import EditionStatusReport, StatusListing, listing, status
from comms.service import Service
from comms.store import audit
from comms.store.actors import UNKNOWN_ACTOR
from comms.store.audit import AuditAction
from comms.store.editions import audience_size, find_edition, revisions_of
from comms.store.models import Edition, EditionStatus

# Several operations are the editions package's own functions: approve, hold, discard,
# schedule_send, start_sending (lifecycle), deliver, sending, has_due_work (delivery), planned_for,
# preview, status and listing (views).
__all__ = [
    "BuildOutcome",
    "DryRunOutcome",
    "DueBuild",
    "EditionStatusReport",
    "ProofOutcome",
    "RevisionView",
    "SendOutcome",
    "SendPlan",
    "StatusListing",
    "approve",
    "audience_count",
    "build",
    "build_due",
    "check_period",
    "deliver",
    "discard",
    "dry_run",
    "edit_introduction",
    "has_due_work",
    "hold",
    "introduction",
    "listing",
    "next_period",
    "planned_for",
    "preview",
    "rebuild",
    "revisions",
    "schedule_send",
    "send",
    "send_plan",
    "send_test_copy",
    "sending",
    "start_due",
    "start_early",
    "start_sending",
    "status",
]


def build(service: Service, kind: str, request: BuildRequest) -> BuildOutcome:
    """Compose and render the edition of a periodic kind (the newsletter, the digest) as a draft.
    Rebuilding an approved edition makes it a draft again: the team is told to approve it again."""
    found = kinds.find(kind)
    if not isinstance(found, PeriodicKind):
        raise Refused(f"{kind} editions are built as they become due, not one at a time")
    with service.db.session() as session:
        check_actor(session, request.by or "", AuditAction.BUILD)
    outcome = found.build(service, request)
    _ask_reapproval(service, outcome, request.by, request.now)
    return outcome


def rebuild(service: Service, key: str, by: str, now: datetime) -> BuildOutcome:
    """Build an existing edition of a periodic kind again, for its own period: a new revision
    (a draft; an approved one needs approving again, and the team is told)."""
    with service.db.session() as session:
        check_actor(session, by, AuditAction.REBUILD)
        edition = find_edition(session, key)
        kind = kinds.find(edition.kind)
        if not isinstance(kind, PeriodicKind):
            raise WorkflowRefused(
                f"{key} is a {kind.key} mailing; those are made as they become due, not rebuilt",
                "Dit soort mailing wordt niet opnieuw opgebouwd.",
            )
        schedule = workflow.schedule_of(service, edition, now)
        request = kind.rebuild_request(edition, by, now, schedule.template if schedule else None)
    outcome = kind.build(service, request)
    _ask_reapproval(service, outcome, by, now)
    return outcome


def edit_introduction(service: Service, key: str, markdown: str, by: str, now: datetime) -> BuildOutcome:
    """Store the editor's introduction (Markdown, sanitised as the content file's is) and rebuild
    the edition with it: a new revision. Only kinds with an introduction (the newsletter)."""
    with service.db.session() as session:
        check_actor(session, by, AuditAction.EDIT_INTRODUCTION)
        edition = find_edition(session, key)
        if not kinds.find(edition.kind).edits_introduction:
            raise WorkflowRefused(
                f"{key} has no introduction to edit", "Deze mailing heeft geen inleiding om te bewerken."
            )
        if edition.status in (EditionStatus.SENDING, EditionStatus.SENT):
            raise WorkflowRefused(
                f"{key} is {edition.status}; its introduction can no longer change",
                "Deze editie is al (deels) verstuurd; de inleiding kan niet meer veranderen.",
            )
        previous, edition.introduction = edition.introduction, markdown.strip()
        audit.record(session, now, by, AuditAction.EDIT_INTRODUCTION, key, f"na versie {edition.revision}")
    try:
        return rebuild(service, key, by, now)
    except CommsError:
        with service.db.session() as session:  # the build failed: the edition keeps what it showed
            find_edition(session, key).introduction = previous
        raise


def introduction(service: Service, key: str) -> str:
    """The Markdown an editor starts from: the edited introduction, else the content file's."""
    with service.db.session() as session:
        edition = find_edition(session, key)
        return kinds.find(edition.kind).introduction(service, edition)


def _ask_reapproval(service: Service, outcome: BuildOutcome, by: str | None, now: datetime) -> None:
    if not outcome.needs_reapproval:
        return
    with service.db.session() as session:
        edition = find_edition(session, outcome.key)
        notice = workflow.reapproval_request(
            service, edition.key, edition.subject, outcome.revision, by or UNKNOWN_ACTOR, edition.send_at
        )
    workflow.tell_team(service, notice, FixedClock(now))


@dataclass(frozen=True, slots=True)
class RevisionView:
    number: int
    built_at: datetime
    built_by: str | None
    approved_at: datetime | None
    approved_by: str | None
    subject: str
    is_current: bool = False


def revisions(service: Service, key: str) -> list[RevisionView]:
    """Every revision of the edition, the newest first; each build made one."""
    with service.db.session() as session:
        edition = find_edition(session, key)
        return [
            RevisionView(
                r.number,
                r.built_at,
                r.built_by,
                r.approved_at,
                r.approved_by,
                r.subject,
                r.number == edition.revision,
            )
            for r in revisions_of(session, edition)
        ]


def next_period(service: Service, kind: str, now: datetime) -> str:
    """The period of the next edition the kind's schedules plan ("2026-12" on 30 November 2026,
    when December's newsletter goes out on 3 December); without a schedule: the current one."""
    found = kinds.find(kind)
    if found.period_format is None:
        raise Refused(f"{kind} editions are not built for a period")
    sends = [
        send
        for schedule in workflow.schedules_of_kind(service, kind, now)
        if (send := schedule.next_send_after(now)) is not None
    ]
    return local(min(sends, default=now)).strftime(found.period_format)


def check_period(kind: str, period: str) -> None:
    """ValueError, saying what is expected, when `period` names no edition of the kind
    ("2026-12" for a month's newsletter)."""
    found = kinds.find(kind)
    if not isinstance(found, PeriodicKind):
        raise ValueError(f"{kind} editions are not built for a period")
    found.check_period(period)


def build_due(
    service: Service, kind: str, now: datetime, template: str | None = None, approval: Approval | None = None
) -> DueBuild:
    """Make every edition of a triggered kind (agenda notices, survey reminders) due to exist now;
    drafts unless the kind's schedule says no approval is required."""
    approval = approval or workflow.approval_for(service, kind, None, now)
    return _triggered(kind).build_due(service, now, template, approval)


def start_due(service: Service, kind: str, clock: Clock, by: str | None = None) -> list[str]:
    """Start every approved edition of the kind whose planned time has come; their keys."""
    return lifecycle.start_due(service, _triggered(kind), clock, by)


def _triggered(kind: str) -> TriggeredKind:
    found = kinds.find(kind)
    if not isinstance(found, TriggeredKind):
        raise Refused(f"{kind} has one edition per planned send: build it for its send")
    return found


def send_test_copy(
    service: Service, key: str, addresses: Iterable[str], clock: Clock, by: str | None = None
) -> ProofOutcome:
    """A marked test copy to each address (at most 10); the message ledger is not touched."""
    with service.db.session() as session:
        check_actor(session, by or "", AuditAction.TEST_SEND)
    outcome = proofs.send_proofs(service, key, addresses, clock)
    if outcome.delivered:
        with service.db.session() as session:
            count = len(outcome.delivered)
            detail = f"{count} testversie{'' if count == 1 else 's'}"
            audit.record(session, clock.now(), by or UNKNOWN_ACTOR, AuditAction.TEST_SEND, key, detail)
    return outcome


@dataclass(frozen=True, slots=True)
class SendPlan:
    """What sending an edition now means, for the confirmation the team is asked."""

    key: str
    subject: str
    recipients: int  # active contacts in its audience (the suppressed are skipped when sending)
    send_at: datetime | None
    is_due: bool  # its planned time has come and it is inside its send window
    has_started: bool = False  # sending or sent: a send resumes it, nothing to confirm

    @property
    def planned(self) -> str:
        return workflow.planned_text(self.send_at) if self.send_at else "geen geplande verzendtijd"


def audience_count(service: Service, key: str) -> int:
    """Active contacts in the edition's audience (the suppressed are skipped when it is sent)."""
    with service.db.session() as session:
        edition = find_edition(session, key)
        return audience_size(session, kinds.find(edition.kind).audience_clause(service, edition))


def send_plan(service: Service, key: str, now: datetime) -> SendPlan:
    """What sending the edition now would do; NeedsApproval or WorkflowRefused when it may not
    be sent at all (a draft, held, discarded), so nobody is asked to confirm in vain."""
    with service.db.session() as session:
        edition = find_edition(session, key)
        started = edition.status in (EditionStatus.SENDING, EditionStatus.SENT)
        if not started:
            _check_approved(edition)
        size = audience_size(session, kinds.find(edition.kind).audience_clause(service, edition))
        due = workflow.is_due(service, edition, now)
        return SendPlan(edition.key, edition.subject, size, edition.send_at, due, started)


def start_early(service: Service, key: str, by: str, clock: Clock) -> Edition:
    """approved → sending now, before its planned time or outside the send window: the separate,
    confirmed step ("nu versturen", `comms send --now`). The workers deliver it."""
    now = clock.now()
    with service.db.session() as session:
        check_actor(session, by, AuditAction.SEND_EARLY)
        edition = find_edition(session, key)
        _check_approved(edition)
        due = workflow.is_due(service, edition, now)
    return start_sending(service, key, clock, by, early=not due)


def send(
    service: Service,
    key: str,
    by: str,
    *,
    early: bool = False,
    clock: Clock | None = None,
    progress: Progress | None = None,
    transport: Transport | None = None,
) -> SendOutcome:
    """Start an approved edition and deliver it in this process. Without `early` only once its
    planned time has come and inside its send window (NotYetDue otherwise); `early` is the
    confirmed early send. Resumes one that was interrupted; a sent edition sends nothing."""
    clock = clock or SystemClock()
    with service.db.session() as session:
        edition = find_edition(session, key)
        started = edition.status in (EditionStatus.SENDING, EditionStatus.SENT)
        if not started:
            _check_approved(edition)
            if not early:
                check_actor(session, by, AuditAction.SEND_START)
                workflow.check_due(service, edition, clock.now())
    if not started:
        if early:
            start_early(service, key, by, clock)
        else:
            start_sending(service, key, clock, by)
    transport = transport or make_transport(service.config, key, clock, ledger=True)
    return delivery.send(service, key, transport, clock, progress)


def _check_approved(edition: Edition) -> None:
    status = EditionStatus(edition.status)
    if status == EditionStatus.APPROVED:
        return
    if status == EditionStatus.DRAFT:
        raise NeedsApproval(
            f"{edition.key} is a draft (revision {edition.revision}) that nobody approved yet: "
            f"comms approve {edition.key}",
            f"Versie {edition.revision} van deze editie is nog niet goedgekeurd.",
        )
    if status in (EditionStatus.SENDING, EditionStatus.SENT):
        raise WorkflowRefused(f"{edition.key} is already {status}", "Deze editie wordt al verstuurd.")
    why = edition.reason
    raise WorkflowRefused(
        f"{edition.key} is {status}{f': {why.en}' if why else ''}; it is not sent",
        f"Deze editie is {status.label}{f' ({why.nl})' if why else ''} en wordt niet verstuurd.",
    )


def dry_run(service: Service, key: str, clock: Clock | None = None) -> tuple[str, DryRunOutcome]:
    """Every message through the transport's sandbox (SendGrid); (transport name, outcome)."""
    clock = clock or SystemClock()
    transport = make_transport(service.config, key, clock, dry_run=True)
    return transport.name, delivery.dry_run(service, key, transport, clock)
