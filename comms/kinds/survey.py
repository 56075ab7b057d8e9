"""Survey mailings: a round's invitation and its reminders, each with the invitee's own link.

A round is started by the team (`comms survey start`): its invitees are recorded and the
invitation planned for the opening, as a draft for the team to approve where the survey
schedule says `[approval] required = true`. A schedule's build makes the reminders the round's
policy says are due; its send starts what is due. Nobody who answered gets a reminder, and
nobody gets anything after the round closed: checked when sending starts and for every batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from comms.audience.resolve import Audience
from comms.config import Config
from comms.dates import time_of_day
from comms.deliver.queue import Skip
from comms.dutch import DutchName
from comms.kinds.base import (
    APPROVAL_REQUIRED,
    Approval,
    DueBuild,
    ListIdentity,
    PersonalLinks,
    PlannedMailing,
    TriggeredKind,
    note_build,
)
from comms.reasons import Reason
from comms.render.message import Recipient
from comms.render.personalise import RecipientFields
from comms.render.templates import Rendered
from comms.service import Service
from comms.store.models import Edition
from comms.survey import pool, rounds
from comms.survey.definitions import DEFAULT_REMINDERS, Question, QuestionType, SurveyDefinition
from comms.survey.rounds import InviteesAudience
from comms.tokens import Purpose

SURVEY_CLOSED = Reason(
    "the survey closed before it went out", "de enquête was al gesloten voordat dit bericht uit zou gaan"
)


@dataclass(frozen=True, slots=True)
class RoundStart:
    round: str
    invited: int
    edition_key: str
    send_at: datetime
    needs_approval: bool = True  # the invitation waits for the team's approval


class SurveyKind(TriggeredKind):
    key = "survey"
    label = "Evaluatie van het pamflet"
    name = DutchName("de", "uitnodigingen voor de evaluatie van het pamflet")
    template = "survey-invitation"
    listing_order = 40

    def list_identity(self, config: Config) -> ListIdentity:
        return ListIdentity("Evaluaties van het IPO", "evaluaties")

    def audience(self, stored: str) -> Audience:
        return InviteesAudience.parse(stored)

    def reach(self, service: Service, now: datetime) -> ColumnElement[bool]:
        return rounds.reach(self._surveys_dir(service), now)

    def skip(self, edition: Edition, now: datetime) -> Skip | None:
        """At every batch: nobody who answered meanwhile, and nobody at all after closing."""
        if now >= definition_of(edition).closes_at:
            return Skip(true(), "the survey closed before this message went out")
        return Skip(rounds.has_answered(self._audience(edition).round), "answered the survey already")

    def personal_links(self, service: Service, edition: Edition) -> PersonalLinks | None:
        """Each invitee's own survey link: signed, for this round, valid until closing."""
        definition = definition_of(edition)
        signer, base = service.signer(), service.config.web_base_url

        def links(recipient: Recipient) -> dict[str, str]:
            token = signer.sign(Purpose.SURVEY, recipient.public_id, definition.round, definition.closes_at)
            return {"survey_url": f"{base}/enquete/{token}"}

        return links

    def cancel_reason(self, edition: Edition, now: datetime) -> Reason | None:
        if now >= definition_of(edition).closes_at:
            return SURVEY_CLOSED
        return None

    def on_started(self, session: Session, edition: Edition, now: datetime) -> None:
        rounds.note_sent(session, edition.id, self._audience(edition), now)

    def _audience(self, edition: Edition) -> InviteesAudience:
        return InviteesAudience.parse(edition.audience)

    # -- building -----------------------------------------------------------------------------

    def planned_mailings(self, service: Service, now: datetime) -> list[PlannedMailing]:
        """The reminders the rounds' policies still plan (the invitation is an edition already)."""
        with service.db.session() as session:
            coming = rounds.coming_reminders(session, now)
        # Who has not answered yet, as the next reminder would count them: later ones reach fewer.
        first: dict[str, int] = {}
        for definition, number, _ in coming:
            first.setdefault(definition.round, number)
        return [
            PlannedMailing(
                rounds.edition_key(definition.round, number),
                due,
                rounds.subject(definition, number),
                InviteesAudience(definition.round, first[definition.round]),
            )
            for definition, number, due in coming
        ]

    def start_round(
        self, service: Service, round_: str, now: datetime, approval: Approval = APPROVAL_REQUIRED
    ) -> RoundStart:
        """Invite the round's audience: once. The invitation goes out when the round opens, once
        approved (unless the schedule needs no approval)."""
        definition = rounds.find_definition(self._surveys_dir(service), round_)
        rounds.check_not_closed(definition, now)
        rendered = self._render(service, definition, 0)
        send_at = max(now, definition.opens_at)
        with service.db.session() as session:
            invited = rounds.create_round(session, definition, now)
            key = self._add_edition(session, definition, 0, rendered, send_at, now, approval)
        return RoundStart(round_, invited, key, send_at, approval.required)

    def build_due(
        self,
        service: Service,
        now: datetime,
        template: str | None = None,
        approval: Approval = APPROVAL_REQUIRED,
    ) -> DueBuild:
        """The reminders that are due now, per open round, each once (and closed rounds tidied).

        A reminder follows from its round's invitation, which the team approved (a reminder is
        only due once the invitation went out): it is approved with it, never asked again. Its
        text is the invitation's, and only those who have not answered get it."""
        with service.db.session() as session:
            rounds.purge_closed_drafts(session, now)
        pool.write_closed(service.db, pool.Seal(service.config.secret_key or ""), now)
        with service.db.session() as session:
            open_rounds = rounds.open_rounds(session, now)
        built = DueBuild()
        for survey_id, definition in open_rounds:
            with service.db.session() as session:
                number = rounds.due_reminder(session, survey_id, definition, now)
            if number is None:
                continue
            rendered = self._render(service, definition, number, template)
            with service.db.session() as session:
                key = rounds.edition_key(definition.round, number)
                if session.scalar(select(Edition.id).where(Edition.key == key)) is None:
                    follows = Approval(required=False, by=approval.by or f"enquête {definition.round}")
                    added = self._add_edition(session, definition, number, rendered, now, now, follows)
                    built.created.append(added)
        return built

    def _add_edition(
        self,
        session: Session,
        definition: SurveyDefinition,
        number: int,
        rendered: Rendered,
        send_at: datetime,
        now: datetime,
        approval: Approval,
    ) -> str:
        key = rounds.edition_key(definition.round, number)
        edition = Edition(
            key=key,
            kind=self.key,
            subject=rounds.subject(definition, number),
            audience=InviteesAudience(definition.round, number).stored,
            built_at=now,
            send_at=send_at,
            summary=definition.to_json(),
            html=rendered.html,
            text=rendered.text,
        )
        approval.release(edition, now)
        session.add(edition)
        note_build(session, edition, approval.by, now)
        return key

    def _render(
        self, service: Service, definition: SurveyDefinition, number: int, template: str | None = None
    ) -> Rendered:
        return self.render(service, template or self.template, _context(definition, number))

    def _surveys_dir(self, service: Service) -> Path:
        return service.config.resolve(service.config.templates_dir) / "surveys"

    def sample_context(self, service: Service) -> dict[str, Any]:
        return _context(sample_definition(), 1)


def sample_definition() -> SurveyDefinition:
    """An anonymous round with one question: a reminder renders every branch of the template."""
    question = Question("voorbeeld", QuestionType.SCALE, "Hoe gaat het?", labels=("1", "2", "3", "4", "5"))
    return SurveyDefinition(
        name="voorbeeld",
        path=Path("voorbeeld.toml"),
        title="Voorbeeldenquête",
        introduction="Een voorbeeld.\n\nMet twee alinea's.",
        round="2030-H1",
        opens_at=datetime(2030, 3, 1, 8, 0, tzinfo=UTC),
        closes_at=datetime(2030, 3, 22, 16, 0, tzinfo=UTC),
        roles=frozenset({"statenlid"}),
        provinces=frozenset(),
        reminders=DEFAULT_REMINDERS,
        anonymous=True,
        questions=(question,),
    )


def definition_of(edition: Edition) -> SurveyDefinition:
    """The round's definition as the mailing was built with it (a snapshot in its summary)."""
    return SurveyDefinition.from_json(edition.summary)


def _context(definition: SurveyDefinition, number: int) -> dict[str, Any]:
    return {
        "survey": {
            "title": definition.title,
            "introduction": definition.introduction,
            "closes_at": definition.closes_at,
            "closes_time": time_of_day(definition.closes_at),
            "is_reminder": number > 0,
            "anonymous": definition.anonymous,
            "questions": len(definition.questions),
        },
        "recipient": RecipientFields(),
    }


KIND = SurveyKind()
