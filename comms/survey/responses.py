"""The respondent's side of a round: whose link this is, drafts, and the one submission.

A personal link is a signed token (purpose SURVEY, subject = the contact's public id, scope = the
round) that expires when the round closes. `resolve` turns it into a `Respondent` or explains, as a
value, why the form cannot be shown. `submit` stores a response exactly once: the invitation is
marked with a conditional UPDATE whose row count decides, so two submissions racing each other
cannot both pass. In an anonymous round `submit` marks completion only (no time): the answers
go to the pool (survey.pool) in a transaction of their own, and reach the responses table in
batches, so no transaction, time or order links them to the invitation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import uuid4

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from comms.store.database import rows_changed
from comms.store.models import Contact, Survey, SurveyDraft, SurveyInvitation, SurveyResponse
from comms.survey.definitions import Answer, SurveyDefinition
from comms.tokens import InvalidToken, Purpose, Signer, TokenClaims

_LONG_AGO = datetime.min.replace(tzinfo=UTC)


class Failure(StrEnum):
    """Why a survey link does not open the form (the page explains each in Dutch)."""

    INVALID = "invalid"  # malformed, forged, another purpose, unknown round or contact, not invited
    EXPIRED = "expired"  # the token's own expiry passed while the round is still open
    NOT_OPEN_YET = "not-open-yet"
    CLOSED = "closed"
    SUBMITTED = "submitted"  # this invitee has answered already: one response per invitation


@dataclass(frozen=True, slots=True)
class TokenFailure:
    reason: Failure
    # Known once the round is found, for a page that says when it opens or closed.
    title: str | None = None
    opens_at: datetime | None = None
    closes_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Respondent:
    """An invitee with a working link: the round, its questions and what they saved so far."""

    survey: Survey  # detached row (sessions do not expire on commit)
    definition: SurveyDefinition
    invitation_id: int
    role: str | None
    province: str | None
    draft: dict[str, Answer] = field(default_factory=dict)
    draft_saved_at: datetime | None = None

    @property
    def anonymous(self) -> bool:
        return self.survey.anonymous

    @property
    def has_draft(self) -> bool:
        return self.draft_saved_at is not None


def resolve(session: Session, signer: Signer, token: str, now: datetime) -> Respondent | TokenFailure:
    claims = _claims(signer, token, now)
    if isinstance(claims, TokenFailure):
        return claims
    found = session.execute(
        select(Survey, SurveyInvitation)
        .join(SurveyInvitation, SurveyInvitation.survey_id == Survey.id)
        .join(Contact, Contact.id == SurveyInvitation.contact_id)
        .where(Survey.round == claims.scope, Contact.public_id == claims.subject)
    ).first()
    if found is None:
        return TokenFailure(Failure.INVALID)
    survey, invitation = found
    reason = _refusal(survey, invitation, claims, now)
    if reason is not None:
        return TokenFailure(reason, survey.title, survey.opens_at, survey.closes_at)
    draft = session.get(SurveyDraft, invitation.id)
    return Respondent(
        survey=survey,
        definition=SurveyDefinition.from_json(survey.definition),
        invitation_id=invitation.id,
        role=invitation.role,
        province=invitation.province,
        draft=_answers(draft.answers) if draft else {},
        draft_saved_at=draft.updated_at if draft else None,
    )


def save_draft(session: Session, respondent: Respondent, answers: dict[str, Answer], now: datetime) -> bool:
    """Insert or replace the draft; False (nothing saved) when the invitation was submitted meanwhile.

    The no-op UPDATE locks the invitation row, so a draft and a submission of the same invitation
    take turns: a draft can never outlive its submission (in an anonymous round it would hold
    the answers beside the invitation).
    """
    if not _lock_unsubmitted(session, respondent.invitation_id):
        return False
    values = {"invitation_id": respondent.invitation_id, "answers": _json(answers), "updated_at": now}
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(SurveyDraft).values(values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[SurveyDraft.invitation_id],
            set_={"answers": statement.excluded.answers, "updated_at": statement.excluded.updated_at},
        )
    )
    return True


def submit(session: Session, respondent: Respondent, answers: dict[str, Answer], now: datetime) -> bool:
    """Mark the invitation answered, once (the answers checked with `check_answers(final=True)`).

    False when the invitation was already submitted: then nothing is stored. In a round that is
    not anonymous the response is stored in the same transaction, with its invitation and time.
    In an anonymous round the caller puts the answers in the pool after this transaction has
    committed (operations.surveys.answer), never in it.
    """
    anonymous = respondent.anonymous
    marked = session.execute(
        update(SurveyInvitation)
        .where(SurveyInvitation.id == respondent.invitation_id, SurveyInvitation.submitted.is_(False))
        .values(submitted=True, submitted_at=None if anonymous else now, counted=not anonymous)
        .execution_options(synchronize_session=False)
    )
    if rows_changed(marked) != 1:
        return False
    session.execute(delete(SurveyDraft).where(SurveyDraft.invitation_id == respondent.invitation_id))
    if not anonymous:
        session.add(
            SurveyResponse(
                id=uuid4().hex,
                survey_id=respondent.survey.id,
                role=respondent.role,
                province=respondent.province,
                invitation_id=respondent.invitation_id,
                submitted_at=now,
                answers=_json(answers),
            )
        )
        session.flush()
    return True


def withdraw(session: Session, invitation_id: int) -> None:
    """Undo a completion whose answers never reached the pool, so the invitee can send them again."""
    session.execute(
        update(SurveyInvitation)
        .where(SurveyInvitation.id == invitation_id)
        .values(submitted=False, counted=False)
        .execution_options(synchronize_session=False)
    )


def _claims(signer: Signer, token: str, now: datetime) -> TokenClaims | TokenFailure:
    try:
        return signer.verify(token, Purpose.SURVEY, now)
    except InvalidToken as exc:
        if str(exc) != "token has expired":
            return TokenFailure(Failure.INVALID)
        # Authentic but past its expiry, which is the closing time: read the claims anyway, so the
        # page can say the round closed (or that this older link expired while it is still open).
        return signer.verify(token, Purpose.SURVEY, _LONG_AGO)
    except (UnicodeDecodeError, ValueError):  # a well-signed body that is not ours cannot exist
        return TokenFailure(Failure.INVALID)


def _refusal(
    survey: Survey, invitation: SurveyInvitation, claims: TokenClaims, now: datetime
) -> Failure | None:
    # Having answered is what matters to someone who did; then the round's dates; then the token's
    # own expiry (an older link, when a round's closing was moved later).
    if invitation.submitted:
        return Failure.SUBMITTED
    if now >= survey.closes_at:
        return Failure.CLOSED
    if now < survey.opens_at:
        return Failure.NOT_OPEN_YET
    if now >= claims.expires_at:
        return Failure.EXPIRED
    return None


def _lock_unsubmitted(session: Session, invitation_id: int) -> bool:
    touched = session.execute(
        update(SurveyInvitation)
        .where(SurveyInvitation.id == invitation_id, SurveyInvitation.submitted.is_(False))
        .values(submitted=False)
        .execution_options(synchronize_session=False)
    )
    return rows_changed(touched) == 1


def _json(answers: dict[str, Answer]) -> str:
    return json.dumps(answers, ensure_ascii=False, sort_keys=True)


def _answers(text: str) -> dict[str, Answer]:
    data: Any = json.loads(text)
    return data if isinstance(data, dict) else {}
