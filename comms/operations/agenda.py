"""Agenda notices to every province's GS and the weekly digest: the plan, building, starting."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from comms.clock import Clock
from comms.collect.meeting_ledger import MissingMeetings
from comms.collect.meetings.model import Meeting
from comms.compose.agenda import SUPERSEDED, NoticeAudience, notices_of
from comms.dates import date_and_time, local, local_text, long_date
from comms.dutch import IS, Noun, Verb, counted
from comms.editions import lifecycle
from comms.kinds import BuildOutcome, BuildRequest
from comms.kinds.agenda_digest import KIND as DIGEST
from comms.kinds.agenda_notice import KIND as NOTICES
from comms.notify import TeamNotice, notify_team
from comms.operations import workflow
from comms.operations.calendar import NOT_BUILT
from comms.problems import Problem
from comms.reasons import Reason
from comms.service import MissingSecret, Service
from comms.store.editions import audience_size
from comms.store.models import Edition, EditionStatus

log = logging.getLogger(__name__)


@dataclass
class NoticesBuilt:
    created: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # meetings gone from their feed, one line each


def build_notices(
    service: Service, clock: Clock, template: str | None = None, by: str | None = None
) -> NoticesBuilt:
    """Build every notice that is due to exist now, and start the ones whose time has come;
    `by` is who ran it, for the audit log."""
    approval = workflow.approval_for(service, NOTICES.key, by, clock.now())
    built = NOTICES.build_due(service, clock.now(), template, approval)
    started = lifecycle.start_due(service, NOTICES, clock, by)
    return NoticesBuilt(built.created, built.superseded, started, built.problems, built.missing)


def build_digest(service: Service, now: datetime) -> BuildOutcome:
    """The digest of the coming weeks as a draft (approve and send it as any edition)."""
    return DIGEST.build(service, BuildRequest(now))


class PlanStage(StrEnum):
    """Where a planned notice stands: not built yet, or its edition's status."""

    PLANNED = "planned"
    DRAFT = EditionStatus.DRAFT.value
    APPROVED = EditionStatus.APPROVED.value
    SENDING = EditionStatus.SENDING.value
    SENT = EditionStatus.SENT.value
    HELD = EditionStatus.HELD.value
    CANCELLED = EditionStatus.CANCELLED.value

    @property
    def label(self) -> str:
        if self is PlanStage.PLANNED:
            return NOT_BUILT
        status = EditionStatus(self.value)
        return status.label + (", wacht op goedkeuring" if status is EditionStatus.DRAFT else "")


@dataclass(frozen=True, slots=True)
class PlanRow:
    meeting: str  # "BAC Landelijk Gebied, donderdag 10 december 2026"
    province: str
    send_at: datetime | None
    state: str  # "planned", "urgent", an edition's status, or the problem
    gs_meeting: datetime | None
    recipients: int
    edition: str | None
    body: str = ""  # a domain.BODIES id
    meeting_at: datetime | None = None
    stage: PlanStage = PlanStage.PLANNED
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class PlanFilter:
    """The console's filters of the plan; an empty field does not filter."""

    body: str = ""
    province: str = ""
    stage: PlanStage | None = None
    sent_from: date | None = None  # the send date (Dutch time), inclusive
    sent_until: date | None = None

    def matches(self, row: PlanRow) -> bool:
        day = local(row.send_at).date() if row.send_at else None
        return (
            (not self.body or row.body == self.body)
            and (not self.province or row.province == self.province)
            and (self.stage is None or row.stage is self.stage)
            and (self.sent_from is None or (day is not None and day >= self.sent_from))
            and (self.sent_until is None or (day is not None and day <= self.sent_until))
        )


@dataclass
class PlanReport:
    rows: list[PlanRow]
    problems: list[Problem]
    missing: list[str]  # meetings gone from their feed, one line each


def plan_report(service: Service, now: datetime) -> PlanReport:
    """Per upcoming meeting and province: when the notice goes out (or went), and to how many."""
    planned = NOTICES.plan(service, now)
    rows: list[PlanRow] = []
    with service.db.session() as session:
        for notice in planned.notices:
            rows.append(
                PlanRow(
                    _meeting_label(notice.meeting),
                    notice.province,
                    notice.plan.send_at if notice.plan else now,
                    ("urgent" if notice.is_urgent else "planned") + f" {notice.kind} (not built yet)",
                    notice.plan.gs_meeting.at if notice.plan and notice.plan.gs_meeting else None,
                    audience_size(session, NoticeAudience.of(notice).clause(service)),
                    None,
                    notice.meeting.body,
                    notice.meeting.starts_at,
                    PlanStage.PLANNED,
                    notice.is_urgent,
                )
            )
        built = session.scalars(
            select(Edition).where(Edition.kind == NOTICES.key).order_by(Edition.send_at, Edition.key)
        ).all()
        for edition in built:
            summary = json.loads(edition.summary)
            meeting = Meeting.from_json(summary["meeting"])
            if meeting.starts_at <= now:
                continue
            gs = summary.get("gs_meeting")
            rows.append(
                PlanRow(
                    _meeting_label(meeting),
                    summary["province"],
                    edition.send_at,
                    _state(edition, summary),
                    datetime.fromisoformat(gs) if gs else None,
                    audience_size(session, NOTICES.audience_clause(service, edition)),
                    edition.key,
                    meeting.body,
                    meeting.starts_at,
                    PlanStage(edition.status),
                    bool(summary.get("urgent")),
                )
            )
    # By date (when it goes out, then the meeting), not by the label's text.
    rows.sort(key=lambda r: (r.send_at or now, r.meeting_at or now, r.meeting, r.province))
    return PlanReport(rows, planned.problems, planned.missing)


def _state(edition: Edition, summary: dict[str, object]) -> str:
    state = edition.status + (" (urgent)" if summary.get("urgent") else "")
    if edition.status == EditionStatus.HELD and edition.reason:
        state += f": {edition.reason.en}"
    return state


def _meeting_label(meeting: Meeting) -> str:
    return f"{meeting.body_name}, {long_date(meeting.starts_at)}"


# -- meetings that leave their feed ------------------------------------------------------------

MISSING_HOLD = "the meeting is no longer in its feed"  # how our own holds are recognised
_UNSENT = (EditionStatus.DRAFT, EditionStatus.APPROVED)
PLANNED_NOTICE = Noun("gepland agendabericht", "geplande agendaberichten")
GOES = Verb("gaat", "gaan")
_OUT = (EditionStatus.SENDING, EditionStatus.SENT)


@dataclass(frozen=True, slots=True)
class MissingReport:
    """Per meeting that left its feed: who had the notice, and which unsent notices are held."""

    meeting: Meeting
    sent_to: list[str]  # provinces
    held: list[str]  # edition keys


def settle_missing(service: Service, missing: MissingMeetings, clock: Clock) -> list[MissingReport]:
    """Hold the unsent notices of meetings gone from their feed, release them when the meeting
    returns, and tell the team both in one mail. Nothing is cancelled and nothing sent: whether a
    meeting that vanished is off is for the team (or the IPO, by marking it cancelled) to say."""
    if not missing.gone and not missing.back:
        return []
    now = clock.now()
    with service.db.session() as session:
        gone = [_hold(session, meeting, now) for meeting in missing.gone]
        back = [_release(session, meeting) for meeting in missing.back]
    notice = _missing_notice(service, gone, back, now)
    try:
        signer = service.signer()
    except MissingSecret as exc:  # collecting must go on; `comms check` reports the missing key
        log.error("team notice %r not sent: %s", notice.subject, exc)
        return gone
    notify_team(service.config, signer, notice, (), clock)
    return gone


def _hold(session: Session, meeting: Meeting, now: datetime) -> MissingReport:
    editions = notices_of(session, NOTICES.key, meeting.uid)
    held = []
    for edition in editions:
        if edition.status in _UNSENT:
            edition.set_status(EditionStatus.HELD, _gone_from_feed(now))
            held.append(edition.key)
    sent_to = sorted({json.loads(e.summary)["province"] for e in editions if e.status in _OUT})
    return MissingReport(meeting, sent_to, held)


def _gone_from_feed(now: datetime) -> Reason:
    return Reason(
        f"{MISSING_HOLD} since {local_text(now)}; the team was told",
        f"de vergadering staat sinds {date_and_time(now)} niet meer in de agendafeed; het team is ingelicht",
    )


def _release(session: Session, meeting: Meeting) -> MissingReport:
    """Back as it was: our held notices go out as planned (at once if their time passed).
    Back changed: they are superseded, and the next build plans the new version."""
    released = []
    for edition in notices_of(session, NOTICES.key, meeting.uid):
        if edition.status != EditionStatus.HELD or not (edition.status_reason or "").startswith(MISSING_HOLD):
            continue
        announced = Meeting.from_json(json.loads(edition.summary)["meeting"])
        if announced.content_hash == meeting.content_hash:  # the source it came back in does not count
            edition.set_status(EditionStatus.APPROVED)
            released.append(edition.key)
        else:
            edition.set_status(EditionStatus.CANCELLED, SUPERSEDED)
    return MissingReport(meeting, [], released)


def _missing_notice(
    service: Service, gone: list[MissingReport], back: list[MissingReport], now: datetime
) -> TeamNotice:
    lines: list[str] = []
    for report in gone:
        lines.append(
            f"{_named(report.meeting)} staat sinds {date_and_time(now)} niet meer in de agendafeed "
            f"({report.meeting.source})."
        )
        lines.append(
            f"Het agendabericht is al verstuurd aan GS van {_listed(report.sent_to)}."
            if report.sent_to
            else "Geen enkele provincie heeft al een agendabericht over deze vergadering gehad."
        )
        if report.held:
            lines.append(f"{_count(report.held, IS)} aangehouden: {', '.join(report.held)}.")
    if gone:
        lines.append(
            "Er is niets geannuleerd en niets verstuurd. Gaat de vergadering niet door, vraag het IPO dan "
            "haar in de feed als geannuleerd te markeren: wie het bericht al had, krijgt dan vanzelf een "
            "annulering. Komt de vergadering ongewijzigd terug in de feed, dan gaan de aangehouden berichten "
            "alsnog uit."
        )
        lines += [
            f"De aangehouden berichten in de console:\n{workflow.console_url(service)}agenda?stand=held",
            "Vervallen verklaren op de opdrachtregel:\ncomms discard BERICHT --by GEBRUIKERSNAAM",
        ]
    for report in back:
        again = f"; {_count(report.held, GOES)} weer volgens plan uit" if report.held else ""
        lines.append(
            f"{_named(report.meeting)} staat weer in de agendafeed ({report.meeting.source}){again}."
        )
    return TeamNotice(_missing_subject(gone, back), lines)


def _missing_subject(gone: list[MissingReport], back: list[MissingReport]) -> str:
    if len(gone) == 1 and not back:
        meeting = gone[0].meeting
        return f"Niet meer in de agendafeed: {meeting.body_name}, {long_date(meeting.starts_at)}"
    if gone:
        return f"{len(gone) + len(back)} vergaderingen niet meer of weer in de agendafeed"
    if len(back) == 1:
        meeting = back[0].meeting
        return f"Weer in de agendafeed: {meeting.body_name}, {long_date(meeting.starts_at)}"
    return f"{len(back)} vergaderingen weer in de agendafeed"


def _count(keys: list[str], verb: Verb) -> str:
    """'1 gepland agendabericht is', '11 geplande agendaberichten zijn'."""
    return counted(len(keys), PLANNED_NOTICE, verb)


def _named(meeting: Meeting) -> str:
    when = long_date(meeting.starts_at) if meeting.all_day else date_and_time(meeting.starts_at)
    body = "" if meeting.body_name.casefold() in meeting.title.casefold() else f" ({meeting.body_name})"
    return f"{meeting.title}{body} van {when}"


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} en {names[-1]}"
