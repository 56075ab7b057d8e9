"""A kind of mailing, answering for itself.

Everything that differs between the newsletter, an agenda notice, the agenda digest and a
survey mailing is a property or method of its `MailingKind`: its key and Dutch label, its
mailing list and sender, how its stored audience reads, which optional blocks a recipient
keeps, its attachments, whom it skips at the last moment, its personal links, whether it is
forward-safe, its preference-centre entry, its template, and what a schedule's steps do
with it. Nothing else compares kind names: code that needs one of these asks the kind.

Two ways a kind makes editions, one base class each:
- `PeriodicKind`: one edition per planned send (the newsletter each month, the digest each
  week). A schedule's build makes the edition for its next send and, where the schedule
  says so, asks the team to approve it; its send starts that edition.
- `TriggeredKind`: editions appear when something happens (an agenda is published, a survey
  round starts). A schedule's build makes what is due; its send starts every approved
  edition of the kind whose planned time has come.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from comms.audience.profile import Profile
from comms.audience.resolve import Audience, SegmentAudience
from comms.config import Config, Sender
from comms.deliver.queue import Skip
from comms.dutch import DutchName
from comms.errors import Refused
from comms.problems import Problem, Severity, ValidationFailed
from comms.reasons import Reason
from comms.render.message import Attachment, MailingIdentity, Recipient
from comms.render.personalise import Personaliser
from comms.render.templates import Rendered
from comms.service import Service
from comms.store import audit
from comms.store.actors import UNKNOWN_ACTOR, is_schedule
from comms.store.audit import AuditAction
from comms.store.editions import audience_size, edition_or_none, new_revision
from comms.store.models import Edition, EditionStatus

PersonalLinks = Callable[[Recipient], dict[str, str]]
# Gmail clips a message whose HTML is over 102 KB ("[Bericht ingekort]"); warn a little below.
HTML_WARNING_BYTES = 100 * 1024


class Step(StrEnum):
    """The steps of a schedule: what it can ask of a kind. The values are stored in the job-run
    ledger and in the scheduler's job ids."""

    BUILD = "build"  # make the edition(s) that are due
    SEND = "send"  # start sending what is approved and due
    APPROVAL_REMINDER = "approval-deadline"  # remind the team of an edition still waiting for approval


@dataclass(frozen=True, slots=True)
class ListIdentity:
    """The mailing list a kind's messages belong to (List-Id, RFC 2919)."""

    name: str  # "IPO-nieuwsbrief voor Statenleden"
    id: str  # "nieuwsbrief-statenleden": the List-Id is this, a dot, and the sender's domain


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """What a build is asked for. Left out, each value is the kind's own default."""

    now: datetime
    period: str | None = None  # the team's choice, e.g. "2026-12" for a month's newsletter
    send_at: datetime | None = None  # the planned send the edition is for (a schedule's)
    audience: str | None = None  # a segment name
    template: str | None = None  # a folder in templates/
    by: str | None = None  # who builds: a team member's username, or "schema:<name>" for a schedule

    @property
    def by_schedule(self) -> bool:
        return is_schedule(self.by)


@dataclass(frozen=True, slots=True)
class Approval:
    """What a schedule says about approving the editions a triggered build makes, and who builds.

    Left out, approval is required: every mailing waits for the team unless its schedule says
    otherwise (`[approval] required = false`)."""

    required: bool = True
    by: str | None = None  # as BuildRequest.by

    @property
    def status(self) -> EditionStatus:
        return EditionStatus.DRAFT if self.required else EditionStatus.APPROVED

    def release(self, edition: Edition, now: datetime) -> None:
        """An edition that needs no approval is approved by its schedule as it is made."""
        edition.status = self.status
        if not self.required:
            edition.approved_at, edition.approved_by = now, self.by or UNKNOWN_ACTOR


APPROVAL_REQUIRED = Approval()


@dataclass
class BuildOutcome:
    """One edition built (or rebuilt while unsent), and what the team should know about it."""

    key: str
    status: EditionStatus
    reason: Reason | None  # why it is held (English for the operator, Dutch for the team)
    audience_size: int
    contents: str  # for the operator's line: "37 items", "3 meeting(s)"
    sections: dict[str, int] = field(default_factory=dict)  # items per section, where it has them
    problems: list[Problem] = field(default_factory=list)
    revision: int = 1  # the revision this build made (EditionRevision.number)
    was_approved: bool = False  # the edition was approved before this build changed it

    @property
    def is_held(self) -> bool:
        return self.status == EditionStatus.HELD

    @property
    def needs_reapproval(self) -> bool:
        """An approved edition was changed: it is a draft again and does not go out until the
        team approves this revision."""
        return self.was_approved and self.status == EditionStatus.DRAFT


@dataclass(frozen=True, slots=True)
class PlannedMailing:
    """A mailing a triggered kind will make but has not built yet (the team's calendar)."""

    key: str
    send_at: datetime
    subject: str
    audience: Audience


@dataclass
class DueBuild:
    """What a triggered kind's build made: new editions, older unsent ones it replaced."""

    created: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class MailingKind(ABC):
    """One kind of mailing. Subclass `PeriodicKind` or `TriggeredKind`, and register an instance
    (`comms.kinds`): a module in comms/kinds/ that defines `KIND` is found by itself."""

    key: str  # stored in editions.kind; the scope of suppressions and link tokens
    label: str  # Dutch, as a recipient knows it: the preference centre, an unsubscribe page
    # How a sentence names it ("U ontvangt de maandelijkse nieuwsbrief … niet meer"); None: the
    # label in quotes after "de mailing".
    name: DutchName | None = None
    template: str  # the default folder in templates/
    # One edition per period (strftime of the local send time): `comms check` rejects schedules
    # that would send one edition twice. None: no such rule (an edition per event).
    period_format: str | None = None
    listing_order: int = 100  # where the preference centre lists it (then by key)
    forward_safe: bool = False  # see MailingIdentity.forward_safe
    bulk: bool = True  # sent to a list: List-Id and one-click List-Unsubscribe (MailingIdentity.bulk)
    has_web_version: bool = False  # a public page per sent edition (/nieuwsbrief/KEY)
    by_theme: bool = False  # its content follows the recipient's themes (the preference centre asks)
    edits_introduction: bool = False  # the team edits an introduction in the console (Edition.introduction)
    steps: frozenset[Step] = frozenset({Step.BUILD, Step.SEND})

    def __repr__(self) -> str:
        return f"<MailingKind {self.key}>"

    @property
    def label_definite(self) -> str:
        """The kind in mid-sentence, with its article: 'de maandelijkse nieuwsbrief voor Statenleden'."""
        return self.name.definite if self.name else f"de mailing „{self.label}”"

    # -- who and from whom --------------------------------------------------------------

    @abstractmethod
    def list_identity(self, config: Config) -> ListIdentity: ...

    def sender(self, config: Config) -> Sender:
        """From, Reply-To and signature: `[senders.<key>]`, else the service's `[sender]`."""
        return config.sender_for(self.key)

    def default_audience(self, config: Config) -> str:
        """The segment an edition goes to when neither the team nor a schedule names one."""
        raise NotImplementedError(f"{self.key} editions name their own audience")

    def default_template(self, config: Config) -> str:
        return self.template

    def audience(self, stored: str) -> Audience:
        """`Edition.audience` read back; a kind with its own form overrides this."""
        return SegmentAudience(stored)

    def audience_clause(self, service: Service, edition: Edition) -> ColumnElement[bool]:
        return self.audience(edition.audience).clause(service)

    def reach(self, service: Service, now: datetime) -> ColumnElement[bool]:
        """Everyone the kind's mail can reach (a WHERE clause on contacts): the preference centre
        offers the kind to them only. By default its default audience; a kind whose editions
        each go to a part of a wider group (a province's GS, a round's invitees) says whom."""
        return self.audience(self.default_audience(service.config)).clause(service)

    def identity(self, service: Service, edition: Edition) -> MailingIdentity:
        config = service.config
        listed = self.list_identity(config)
        return MailingIdentity(
            edition_key=edition.key,
            kind=self.key,
            subject=edition.subject,
            sender=self.sender(config),
            list_name=listed.name,
            list_id=listed.id,
            base_url=config.web_base_url,
            forward_safe=self.forward_safe,
            bulk=self.bulk,
        )

    # -- each recipient's copy ----------------------------------------------------------

    def blocks(self, profile: Profile) -> frozenset[str]:
        """The optional blocks a recipient's copy keeps."""
        return frozenset()

    def public_blocks(self) -> frozenset[str]:
        """The blocks the public web version shows: nothing personal to anyone."""
        return frozenset()

    def variant_label(self, blocks: frozenset[str]) -> str:
        """How the outbox index names one selection of blocks."""
        return ", ".join(sorted(blocks)) or "iedereen"

    def widest_variants(self, blocks: frozenset[str]) -> list[frozenset[str]]:
        """The selections of blocks whose copies are the largest (for the size warning); by
        default every block at once. A kind whose blocks exclude each other narrows this."""
        return [blocks]

    def size_warnings(self, key: str, rendered: Rendered) -> list[Problem]:
        """A warning when any variant's HTML is over HTML_WARNING_BYTES (personal values,
        a few dozen bytes each, not counted)."""
        cut = Personaliser.cut(rendered.html, is_html=True)
        sizes = sorted(
            (
                (len("".join(cut.select(b).literals).encode()), self.variant_label(b))
                for b in self.widest_variants(cut.blocks)
            ),
            reverse=True,
        )
        over = [(size, label) for size, label in sizes if size > HTML_WARNING_BYTES]
        if not over:
            return []
        size, label = over[0]
        reason = (
            f"{len(over)} variant(s) over {HTML_WARNING_BYTES // 1024} KB of HTML, the largest "
            f"'{label}' with {size / 1024:.0f} KB: Gmail clips messages over 102 KB "
            "(fewer items, or a lower [newsletter] max_items or max_item_chars)"
        )
        return [Problem(key, reason, severity=Severity.WARNING)]

    def attachments(self, service: Service, edition: Edition) -> tuple[Attachment, ...]:
        return ()

    def skip(self, edition: Edition, now: datetime) -> Skip | None:
        """Recipients to settle as suppressed at claim time (who no longer need the mailing)."""
        return None

    def personal_links(self, service: Service, edition: Edition) -> PersonalLinks | None:
        """Links of the recipient's own beyond unsubscribe and preferences (a survey link)."""
        return None

    def introduction(self, service: Service, edition: Edition) -> str:
        """The introduction an editor starts from (Markdown), where `edits_introduction`."""
        return ""

    def on_withdrawn(self, session: Session, edition: Edition) -> None:
        """Called when the team holds or discards an unsent edition (before its status changes)."""
        return None

    # -- checks -------------------------------------------------------------------------

    @abstractmethod
    def sample_context(self, service: Service) -> dict[str, Any]:
        """A context that exercises every branch of the kind's template (for `comms check`)."""

    def check_template(self, service: Service, template: str | None = None) -> list[Problem]:
        """Render the template with sample content; every problem it has, with file and line."""
        try:
            template = template or self.default_template(service.config)
            self.render(service, template, self.sample_context(service))
        except ValidationFailed as exc:
            return exc.problems
        return []

    def render(self, service: Service, template: str, context: dict[str, Any]) -> Rendered:
        """render_checked with the kind's `sender` in the context (name, address, reply_to and
        the signature the templates write below "-- ")."""
        return render_checked(service, template, {"sender": self.sender(service.config), **context})


class PeriodicKind(MailingKind):
    """One edition per planned send."""

    steps = frozenset({Step.BUILD, Step.SEND, Step.APPROVAL_REMINDER})

    def check_period(self, period: str) -> None:
        """ValueError, saying what is expected, when `period` names no edition of this kind."""
        raise ValueError(f"{self.key} editions are not built for a period the team names")

    @abstractmethod
    def edition_key(self, request: BuildRequest) -> str:
        """The key of the edition a build with this request makes (before it is made)."""

    def rebuild_request(self, edition: Edition, by: str, now: datetime, template: str | None) -> BuildRequest:
        """A build of this existing edition again, for its own period; Refused when the kind can
        no longer build that period (a digest is built for the coming weeks only)."""
        request = BuildRequest(
            now, send_at=edition.send_at, audience=edition.audience, template=template, by=by
        )
        if self.edition_key(request) != edition.key:
            raise Refused(f"{edition.key} can no longer be rebuilt: its period has passed")
        return request

    @abstractmethod
    def build(self, service: Service, request: BuildRequest) -> BuildOutcome:
        """Compose and render the edition as a draft (rebuilt while unsent).

        Raises ValidationFailed (nothing stored) for a broken template or audience, and
        Refused for an edition that is sending or sent, or that the team discarded and a
        schedule would build again (only a person revives a discarded edition).
        """

    def save_draft(
        self, service: Service, request: BuildRequest, subject: str, rendered: Rendered, contents: str
    ) -> BuildOutcome:
        """Store a rendered edition as a draft under its key, new or rebuilt (approval is asked
        again). For a kind whose build is: choose the content, render it, save it."""
        key = self.edition_key(request)
        audience = request.audience or self.default_audience(service.config)
        with service.db.session() as session:
            edition = edition_or_none(session, key)
            check_rebuildable(edition, request)
            was_approved = edition is not None and edition.status == EditionStatus.APPROVED
            if edition is None:
                edition = Edition(key=key, kind=self.key, built_at=request.now, status=EditionStatus.DRAFT)
                session.add(edition)
            edition.subject, edition.audience, edition.built_at = subject, audience, request.now
            edition.html, edition.text = rendered.html, rendered.text
            edition.set_status(EditionStatus.DRAFT)
            edition.approved_at = edition.approved_by = None
            revision = note_build(session, edition, request.by, request.now)
            size = audience_size(session, self.audience_clause(service, edition))
        return BuildOutcome(
            key,
            EditionStatus.DRAFT,
            None,
            size,
            contents,
            problems=self.size_warnings(key, rendered),
            revision=revision,
            was_approved=was_approved,
        )


class TriggeredKind(MailingKind):
    """Editions made as things happen, each with its planned send time."""

    # The build step also starts what is due at once (an agenda published too late for a GS
    # meeting goes out as soon as it is seen, not at the next send step).
    starts_when_built: bool = False
    # The build step reads the sources first (agendas come from the feeds).
    collects_before_build: bool = False

    @abstractmethod
    def build_due(
        self,
        service: Service,
        now: datetime,
        template: str | None = None,
        approval: Approval = APPROVAL_REQUIRED,
    ) -> DueBuild:
        """Make every edition that is due to exist now, each with its send time: a draft for the
        team to approve, or approved at once where the schedule says none is required."""

    def cancel_reason(self, edition: Edition, now: datetime) -> Reason | None:
        """Why an approved edition must not go out after all (a survey that closed), or None."""
        return None

    def on_started(self, session: Session, edition: Edition, now: datetime) -> None:
        """Called once its audience is in the message ledger (a survey notes who was invited)."""
        return None

    def planned_mailings(self, service: Service, now: datetime) -> list[PlannedMailing]:
        """What the kind will build and send, as far as it is known now (not built yet)."""
        return []


def check_rebuildable(edition: Edition | None, request: BuildRequest) -> None:
    """Refused for an edition that is sending or sent, and for a discarded one when a schedule
    builds: the team discarded it on purpose, the next scheduled build must not bring it back."""
    if edition is None:
        return
    if edition.status in (EditionStatus.SENDING, EditionStatus.SENT):
        raise Refused(f"{edition.key} is {edition.status}; a sent edition is never rebuilt")
    if edition.status == EditionStatus.CANCELLED and request.by_schedule:
        raise Refused(f"{edition.key} was discarded; a schedule does not build it again")


def note_build(session: Session, edition: Edition, by: str | None, now: datetime, detail: str = "") -> int:
    """Keep what was just built as a new revision and log it (in the session of the build);
    returns the revision's number."""
    revision = new_revision(session, edition, by, now)
    action = AuditAction.BUILD if revision.number == 1 else AuditAction.REBUILD
    if not detail:
        detail = f"versie {revision.number}" + (" (inleiding bewerkt)" if edition.introduction else "")
        if edition.status == EditionStatus.APPROVED:
            detail += ", goedkeuring niet vereist volgens het schema"
    audit.record(session, now, by or UNKNOWN_ACTOR, action, edition.key, detail)
    return revision.number


def render_checked(service: Service, template: str, context: dict[str, Any]) -> Rendered:
    """Render a mailing template; unknown recipient fields and unbalanced optional blocks fail
    here, at build time, not mid-send. Raises ValidationFailed (TemplateError) with file and line."""
    rendered = service.templates.render(template, context)
    try:
        Personaliser.cut(rendered.html, is_html=True)
        Personaliser.cut(rendered.text, is_html=False)
    except ValueError as exc:
        raise ValidationFailed([Problem(str(service.templates.directory), str(exc))]) from exc
    return rendered
