"""A survey round through the mailing pipeline: start, invite, remind, close.

The invitation and every reminder are editions like any mailing (template, message
ledger, transports, workers). Their audience is the round's invitees who have not
answered, decided when sending starts and checked again for every batch (a `Skip`), so
a reminder never reaches someone who answered in the meantime, or anyone after closing.
Each invitee's link is a signed token (contact, round, valid until closing); the form
accepts it for one response (survey.responses).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, delete, exists, func, insert, literal, select, true, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from comms import editions
from comms.audience.resolve import segment_clause
from comms.audience.segments import Segment
from comms.clock import Clock
from comms.dates import date_and_time, long_date, time_of_day
from comms.deliver.queue import Skip
from comms.problems import Problem, ValidationFailed
from comms.render.message import Recipient
from comms.render.personalise import Personaliser, RecipientFields
from comms.render.templates import Rendered, TemplateError
from comms.service import Service
from comms.store.models import (
    Contact,
    Edition,
    EditionStatus,
    Message,
    Survey,
    SurveyDraft,
    SurveyInvitation,
)
from comms.survey.definitions import SurveyDefinition, load_survey_definitions
from comms.tokens import Purpose

SURVEY_KIND = "survey"
AUDIENCE_PREFIX = "survey:"  # "survey:<round>:<n>": n = 0 the invitation, n ≥ 1 the nth reminder
TEMPLATE = "survey-invitation"


def edition_key(round_: str, number: int) -> str:
    what = "uitnodiging" if number == 0 else f"herinnering-{number}"
    return f"enquete-{round_.lower()}-{what}"


# -- who gets what ---------------------------------------------------------------------------


def _invitation_of(round_: str) -> ColumnElement[bool]:
    return and_(
        SurveyInvitation.contact_id == Contact.id,
        SurveyInvitation.survey_id == select(Survey.id).where(Survey.round == round_).scalar_subquery(),
    )


def audience_of(audience: str) -> ColumnElement[bool] | None:
    """Invitees who have not answered (for reminder n: who had n - 1 reminders)."""
    if not audience.startswith(AUDIENCE_PREFIX):
        return None
    _, round_, number = audience.split(":")
    condition = and_(_invitation_of(round_), SurveyInvitation.submitted.is_(False))
    if int(number) > 0:
        condition = and_(condition, SurveyInvitation.reminders_sent == int(number) - 1)
    return exists().where(condition)


def skip_for(edition: Edition, now: datetime) -> Skip | None:
    """At every batch: nobody who answered meanwhile, and nobody at all after closing."""
    if edition.kind != SURVEY_KIND:
        return None
    round_ = edition.audience.split(":")[1]
    with_answer = exists().where(_invitation_of(round_), SurveyInvitation.submitted.is_(True))
    closes_at = _definition_of(edition).closes_at
    if now >= closes_at:
        return Skip(true(), "the survey closed before this message went out")
    return Skip(with_answer, "answered the survey already")


def personal_links(service: Service, edition: Edition) -> Callable[[Recipient], dict[str, str]] | None:
    """Each invitee's own survey link: signed, for this round, valid until closing."""
    if edition.kind != SURVEY_KIND:
        return None
    definition = _definition_of(edition)
    signer, base = service.signer(), service.config.web_base_url

    def links(recipient: Recipient) -> dict[str, str]:
        token = signer.sign(Purpose.SURVEY, recipient.public_id, definition.round, definition.closes_at)
        return {"survey_url": f"{base}/enquete/{token}"}

    return links


def _definition_of(edition: Edition) -> SurveyDefinition:
    return SurveyDefinition.from_json(edition.summary)


# -- starting a round -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoundStart:
    round: str
    invited: int
    edition_key: str
    send_at: datetime


def find_definition(service: Service, round_: str) -> SurveyDefinition:
    directory = service.config.resolve(service.config.templates_dir) / "surveys"
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


def start_round(service: Service, round_: str, now: datetime) -> RoundStart:
    """Invite the round's audience: once. The invitation goes out when the round opens."""
    definition = find_definition(service, round_)
    if now >= definition.closes_at:
        raise ValidationFailed(
            [Problem(str(definition.path), f"round {round_} closed on {date_and_time(definition.closes_at)}")]
        )
    rendered = _render(service, definition, 0)
    with service.db.session() as session:
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
        key = _add_edition(session, definition, 0, rendered, max(now, definition.opens_at), now)
    return RoundStart(round_, invited, key, max(now, definition.opens_at))


def _invite(session: Session, survey_id: int, definition: SurveyDefinition) -> int:
    """One invitation per audience member, in SQL; the role recorded is the first that matches."""
    audience = segment_clause(Segment("survey", "", frozenset(definition.roles), definition.provinces))
    role = _first_role(definition)
    rows = select(literal(survey_id), Contact.id, role, Contact.province, literal(0), literal(False)).where(
        Contact.active.is_(True), audience
    )
    session.execute(
        insert(SurveyInvitation).from_select(
            ["survey_id", "contact_id", "role", "province", "reminders_sent", "submitted"], rows
        )
    )
    count = select(func.count()).select_from(SurveyInvitation).where(SurveyInvitation.survey_id == survey_id)
    return session.scalar(count) or 0


def _first_role(definition: SurveyDefinition) -> ColumnElement[str]:
    order = sorted(definition.roles)
    return case(*((Contact.roles.like(f"%,{r},%"), literal(r)) for r in order), else_=literal(None))


def _add_edition(
    session: Session,
    definition: SurveyDefinition,
    number: int,
    rendered: Rendered,
    send_at: datetime,
    now: datetime,
) -> str:
    key = edition_key(definition.round, number)
    session.add(
        Edition(
            key=key,
            kind=SURVEY_KIND,
            subject=_subject(definition, number),
            audience=f"{AUDIENCE_PREFIX}{definition.round}:{number}",
            status=EditionStatus.APPROVED,
            approved_at=now,
            approved_by=f"survey round {definition.round}",
            built_at=now,
            send_at=send_at,
            summary=definition.to_json(),
            html=rendered.html,
            text=rendered.text,
        )
    )
    return key


def _subject(definition: SurveyDefinition, number: int) -> str:
    if number == 0:
        return f"Uitnodiging: {definition.title}"
    return f"Herinnering: {definition.title} (sluit {long_date(definition.closes_at)})"


def _render(service: Service, definition: SurveyDefinition, number: int) -> Rendered:
    context = {
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
    try:
        output = service.templates.render(TEMPLATE, context)
        Personaliser.cut(output.html, is_html=True)
        Personaliser.cut(output.text, is_html=False)
        return output
    except TemplateError as exc:
        raise ValidationFailed([exc.problem]) from exc


# -- reminders and sending ----------------------------------------------------------------------


def purge_closed_drafts(service: Service, now: datetime) -> int:
    """Drafts of rounds that closed are deleted: unsent answers beside an invitation would
    otherwise outlive the round, linked to a person, in an anonymous round too."""
    closed = select(SurveyInvitation.id).join(Survey).where(Survey.closes_at <= now)
    with service.db.session() as session:
        result = session.execute(delete(SurveyDraft).where(SurveyDraft.invitation_id.in_(closed)))
        return result.rowcount or 0


def build_reminders(service: Service, now: datetime) -> list[str]:
    """The reminders that are due now, per open round, each once (and closed rounds tidied)."""
    purge_closed_drafts(service, now)
    created = []
    with service.db.session() as session:
        surveys = session.scalars(select(Survey).where(Survey.opens_at <= now, Survey.closes_at > now)).all()
        rounds = [(s.id, SurveyDefinition.from_json(s.definition)) for s in surveys]
    for survey_id, definition in rounds:
        number = _due_reminder(service, survey_id, definition, now)
        if number is None:
            continue
        rendered = _render(service, definition, number)
        with service.db.session() as session:
            key = edition_key(definition.round, number)
            if session.scalar(select(Edition.id).where(Edition.key == key)) is None:
                created.append(_add_edition(session, definition, number, rendered, now, now))
    return created


def _due_reminder(
    service: Service, survey_id: int, definition: SurveyDefinition, now: datetime
) -> int | None:
    """The next reminder number if the policy says it is due for the invitees who have not answered."""
    policy = definition.reminders
    with service.db.session() as session:
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
    if sent is None:
        return None  # nobody left who has not answered, or the invitation has not gone out
    due = policy.next_reminder_at(invited_at, sent, reminded_at)
    return sent + 1 if due is not None and now >= due else None


def start_due(service: Service, clock: Clock) -> list[str]:
    """Start every survey mailing whose time has come, and note who got it."""
    now = clock.now()
    keys = editions.due_for_sending(service, SURVEY_KIND, now)
    started = []
    for key in keys:
        with service.db.session() as session:
            edition = editions.find_edition(session, key)
            closes_at = _definition_of(edition).closes_at
        if now >= closes_at:
            with service.db.session() as session:
                edition = editions.find_edition(session, key)
                edition.status, edition.status_reason = (
                    EditionStatus.CANCELLED,
                    "the survey closed before it went out",
                )
            continue
        editions.start_sending(service, key, clock)
        _note_sent(service, key, now)
        started.append(key)
    return started


def _note_sent(service: Service, key: str, now: datetime) -> None:
    """Invited at / reminders sent, for everyone this mailing's ledger holds (idempotent)."""
    with service.db.session() as session:
        edition = editions.find_edition(session, key)
        number = int(edition.audience.split(":")[2])
        survey_id = select(Survey.id).where(Survey.round == edition.audience.split(":")[1]).scalar_subquery()
        queued = select(Message.contact_id).where(Message.edition_id == edition.id)
        mine = and_(SurveyInvitation.survey_id == survey_id, SurveyInvitation.contact_id.in_(queued))
        if number == 0:
            session.execute(
                update(SurveyInvitation)
                .where(mine, SurveyInvitation.invited_at.is_(None))
                .values(invited_at=now)
            )
        else:
            session.execute(
                update(SurveyInvitation)
                .where(mine, SurveyInvitation.reminders_sent < number)
                .values(reminders_sent=number, last_reminded_at=now)
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


def status(service: Service) -> list[RoundStatus]:
    with service.db.session() as session:
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
