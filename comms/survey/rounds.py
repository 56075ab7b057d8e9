"""A survey round's invitees: who is invited, who answered, which reminder is due.

The invitation and every reminder are editions like any mailing (comms.kinds.survey makes
them). Their audience is the round's invitees who have not answered, decided when sending
starts and checked again for every batch, so a reminder never reaches someone who answered
in the meantime, or anyone after closing. Each invitee's link is a signed token (contact,
round, valid until closing); the form accepts it for one response (survey.responses).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import and_, case, delete, exists, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from comms.audience.resolve import SegmentSource, segment_clause
from comms.audience.segments import Segment
from comms.dates import date_and_time, long_date
from comms.problems import Problem, ValidationFailed
from comms.store.database import rows_changed
from comms.store.models import Contact, Message, Survey, SurveyDraft, SurveyInvitation
from comms.survey.definitions import SurveyDefinition, load_survey_definitions


def edition_key(round_: str, number: int) -> str:
    """The invitation (number 0) or the nth reminder of a round."""
    what = "uitnodiging" if number == 0 else f"herinnering-{number}"
    return f"enquete-{round_.lower()}-{what}"


def subject(definition: SurveyDefinition, number: int) -> str:
    if number == 0:
        return f"Uitnodiging: {definition.title}"
    return f"Herinnering: {definition.title} (sluit {long_date(definition.closes_at)})"


# -- who gets what ---------------------------------------------------------------------------


def invitation_of(round_: str) -> ColumnElement[bool]:
    """The contact's invitation to the round (a condition on Contact and SurveyInvitation)."""
    return and_(
        SurveyInvitation.contact_id == Contact.id,
        SurveyInvitation.survey_id == select(Survey.id).where(Survey.round == round_).scalar_subquery(),
    )


def has_answered(round_: str) -> ColumnElement[bool]:
    return exists().where(invitation_of(round_), SurveyInvitation.submitted.is_(True))


@dataclass(frozen=True, slots=True)
class InviteesAudience:
    """Invitees of a round who have not answered; for reminder n, who had n - 1 reminders.

    Stored as "survey:<round>:<n>": n = 0 the invitation, n ≥ 1 the nth reminder.
    """

    round: str
    number: int

    PREFIX = "survey:"

    @classmethod
    def parse(cls, stored: str) -> InviteesAudience:
        parts = stored.split(":")
        prefix, round_, number = parts if len(parts) == 3 else ("", "", "")
        if f"{prefix}:" != cls.PREFIX or not round_ or not number.isdigit():
            raise ValueError(f"not a survey audience: {stored!r}")
        return cls(round_, int(number))

    @property
    def stored(self) -> str:
        return f"{self.PREFIX}{self.round}:{self.number}"

    @property
    def label(self) -> str:
        if self.is_invitation:
            return f"genodigden van ronde {self.round}"
        return f"genodigden van ronde {self.round} die nog niet antwoordden"

    @property
    def is_invitation(self) -> bool:
        return self.number == 0

    def clause(self, segments: SegmentSource) -> ColumnElement[bool]:
        condition = and_(invitation_of(self.round), SurveyInvitation.submitted.is_(False))
        if self.number > 0:
            condition = and_(condition, SurveyInvitation.reminders_sent == self.number - 1)
        return exists().where(condition)


# -- starting a round -------------------------------------------------------------------------


def find_definition(directory: Path, round_: str) -> SurveyDefinition:
    """The definition of a round in the survey files (templates/surveys/*.toml); ValidationFailed
    when the files have errors or no file defines the round."""
    definitions, problems = load_survey_definitions(directory)
    errors = [p for p in problems if p.is_error]
    if errors:
        raise ValidationFailed(errors)
    found = next((d for d in definitions if d.round == round_), None)
    if found is None:
        known = ", ".join(sorted(d.round for d in definitions)) or "none"
        raise ValidationFailed(
            [Problem(str(directory), f"no survey definition for round {round_!r} (known: {known})")]
        )
    return found


def check_not_closed(definition: SurveyDefinition, now: datetime) -> None:
    if now >= definition.closes_at:
        closed = date_and_time(definition.closes_at)
        raise ValidationFailed(
            [Problem(str(definition.path), f"round {definition.round} closed on {closed}")]
        )


def create_round(session: Session, definition: SurveyDefinition, now: datetime) -> int:
    """The round and one invitation per audience member, once; returns how many were invited.

    ValidationFailed (nothing stored) for a round that was started already or has nobody to
    invite.
    """
    round_ = definition.round
    if session.scalar(select(Survey.id).where(Survey.round == round_)) is not None:
        raise ValidationFailed(
            [Problem(str(definition.path), f"round {round_} was started already; nothing was sent again")]
        )
    survey = Survey(
        round=round_,
        name=definition.name,
        title=definition.title,
        anonymous=definition.anonymous,
        opens_at=definition.opens_at,
        closes_at=definition.closes_at,
        started_at=now,
        definition=definition.to_json(),
    )
    session.add(survey)
    session.flush()
    invited = _invite(session, survey.id, definition)
    if not invited:
        raise ValidationFailed([Problem(str(definition.path), "the audience of this survey is empty")])
    return invited


def _invite(session: Session, survey_id: int, definition: SurveyDefinition) -> int:
    """One invitation per audience member, in SQL; the role recorded is the first that matches."""
    role = _first_role(definition)
    rows = select(literal(survey_id), Contact.id, role, Contact.province, literal(0), literal(False)).where(
        Contact.active.is_(True), _audience(definition)
    )
    session.execute(
        insert(SurveyInvitation).from_select(
            ["survey_id", "contact_id", "role", "province", "reminders_sent", "submitted"], rows
        )
    )
    count = select(func.count()).select_from(SurveyInvitation).where(SurveyInvitation.survey_id == survey_id)
    return session.scalar(count) or 0


def _audience(definition: SurveyDefinition) -> ColumnElement[bool]:
    return segment_clause(Segment("survey", "", frozenset(definition.roles), definition.provinces))


def reach(directory: Path, now: datetime) -> ColumnElement[bool]:
    """Everyone survey mail can reach: the audience of any round defined in `directory`, and
    the invitees of a round still open (its reminders follow them, whatever their roles now)."""
    definitions, _ = load_survey_definitions(directory)  # a broken file is `comms check`'s to report
    invited = exists().where(
        SurveyInvitation.contact_id == Contact.id,
        SurveyInvitation.survey_id == Survey.id,
        Survey.closes_at > now,
    )
    return or_(invited, *(_audience(d) for d in definitions))


def _first_role(definition: SurveyDefinition) -> ColumnElement[str]:
    order = sorted(definition.roles)
    return case(*((Contact.roles.like(f"%,{r},%"), literal(r)) for r in order), else_=literal(None))


# -- reminders --------------------------------------------------------------------------------


def purge_closed_drafts(session: Session, now: datetime) -> int:
    """Drafts of rounds that closed are deleted: unsent answers beside an invitation would
    otherwise outlive the round, linked to a person, in an anonymous round too."""
    closed = select(SurveyInvitation.id).join(Survey).where(Survey.closes_at <= now)
    result = session.execute(delete(SurveyDraft).where(SurveyDraft.invitation_id.in_(closed)))
    return rows_changed(result)


def open_rounds(session: Session, now: datetime) -> list[tuple[int, SurveyDefinition]]:
    surveys = session.scalars(select(Survey).where(Survey.opens_at <= now, Survey.closes_at > now)).all()
    return [(s.id, SurveyDefinition.from_json(s.definition)) for s in surveys]


def due_reminder(session: Session, survey_id: int, definition: SurveyDefinition, now: datetime) -> int | None:
    """The next reminder number if the policy says it is due for the invitees who have not answered."""
    row = session.execute(
        select(
            func.min(SurveyInvitation.reminders_sent),
            func.max(SurveyInvitation.invited_at),
            func.max(SurveyInvitation.last_reminded_at),
        ).where(
            SurveyInvitation.survey_id == survey_id,
            SurveyInvitation.submitted.is_(False),
            SurveyInvitation.invited_at.is_not(None),
        )
    ).one()
    sent, invited_at, reminded_at = row
    if sent is None or invited_at is None:
        return None  # nobody left who has not answered, or the invitation has not gone out
    due = definition.reminders.next_reminder_at(invited_at, sent, reminded_at)
    return sent + 1 if due is not None and now >= due else None


def coming_reminders(session: Session, now: datetime) -> list[tuple[SurveyDefinition, int, datetime]]:
    """(definition, reminder number, when it is due) for every reminder the policies of rounds that
    have not closed still plan, before closing; for the team's calendar."""
    found = []
    for survey in session.scalars(select(Survey).where(Survey.closes_at > now)):
        definition = SurveyDefinition.from_json(survey.definition)
        sent, invited_at, reminded_at = session.execute(
            select(
                func.min(SurveyInvitation.reminders_sent),
                func.max(SurveyInvitation.invited_at),
                func.max(SurveyInvitation.last_reminded_at),
            ).where(SurveyInvitation.survey_id == survey.id, SurveyInvitation.submitted.is_(False))
        ).one()
        invited_at = invited_at or max(now, definition.opens_at)  # the invitation goes out when it opens
        number = sent or 0
        while (due := definition.reminders.next_reminder_at(invited_at, number, reminded_at)) is not None:
            if due >= definition.closes_at:
                break
            number, reminded_at = number + 1, due
            found.append((definition, number, max(due, now)))
    return found


def note_sent(session: Session, edition_id: int, audience: InviteesAudience, now: datetime) -> None:
    """Invited at / reminders sent, for everyone this mailing's ledger holds (idempotent)."""
    survey_id = select(Survey.id).where(Survey.round == audience.round).scalar_subquery()
    queued = select(Message.contact_id).where(Message.edition_id == edition_id)
    mine = and_(SurveyInvitation.survey_id == survey_id, SurveyInvitation.contact_id.in_(queued))
    if audience.is_invitation:
        session.execute(
            update(SurveyInvitation).where(mine, SurveyInvitation.invited_at.is_(None)).values(invited_at=now)
        )
    else:
        session.execute(
            update(SurveyInvitation)
            .where(mine, SurveyInvitation.reminders_sent < audience.number)
            .values(reminders_sent=audience.number, last_reminded_at=now)
        )


# -- status -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoundStatus:
    round: str
    title: str
    opens_at: datetime
    closes_at: datetime
    invited: int
    answered: int
    reminders: dict[int, int]  # reminders sent → invitees


def status(session: Session) -> list[RoundStatus]:
    result = []
    for survey in session.scalars(select(Survey).order_by(Survey.opens_at)):
        rows = session.execute(
            select(SurveyInvitation.reminders_sent, SurveyInvitation.submitted, func.count())
            .where(SurveyInvitation.survey_id == survey.id)
            .group_by(SurveyInvitation.reminders_sent, SurveyInvitation.submitted)
        ).all()
        reminders: dict[int, int] = {}
        for sent, _, count in rows:
            reminders[sent] = reminders.get(sent, 0) + count
        result.append(
            RoundStatus(
                survey.round,
                survey.title,
                survey.opens_at,
                survey.closes_at,
                sum(c for _, _, c in rows),
                sum(c for _, submitted, c in rows if submitted),
                reminders,
            )
        )
    return result
