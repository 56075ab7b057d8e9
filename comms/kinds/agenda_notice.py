"""Agenda notices: every IPO-bestuur, BAC and AV agenda to each province's GS meeting in time.

One edition per meeting version and province (compose.agenda says which should exist and
when each goes out). Whether they wait for approval is their schedule's choice: the shipped
one says no (timeliness comes first, and the content is the IPO's own agenda). A notice
published too late for a GS agenda goes out as soon as it is built (and approved).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from comms.audience.gs_calendar import GsCalendar, GsMeeting, load_gs_calendar
from comms.audience.profile import Profile
from comms.audience.resolve import Audience
from comms.collect.meetings.model import Meeting
from comms.compose.agenda import (
    IN_COPY_BLOCK,
    SUPERSEDED,
    AgendaPlan,
    NoticeAudience,
    PlannedNotice,
    meeting_summary,
    notice_context,
    notice_reach,
    notice_subject,
    plan_notices,
)
from comms.compose.agenda_plan import NoticePlan
from comms.config import Config
from comms.dutch import DutchName
from comms.kinds.base import (
    APPROVAL_REQUIRED,
    Approval,
    DueBuild,
    ListIdentity,
    PlannedMailing,
    TriggeredKind,
    note_build,
)
from comms.kinds.samples import sample_meeting
from comms.problems import Problem, ValidationFailed
from comms.render.agenda import notice_attachment
from comms.render.message import Attachment
from comms.render.personalise import RecipientFields
from comms.render.templates import Rendered
from comms.service import Service
from comms.store.editions import find_edition
from comms.store.models import Edition, EditionStatus


@dataclass
class NoticeBuild(DueBuild):
    """The notices built, as planned: for which meeting version and province, and when."""

    notices: list[PlannedNotice] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # meetings gone from their feed (AgendaPlan)


class AgendaNoticeKind(TriggeredKind):
    key = "agenda-notice"
    label = "Agendabericht voor de GS-vergadering"
    name = DutchName("de", "agendaberichten voor de GS-vergadering")
    template = "agenda-notice"
    listing_order = 20
    starts_when_built = True
    collects_before_build = True

    def list_identity(self, config: Config) -> ListIdentity:
        return ListIdentity(config.agenda.notice_list_name, config.agenda.notice_list_id)

    def audience(self, stored: str) -> Audience:
        return NoticeAudience.parse(stored)

    def reach(self, service: Service, now: datetime) -> ColumnElement[bool]:
        return notice_reach()

    def blocks(self, profile: Profile) -> frozenset[str]:
        # The provinciesecretaris gets the notice in copy, and is told so.
        return frozenset({IN_COPY_BLOCK}) if profile.is_kps else frozenset()

    def variant_label(self, blocks: frozenset[str]) -> str:
        return "provinciesecretaris (in kopie)" if IN_COPY_BLOCK in blocks else "GS en leden"

    def attachments(self, service: Service, edition: Edition) -> tuple[Attachment, ...]:
        """The meeting as .ics, made from what the notice announced."""
        summary = json.loads(edition.summary)
        meeting = Meeting.from_json(summary["meeting"])
        cancelled = summary.get("notice") == "cancellation"
        organizer = self.sender(service.config)
        return (notice_attachment(organizer, meeting, summary["version"], cancelled, edition.built_at),)

    # -- planning and building --------------------------------------------------------------

    def calendar(self, service: Service) -> tuple[GsCalendar, list[Problem]]:
        config = service.config
        calendar, problems = load_gs_calendar(config.resolve(config.agenda.gs_calendar))
        if calendar is None:
            raise ValidationFailed(problems)
        return calendar, problems

    def plan(self, service: Service, now: datetime) -> AgendaPlan:
        """Which notices should exist now and do not yet, and which unsent ones they replace."""
        calendar, problems = self.calendar(service)
        path = service.config.resolve(service.config.agenda.gs_calendar)
        with service.db.session() as session:
            result = plan_notices(session, calendar, path, now, self.key)
        result.problems = problems + result.problems
        return result

    def planned_mailings(self, service: Service, now: datetime) -> list[PlannedMailing]:
        """The notices the plan says should exist, with their send times (urgent ones: now)."""
        return [
            PlannedMailing(
                notice.key,
                notice.plan.send_at if notice.plan else now,
                notice_subject(notice),
                NoticeAudience.of(notice),
            )
            for notice in self.plan(service, now).notices
        ]

    def build_due(
        self,
        service: Service,
        now: datetime,
        template: str | None = None,
        approval: Approval = APPROVAL_REQUIRED,
    ) -> NoticeBuild:
        """Create every notice that is due to exist; an unsent older version is superseded.

        A template error stops the whole build before anything is stored (ValidationFailed).
        """
        planned = self.plan(service, now)
        template = template or self.template
        rendered = [(notice, self._render(service, notice, template)) for notice in planned.notices]
        with service.db.session() as session:
            for key in planned.superseded:
                old = find_edition(session, key)
                old.set_status(EditionStatus.CANCELLED, SUPERSEDED)
            for notice, output in rendered:
                edition = self._edition(notice, output, now)
                approval.release(edition, now)
                session.add(edition)
                note_build(session, edition, approval.by, now)
        created = [n.key for n in planned.notices]
        return NoticeBuild(created, planned.superseded, planned.problems, planned.notices, planned.missing)

    def _edition(self, notice: PlannedNotice, output: Rendered, now: datetime) -> Edition:
        return Edition(
            key=notice.key,
            kind=self.key,
            subject=notice_subject(notice),
            audience=NoticeAudience.of(notice).stored,
            built_at=now,
            send_at=notice.plan.send_at if notice.plan else now,
            summary=meeting_summary(notice),
            html=output.html,
            text=output.text,
        )

    def _render(self, service: Service, notice: PlannedNotice, template: str) -> Rendered:
        return self.render(service, template, self._context(notice))

    def _context(self, notice: PlannedNotice) -> dict[str, Any]:
        return notice_context(notice) | {"recipient": RecipientFields()}

    def sample_context(self, service: Service) -> dict[str, Any]:
        return self._context(sample_notice())


def sample_notice() -> PlannedNotice:
    """An urgent notice with changes, documents and a location: every branch of the template."""
    meeting = sample_meeting()
    starts = meeting.starts_at
    missed = GsMeeting("Utrecht", starts - timedelta(days=8), starts - timedelta(days=12))
    upcoming = GsMeeting("Utrecht", starts - timedelta(days=1), starts - timedelta(days=5))
    plan = NoticePlan("Utrecht", starts - timedelta(days=9), upcoming, True, missed, "sample")
    return PlannedNotice(meeting, 2, "Utrecht", "notice", plan, ("Agendapunt 1 is gewijzigd.",))


KIND = AgendaNoticeKind()
