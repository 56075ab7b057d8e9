"""The team's calendar: every coming mailing of every kind, when it goes out, to whom, in which
state, and what is needed from whom before then.

Three sources, each asked of the mailing kinds (no kind names compared here):
- the schedules of periodic kinds (the newsletter, the digest): each planned send in the
  period, with the edition built for it or the build still to come;
- triggered kinds' plans (agenda notices not built yet);
- every edition that exists and has not gone out: drafts, approved, held and sending ones
  (survey invitations and reminders, notices, editions built by hand).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import not_, select
from sqlalchemy.orm import Session

from comms import kinds
from comms.audience.resolve import Audience
from comms.dutch import LOCAL_TIME, Noun, moment
from comms.kinds import BuildRequest, MailingKind, PeriodicKind, PlannedMailing, Step, TriggeredKind
from comms.problems import Problem, ValidationFailed
from comms.schedules import Schedule, fires_between, schedules_of
from comms.service import Service
from comms.store.editions import audience_size
from comms.store.models import Edition, EditionStatus, TeamRole
from comms.track.suppressions import contact_suppressed

AUDIENCES = Noun("doelgroep", "doelgroepen")
MAILINGS = Noun("mailing", "mailings")
RECIPIENTS = Noun("ontvanger", "ontvangers")

DEFAULT_WEEKS = 6
_TICK = timedelta(microseconds=1)
NOT_BUILT = "gepland, nog niet opgebouwd"  # the one state that is not an edition's


class MailingState(StrEnum):
    """Where a coming mailing stands; the Dutch label is what the calendar shows."""

    PLANNED = "planned"  # not built yet
    DRAFT = "draft"
    APPROVED = "approved"
    HELD = "held"
    SENDING = "sending"
    SENT = "sent"  # gone out: no longer in the calendar, shown on its edition page
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        if self is MailingState.PLANNED:
            return NOT_BUILT
        return EditionStatus(self.value).label

    @classmethod
    def of(cls, status: str) -> MailingState:
        return cls(EditionStatus(status).value)


_COMING = (EditionStatus.DRAFT, EditionStatus.APPROVED, EditionStatus.HELD, EditionStatus.SENDING)


@dataclass(frozen=True, slots=True)
class Need:
    """What has to happen before the send, and whose role it is; `who` None: nothing."""

    text: str
    who: TeamRole | None = None
    is_now: bool = True  # False: asked later (approval once the planned build has been made)

    @property
    def is_nothing(self) -> bool:
        return self.who is None

    @property
    def asks_action_now(self) -> bool:
        return self.who is not None and self.is_now


NOTHING = Need("niets nodig")


@dataclass(frozen=True, slots=True)
class CalendarEntry:
    kind: MailingKind
    key: str  # the edition's key, or the key it will have once built
    subject: str | None  # None: not known until it is built
    audience: str  # Audience.label
    recipients: int
    send_at: datetime | None  # UTC; None: no send time planned yet
    state: MailingState
    need: Need
    exists: bool  # an edition with this key exists (the console links to it)

    @property
    def what(self) -> str:
        return f"{self.kind.label}: {self.subject}" if self.subject else self.kind.label

    @property
    def for_whom(self) -> str:
        return f"{self.audience} ({RECIPIENTS.count(self.recipients)})"

    @property
    def when(self) -> str:
        return f"{moment(self.send_at)} ({LOCAL_TIME})" if self.send_at else "nog geen verzendtijd gepland"


@dataclass(frozen=True)
class CalendarGroup:
    """Mailings of one kind that go out at the same time, in the same state, needing the same
    (an agenda's notices, one per province): one row in the calendar, each listed within it."""

    entries: tuple[CalendarEntry, ...]

    @property
    def first(self) -> CalendarEntry:
        return self.entries[0]

    @property
    def is_single(self) -> bool:
        return len(self.entries) == 1

    @property
    def what(self) -> str:
        return self.first.kind.label + ("" if self.is_single else f": {MAILINGS.count(len(self.entries))}")

    @property
    def for_whom(self) -> str:
        if self.is_single:
            return self.first.for_whom
        audiences = AUDIENCES.count(len(self.entries))
        return f"{audiences} ({RECIPIENTS.count(sum(e.recipients for e in self.entries))})"


@dataclass
class Calendar:
    start: datetime
    end: datetime
    entries: list[CalendarEntry]
    problems: list[Problem] = field(default_factory=list)  # a plan that could not be read

    def only(self, kind: str | None = None, state: MailingState | None = None) -> list[CalendarEntry]:
        return [
            e
            for e in self.entries
            if (kind is None or e.kind.key == kind) and (state is None or e.state is state)
        ]

    def groups(self, kind: str | None = None, state: MailingState | None = None) -> list[CalendarGroup]:
        """`only(kind, state)`, with neighbours of one kind, time, state and need taken together."""
        found: list[list[CalendarEntry]] = []
        for entry in self.only(kind, state):
            last = found[-1][-1] if found else None
            if last is not None and _together(last, entry):
                found[-1].append(entry)
            else:
                found.append([entry])
        return [CalendarGroup(tuple(entries)) for entries in found]

    @property
    def needing_action(self) -> int:
        return sum(e.need.asks_action_now for e in self.entries)


def _together(one: CalendarEntry, other: CalendarEntry) -> bool:
    return (one.kind, one.send_at, one.state, one.need) == (
        other.kind,
        other.send_at,
        other.state,
        other.need,
    )


def calendar(service: Service, now: datetime, weeks: int = DEFAULT_WEEKS) -> Calendar:
    """Every coming mailing from `now` to `weeks` weeks ahead (and every unsent edition), by time."""
    end = now + timedelta(weeks=weeks)
    schedules, problems = schedules_of(service.config, now)
    entries: dict[str, CalendarEntry] = {}
    with service.db.session() as session:
        for schedule in schedules:
            if isinstance(schedule.kind, PeriodicKind):
                entries.update(_scheduled(service, session, schedule, schedule.kind, now, end))
        by_schedule = {s.name: s for s in schedules}
        for edition in _coming_editions(session, end):
            if edition.key not in entries:
                entries[edition.key] = _from_edition(
                    service, session, edition, by_schedule.get(edition.schedule or ""), now
                )
        for kind in kinds.every():
            if isinstance(kind, TriggeredKind):
                sends = [s for s in schedules if s.kind is kind]
                for planned in _planned(service, kind, now, problems):
                    at = _goes_out(sends, planned.send_at)
                    if planned.key not in entries and at < end:
                        entries[planned.key] = _from_plan(service, session, kind, planned, at)
    ordered = sorted(entries.values(), key=lambda e: (e.send_at or now, e.kind.listing_order, e.key))
    return Calendar(now, end, ordered, [p for p in problems if p.is_error])


def _scheduled(
    service: Service, session: Session, schedule: Schedule, kind: PeriodicKind, now: datetime, end: datetime
) -> dict[str, CalendarEntry]:
    """Each send of the schedule in the period: the edition built for it, or the build to come."""
    found: dict[str, CalendarEntry] = {}
    for send in fires_between(schedule.send_cron, now, end):
        due = schedule.approval_due(send)
        build = schedule.previous_run_before(Step.BUILD, due or send)
        key = kind.edition_key(BuildRequest(build or now, send_at=send, audience=schedule.audience))
        edition = _edition_for(session, schedule, send, key)
        if edition is not None:
            if edition.status in _COMING:
                found[edition.key] = _from_edition(service, session, edition, schedule, now, send)
            continue
        size = _size(service, session, kind, kind.audience(schedule.audience))
        need = _planned_need(build, due) if build and build > now else _late_build_need(schedule)
        found[key] = CalendarEntry(
            kind,
            key,
            None,
            kind.audience(schedule.audience).label,
            size,
            send,
            MailingState.PLANNED,
            need,
            False,
        )
    return found


def _edition_for(session: Session, schedule: Schedule, send: datetime, key: str) -> Edition | None:
    planned = select(Edition).where(Edition.schedule == schedule.name, Edition.send_at == send)
    return (
        session.scalars(planned).first() or session.scalars(select(Edition).where(Edition.key == key)).first()
    )


def _coming_editions(session: Session, end: datetime) -> list[Edition]:
    query = select(Edition).where(
        Edition.status.in_([s.value for s in _COMING]),
        (Edition.send_at.is_(None)) | (Edition.send_at < end) | (Edition.status == EditionStatus.SENDING),
    )
    return list(session.scalars(query))


def _from_edition(
    service: Service,
    session: Session,
    edition: Edition,
    schedule: Schedule | None,
    now: datetime,
    slot: datetime | None = None,
) -> CalendarEntry:
    kind = kinds.find(edition.kind)
    audience = kind.audience(edition.audience)
    send_at = edition.send_at or slot
    state = MailingState.of(edition.status)
    due = schedule.approval_due(send_at) if schedule and send_at else send_at
    return CalendarEntry(
        kind,
        edition.key,
        edition.subject,
        audience.label,
        _size(service, session, kind, audience),
        send_at,
        state,
        need_for(state, due, now),
        True,
    )


def _goes_out(sends: list[Schedule], planned: datetime) -> datetime:
    """The first send step of the kind's schedules at or after the planned time (which starts what
    is due then); the planned time itself when the kind has no schedule."""
    runs = [run for s in sends for run in s.next_runs(Step.SEND, planned - _TICK, 1)]
    return min(runs, default=planned)


def _from_plan(
    service: Service, session: Session, kind: MailingKind, planned: PlannedMailing, at: datetime
) -> CalendarEntry:
    return CalendarEntry(
        kind,
        planned.key,
        planned.subject,
        planned.audience.label,
        _size(service, session, kind, planned.audience),
        at,
        MailingState.PLANNED,
        NOTHING,  # a triggered kind builds and releases its own mailings
        False,
    )


def _planned(
    service: Service, kind: TriggeredKind, now: datetime, problems: list[Problem]
) -> list[PlannedMailing]:
    try:
        return kind.planned_mailings(service, now)
    except ValidationFailed as exc:  # its plan's files are broken: the calendar still shows the rest
        problems.extend(exc.problems)
        return []


def _size(service: Service, session: Session, kind: MailingKind, audience: Audience) -> int:
    """Who would get it if it went now: active members of the audience who are not suppressed."""
    return audience_size(session, audience.clause(service) & not_(contact_suppressed(kind.key)))


def need_for(state: MailingState, approval_due: datetime | None, now: datetime) -> Need:
    """What an edition in this state needs from the team before it can go out."""
    if state is MailingState.DRAFT:
        if approval_due is None:
            return Need(f"goedkeuring nodig van een {TeamRole.APPROVER.label}", TeamRole.APPROVER)
        if approval_due <= now:
            return Need(
                f"goedkeuring nodig van een {TeamRole.APPROVER.label}: de termijn verliep op "
                f"{moment(approval_due)}",
                TeamRole.APPROVER,
            )
        return Need(
            f"goedkeuring nodig van een {TeamRole.APPROVER.label} vóór {moment(approval_due)}",
            TeamRole.APPROVER,
        )
    if state is MailingState.HELD:
        return Need(
            f"opnieuw opbouwen door een {TeamRole.EDITOR.label} en goedkeuren, of vervallen verklaren",
            TeamRole.EDITOR,
        )
    return NOTHING


def _planned_need(build: datetime, approval_due: datetime | None) -> Need:
    if approval_due is None:
        return NOTHING
    return Need(
        f"wordt opgebouwd op {moment(build)}; daarna goedkeuring nodig van "
        f"een {TeamRole.APPROVER.label} vóór {moment(approval_due)}",
        TeamRole.APPROVER,
        is_now=False,
    )


def _late_build_need(schedule: Schedule) -> Need:
    """The schedule's build for this send has passed without an edition."""
    return Need(
        f"niet opgebouwd: een {TeamRole.EDITOR.label} moet de editie opbouwen"
        + (" en laten goedkeuren" if schedule.approval_required else ""),
        TeamRole.EDITOR,
    )
