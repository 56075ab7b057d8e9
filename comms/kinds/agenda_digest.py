"""The weekly agenda digest: every IPO meeting of the coming weeks, for the griffies to forward.

It is forward-safe: the body holds no personal value, link or tracking (the template gets no
`recipient`: a template that reaches for one fails to render), so every recipient's body is
the same bytes and a forwarded copy lets nobody act for the griffie.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from comms.collect.meetings.model import Meeting
from comms.compose.agenda import digest_key, digest_period, meeting_fields
from comms.config import Config
from comms.dates import AMSTERDAM, local
from comms.dutch import DutchName
from comms.kinds.base import (
    BuildOutcome,
    BuildRequest,
    ListIdentity,
    PeriodicKind,
    check_rebuildable,
    note_build,
)
from comms.kinds.samples import sample_meeting
from comms.problems import Problem, ValidationFailed
from comms.service import Service
from comms.store.editions import audience_size, edition_or_none
from comms.store.models import Edition, EditionStatus, MeetingRecord


class AgendaDigestKind(PeriodicKind):
    key = "agenda-digest"
    label = "Wekelijks agendaoverzicht voor griffies"
    name = DutchName("het", "wekelijkse agendaoverzicht voor griffies")
    template = "agenda-digest"
    listing_order = 30
    period_format = "%G-W%V"  # one digest an ISO week
    forward_safe = True

    def list_identity(self, config: Config) -> ListIdentity:
        return ListIdentity(config.agenda.digest_list_name, config.agenda.digest_list_id)

    def default_audience(self, config: Config) -> str:
        return config.agenda.digest_audience

    def edition_key(self, request: BuildRequest) -> str:
        start, _ = digest_period(request.now, 1)  # named after its first Monday, whatever its length
        return digest_key(start)

    def build(self, service: Service, request: BuildRequest) -> BuildOutcome:
        """The digest for the coming weeks as a draft; rebuilt while unsent, never after."""
        config = service.config
        now = request.now
        start, end = digest_period(now, config.agenda.digest_weeks)
        key = digest_key(start)
        first = datetime.combine(start, time(0), AMSTERDAM)
        last = datetime.combine(end + timedelta(days=1), time(0), AMSTERDAM)
        with service.db.session() as session:
            records = session.scalars(
                select(MeetingRecord)
                .where(MeetingRecord.starts_at >= first, MeetingRecord.starts_at < last)
                .order_by(MeetingRecord.starts_at, MeetingRecord.uid)
            ).all()
            meetings = [meeting_fields(Meeting.from_json(r.data)) for r in records]
        subject = f"Agenda's van het IPO vanaf {local(first):%d-%m-%Y}"
        digest = {
            "subject": subject,
            "start": first,
            "end": last - timedelta(seconds=1),
            "meetings": meetings,
            "preferences_url": f"{config.web_base_url}/voorkeuren",
        }
        output = self.render(service, request.template or self.template, {"digest": digest})
        audience = request.audience or self.default_audience(config)
        with service.db.session() as session:
            edition = edition_or_none(session, key)
            if edition is not None and edition.status in (EditionStatus.SENDING, EditionStatus.SENT):
                raise ValidationFailed([Problem(key, f"the digest is {edition.status}; it is never rebuilt")])
            check_rebuildable(edition, request)
            was_approved = edition is not None and edition.status == EditionStatus.APPROVED
            if edition is None:
                edition = Edition(key=key, kind=self.key, built_at=now, status=EditionStatus.DRAFT)
                session.add(edition)
            edition.subject, edition.audience = subject, audience
            edition.html, edition.text, edition.built_at = output.html, output.text, now
            edition.set_status(EditionStatus.DRAFT)
            edition.approved_at = edition.approved_by = None
            revision = note_build(session, edition, request.by, now)
            size = audience_size(session, self.audience_clause(service, edition))
        contents = f"{len(meetings)} meeting(s)"
        return BuildOutcome(
            key, EditionStatus.DRAFT, None, size, contents, revision=revision, was_approved=was_approved
        )

    def sample_context(self, service: Service) -> dict[str, Any]:
        meeting = sample_meeting()
        return {
            "digest": {
                "subject": "Agenda's van het IPO",
                "start": meeting.starts_at,
                "end": meeting.starts_at + timedelta(days=42),
                "meetings": [meeting_fields(meeting)],
                "preferences_url": f"{service.config.web_base_url}/voorkeuren",
            }
        }


KIND = AgendaDigestKind()
