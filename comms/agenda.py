"""Agenda notices and the agenda digest end to end: plan → build → start sending.

The notices follow the meeting ledger (collect): each run builds what is new (a
first notice, an update, a cancellation) and starts the ones whose planned time has
come. Delivery is the workers' job, as for every edition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from comms import editions
from comms.audience.gs_calendar import GsCalendar, load_gs_calendar
from comms.clock import Clock
from comms.collect.meetings.model import Meeting
from comms.compose.agenda import (
    AUDIENCE_PREFIX,
    DIGEST_KIND,
    NOTICE_KIND,
    AgendaPlan,
    PlannedNotice,
    audience_of,
    digest_key,
    digest_period,
    meeting_summary,
    notice_subject,
    plan_notices,
    time_text,
)
from comms.dates import AMSTERDAM, local, long_date
from comms.domain import PROVINCES
from comms.problems import Problem, ValidationFailed
from comms.render.agenda import render_digest, render_notice
from comms.render.personalise import Personaliser
from comms.render.templates import Rendered, TemplateError
from comms.service import Service
from comms.store.models import Contact, Edition, EditionStatus, MeetingRecord

NO_APPROVAL = "agenda notices need no approval (timeliness first)"


@dataclass
class NoticeBuild:
    created: list[PlannedNotice] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def calendar_for(service: Service) -> tuple[GsCalendar, list[Problem]]:
    config = service.config
    calendar, problems = load_gs_calendar(config.resolve(config.agenda.gs_calendar))
    if calendar is None:
        raise ValidationFailed(problems)
    return calendar, problems


def plan(service: Service, now: datetime) -> AgendaPlan:
    calendar, problems = calendar_for(service)
    path = service.config.resolve(service.config.agenda.gs_calendar)
    with service.db.session() as session:
        result = plan_notices(session, calendar, path, now)
    result.problems = problems + result.problems
    return result


def build_notices(service: Service, now: datetime, template: str = "agenda-notice") -> NoticeBuild:
    """Create every notice that is due to exist; an unsent older version is superseded.

    A template error stops the whole build before anything is stored (ValidationFailed).
    """
    planned = plan(service, now)
    rendered = [(notice, _render(service, notice, template)) for notice in planned.notices]
    with service.db.session() as session:
        for key in planned.superseded:
            old = editions.find_edition(session, key)
            old.status, old.status_reason = EditionStatus.CANCELLED, "superseded by a newer agenda version"
        for notice, output in rendered:
            session.add(
                Edition(
                    key=notice.key,
                    kind=NOTICE_KIND,
                    subject=notice_subject(notice),
                    audience=_audience_name(notice),
                    status=EditionStatus.APPROVED,
                    approved_at=now,
                    approved_by=NO_APPROVAL,
                    built_at=now,
                    send_at=notice.plan.send_at if notice.plan else now,
                    summary=meeting_summary(notice),
                    html=output.html,
                    text=output.text,
                )
            )
    return NoticeBuild(planned.notices, planned.superseded, planned.problems)


def start_due_notices(service: Service, clock: Clock) -> list[str]:
    """Move every approved notice whose time has come to `sending`; returns their keys."""
    keys = editions.due_for_sending(service, NOTICE_KIND, clock.now())
    for key in keys:
        editions.start_sending(service, key, clock)
    return keys


def _audience_name(notice: PlannedNotice) -> str:
    slug = next(p.slug for p in PROVINCES if p.name == notice.province)
    return f"{AUDIENCE_PREFIX}{slug}:{notice.meeting.body}"


def _render(service: Service, notice: PlannedNotice, template: str) -> Rendered:
    try:
        output = render_notice(service.templates, notice, template)
        Personaliser.cut(output.html, is_html=True)
        Personaliser.cut(output.text, is_html=False)
        return output
    except TemplateError as exc:
        raise ValidationFailed([exc.problem]) from exc


# -- the digest --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestBuild:
    key: str
    meetings: int
    audience_size: int


def build_digest(service: Service, now: datetime, template: str = "agenda-digest") -> DigestBuild:
    """The weekly overview for the griffies; rebuilt while unsent, never after."""
    config = service.config.agenda
    start, end = digest_period(now, config.digest_weeks)
    key = digest_key(start)
    first = datetime.combine(start, time(0), AMSTERDAM)
    last = datetime.combine(end + timedelta(days=1), time(0), AMSTERDAM)
    with service.db.session() as session:
        records = session.scalars(
            select(MeetingRecord)
            .where(MeetingRecord.starts_at >= first, MeetingRecord.starts_at < last)
            .order_by(MeetingRecord.starts_at, MeetingRecord.uid)
        ).all()
        meetings = [_digest_meeting(Meeting.from_json(r.data)) for r in records]
    subject = f"Agenda's van het IPO vanaf {local(first):%d-%m-%Y}"
    digest = {
        "subject": subject,
        "start": first,
        "end": last - timedelta(seconds=1),
        "meetings": meetings,
        "preferences_url": f"{service.config.web_base_url}/voorkeuren",
    }
    try:
        output = render_digest(service.templates, digest, template)
    except TemplateError as exc:
        raise ValidationFailed([exc.problem]) from exc
    with service.db.session() as session:
        edition = session.scalars(select(Edition).where(Edition.key == key)).first()
        if edition is not None and edition.status not in (EditionStatus.DRAFT, EditionStatus.APPROVED):
            raise ValidationFailed([Problem(key, f"the digest is {edition.status}; it is never rebuilt")])
        if edition is None:
            edition = Edition(key=key, kind=DIGEST_KIND, built_at=now, status=EditionStatus.DRAFT)
            session.add(edition)
        edition.subject, edition.audience = subject, config.digest_audience
        edition.html, edition.text, edition.built_at = output.html, output.text, now
        edition.status, edition.approved_at, edition.approved_by = EditionStatus.DRAFT, None, None
        clause = editions.audience_clause(service, edition)
        size = session.scalar(
            select(func.count()).select_from(Contact).where(Contact.active.is_(True), clause)
        )
    return DigestBuild(key, len(meetings), size or 0)


def _digest_meeting(meeting: Meeting) -> dict[str, object]:
    return {
        "title": meeting.title,
        "starts_at": meeting.starts_at,
        "time_text": time_text(meeting),
        "location": meeting.location,
        "url": meeting.url,
        "agenda": meeting.items,
        "is_cancelled": meeting.is_cancelled,
    }


# -- `comms agenda plan` -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanRow:
    meeting: str  # "BAC Landelijk Gebied, donderdag 10 december 2026"
    province: str
    send_at: datetime | None
    state: str  # "planned", "urgent", an edition's status, or the problem
    gs_meeting: datetime | None
    recipients: int
    edition: str | None


def plan_report(service: Service, now: datetime) -> tuple[list[PlanRow], list[Problem]]:
    """Per upcoming meeting and province: when the notice goes out (or went), and to how many."""
    planned = plan(service, now)
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
                    _count(session, audience_of(_audience_name(notice))),
                    None,
                )
            )
        built = session.scalars(
            select(Edition).where(Edition.kind == NOTICE_KIND).order_by(Edition.send_at, Edition.key)
        ).all()
        for edition in built:
            summary = _summary(edition)
            meeting = Meeting.from_json(summary["meeting"])
            if meeting.starts_at <= now:
                continue
            gs = summary.get("gs_meeting")
            rows.append(
                PlanRow(
                    _meeting_label(meeting),
                    summary["province"],
                    edition.send_at,
                    edition.status + (" (urgent)" if summary.get("urgent") else ""),
                    datetime.fromisoformat(gs) if gs else None,
                    _count(session, audience_of(edition.audience)),
                    edition.key,
                )
            )
    rows.sort(key=lambda r: (r.meeting, r.province, r.send_at or now))
    return rows, planned.problems


def _summary(edition: Edition) -> dict:
    return json.loads(edition.summary)


def _count(session: Session, clause: ColumnElement[bool] | None) -> int:
    if clause is None:
        return 0
    return (
        session.scalar(select(func.count()).select_from(Contact).where(Contact.active.is_(True), clause)) or 0
    )


def _meeting_label(meeting: Meeting) -> str:
    return f"{meeting.body_name}, {long_date(meeting.starts_at)}"
