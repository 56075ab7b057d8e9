"""A survey round put straight into the database (no mailing): the survey, its invitations and
the invitees' personal tokens, for the tests of the respondent's side (responses, the form)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from comms.store.models import Contact, Survey, SurveyInvitation
from comms.survey.definitions import SurveyDefinition, load_survey_definitions
from comms.tokens import Purpose, Signer

REPO = Path(__file__).resolve().parents[2]
# templates/surveys/pamflet.toml: opens Tuesday 1 December 2026 9.00, closes Tuesday 22 December 17.00
OPENS = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
CLOSES = datetime(2026, 12, 22, 16, 0, tzinfo=UTC)
DURING = datetime(2026, 12, 8, 10, 30, tzinfo=UTC)
# A valid set of answers to every question of the example, as the form posts them.
PAMFLET_ANSWERS = {
    "bekendheid": ["4"],
    "besproken": ["Meestal"],
    "tijdigheid": ["2"],
    "ps-informatie": ["Via de wekelijkse lijst van GS-besluiten", "Mondeling in een Statencommissie"],
    "ps-tevredenheid": ["3"],
    "nut": ["Enigszins"],
    "verbetering": ["Eerder de stukken, graag."],
    "toelichting": [""],
}


def pamflet(**changes: object) -> SurveyDefinition:
    """The example definition from the repository, with `changes` (anonymous=False, …)."""
    definitions, problems = load_survey_definitions(REPO / "templates" / "surveys")
    assert not [p for p in problems if p.is_error], problems
    (definition,) = [d for d in definitions if d.name == "pamflet"]
    assert (definition.opens_at, definition.closes_at) == (OPENS, CLOSES)
    return dataclasses.replace(definition, **changes)  # type: ignore[arg-type]


def add_contact(session: Session, public_id: str, province: str = "Utrecht", role: str = "statenlid") -> int:
    contact = Contact(
        public_id=public_id,
        email=f"{public_id}@{province.lower()}.example.org",
        first_name=public_id.title(),
        infix="",
        last_name="Test",
        province=province,
        party=None,
        roles=f",{role},",
        themes=",",
        active=True,
        source_file="seed",
        updated_at=OPENS,
    )
    session.add(contact)
    session.flush()
    return contact.id


def seed_round(session: Session, definition: SurveyDefinition, invitees: Iterable[str]) -> dict[str, int]:
    """The round started, with an invitation for each contact (by public id); public id → invitation id."""
    survey = Survey(
        round=definition.round,
        name=definition.name,
        title=definition.title,
        anonymous=definition.anonymous,
        opens_at=definition.opens_at,
        closes_at=definition.closes_at,
        started_at=definition.opens_at,
        definition=definition.to_json(),
    )
    session.add(survey)
    session.flush()
    invitations = {}
    for public_id in invitees:
        contact = session.scalars(select(Contact).where(Contact.public_id == public_id)).one()
        invitation = SurveyInvitation(
            survey_id=survey.id,
            contact_id=contact.id,
            role=contact.roles.strip(",").split(",")[0],
            province=contact.province,
            invited_at=definition.opens_at,
            reminders_sent=0,
            submitted=False,
        )
        session.add(invitation)
        session.flush()
        invitations[public_id] = invitation.id
    return invitations


def survey_token(
    signer: Signer, public_id: str, round_: str = "2026-H2", expires_at: datetime = CLOSES
) -> str:
    """The personal link's token, as the invitation carries it: valid until the round closes."""
    return signer.sign(Purpose.SURVEY, public_id, round_, expires_at)
