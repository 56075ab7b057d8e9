"""Agenda notices to every province's GS and the weekly digest: the plan, building, starting."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from comms.clock import Clock
from comms.collect.meetings.model import Meeting
from comms.compose.agenda import NoticeAudience
from comms.dates import long_date
from comms.editions import lifecycle
from comms.kinds import BuildOutcome, BuildRequest
from comms.kinds.agenda_digest import KIND as DIGEST
from comms.kinds.agenda_notice import KIND as NOTICES
from comms.problems import Problem
from comms.service import Service
from comms.store.editions import audience_size
from comms.store.models import Edition


@dataclass
class NoticesBuilt:
    created: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def build_notices(service: Service, clock: Clock, template: str | None = None) -> NoticesBuilt:
    """Build every notice that is due to exist now, and start the ones whose time has come."""
    built = NOTICES.build_due(service, clock.now(), template)
    started = lifecycle.start_due(service, NOTICES, clock)
    return NoticesBuilt(built.created, built.superseded, started, built.problems)


def build_digest(service: Service, now: datetime) -> BuildOutcome:
    """The digest of the coming weeks as a draft (approve and send it as any edition)."""
    return DIGEST.build(service, BuildRequest(now))


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
                    edition.status + (" (urgent)" if summary.get("urgent") else ""),
                    datetime.fromisoformat(gs) if gs else None,
                    audience_size(session, NOTICES.audience_clause(service, edition)),
                    edition.key,
                )
            )
    rows.sort(key=lambda r: (r.meeting, r.province, r.send_at or now))
    return rows, planned.problems


def _meeting_label(meeting: Meeting) -> str:
    return f"{meeting.body_name}, {long_date(meeting.starts_at)}"
