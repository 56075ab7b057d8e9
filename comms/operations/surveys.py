"""Evaluation survey rounds: start a round, remind, status, results."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.exc import DBAPIError

from comms.clock import Clock
from comms.dates import utcnow
from comms.editions import lifecycle
from comms.kinds.survey import KIND as SURVEYS
from comms.kinds.survey import RoundStart
from comms.operations import workflow
from comms.service import Service
from comms.store.editions import find_edition
from comms.survey import pool, rounds
from comms.survey.definitions import Answer, check_answers
from comms.survey.report import write_files
from comms.survey.responses import Failure, Respondent, TokenFailure, resolve, save_draft, submit, withdraw
from comms.survey.results import SurveyResults, compute_results, find_survey
from comms.survey.rounds import RoundStatus
from comms.tokens import Purpose

log = logging.getLogger(__name__)

__all__ = [
    "AnswerOutcome",
    "Reminded",
    "RoundStarted",
    "RoundStatus",
    "SurveyResultsOutcome",
    "answer",
    "remind",
    "respondent",
    "results",
    "results_link",
    "start",
    "status",
]

RESULTS_LINK_LIFETIME = timedelta(days=30)
# The results page's link is a preview token (the team's kind of link) for "enquete-ROUND".
RESULTS_SUBJECT_PREFIX = "enquete-"
TEAM_SCOPE = "team"


@dataclass(frozen=True, slots=True)
class RoundStarted:
    start: RoundStart
    sent_now: bool  # the round is open: the invitation started at once

    @property
    def edition_key(self) -> str:
        return self.start.edition_key


def start(service: Service, round_: str, clock: Clock, by: str | None = None) -> RoundStarted:
    """Invite the round's audience (once). The invitation goes out when the round opens, once
    approved where the survey schedule requires it (the team is asked to)."""
    now = clock.now()
    approval = workflow.approval_for(service, SURVEYS.key, by, now)
    started = SURVEYS.start_round(service, round_, now, approval)
    if started.needs_approval:
        notice = workflow.approval_request(
            service,
            started.edition_key,
            _subject(service, started.edition_key),
            started.invited,
            started.send_at,
            started.send_at,
        )
        workflow.tell_team(service, notice, clock)
        return RoundStarted(started, False)
    sent = lifecycle.start_due(service, SURVEYS, clock, by)
    return RoundStarted(started, started.edition_key in sent)


def _subject(service: Service, key: str) -> str:
    with service.db.session() as session:
        return find_edition(session, key).subject


@dataclass(frozen=True, slots=True)
class Reminded:
    created: list[str]
    started: list[str]


def remind(service: Service, clock: Clock, by: str | None = None) -> Reminded:
    """Build the reminders the policy says are due and start what is due (the workers deliver);
    `by` is who ran it, for the audit log."""
    built = SURVEYS.build_due(
        service, clock.now(), approval=workflow.approval_for(service, SURVEYS.key, by, clock.now())
    )
    return Reminded(built.created, lifecycle.start_due(service, SURVEYS, clock, by))


def status(service: Service) -> list[RoundStatus]:
    with service.db.session() as session:
        return rounds.status(session)


@dataclass(frozen=True, slots=True)
class SurveyResultsOutcome:
    results: SurveyResults
    written: list[Path] = field(default_factory=list)


def results(
    service: Service,
    round_: str,
    csv_path: Path | None = None,
    charts_dir: Path | None = None,
    now: datetime | None = None,
) -> SurveyResultsOutcome:
    """The round's results as the anonymity rules allow, and the CSV and chart files asked for.
    UnknownRound (a NotFound) when the round was never started. A round that closed has its
    pool written first (the schedule's daily run does so too), so its results are complete."""
    write_closed_pools(service, now or utcnow())
    with service.db.session() as session:
        computed = compute_results(session, round_)
    return SurveyResultsOutcome(computed, write_files(computed, csv_path, charts_dir))


def results_link(service: Service, round_: str, now: datetime) -> str:
    """The team's link to the results page, valid 30 days; UnknownRound for an unknown round."""
    with service.db.session() as session:
        find_survey(session, round_)
    token = service.signer().sign(
        Purpose.PREVIEW, f"{RESULTS_SUBJECT_PREFIX}{round_}", TEAM_SCOPE, now + RESULTS_LINK_LIFETIME
    )
    return f"{service.config.web_base_url}/resultaten/{token}"


# -- the invitee's form ------------------------------------------------------------------------


def respondent(service: Service, token: str, now: datetime) -> Respondent | TokenFailure:
    """Who the survey link is for, with their draft; or why the link does not work."""
    with service.db.session() as session:
        return resolve(session, service.signer(), token, now)


@dataclass(frozen=True, slots=True)
class AnswerOutcome:
    respondent: Respondent
    errors: dict[str, str]  # per question id: what needs another look
    submitted: bool  # the response is in; otherwise a draft was kept (or the check failed)


def answer(
    service: Service, token: str, form: Mapping[str, list[str]], sending: bool, now: datetime
) -> AnswerOutcome | TokenFailure:
    """Keep a draft, or submit once, in one transaction with the link's check. A submission with
    errors stores nothing; one that comes second (another tab, a double click) is refused.

    In an anonymous round the answers then go to the pool in a transaction of their own, and a
    batch is written when the pool is full enough (comms/survey/pool.py)."""
    with service.db.session() as session:
        found = resolve(session, service.signer(), token, now)
        if isinstance(found, TokenFailure):
            return found
        check = check_answers(found.definition, form, final=sending)
        if sending and check.has_errors:
            return AnswerOutcome(found, check.errors, submitted=False)
        stored = (
            submit(session, found, check.answers, now)
            if sending
            else save_draft(session, found, check.answers, now)
        )
        if not stored:  # submitted meanwhile
            survey = found.survey
            return TokenFailure(Failure.SUBMITTED, survey.title, survey.opens_at, survey.closes_at)
    if sending and found.anonymous:
        _to_pool(service, found, check.answers)
    return AnswerOutcome(found, check.errors, submitted=sending)


def _to_pool(service: Service, respondent: Respondent, answers: dict[str, Answer]) -> None:
    seal = pool_seal(service)
    pooled = pool.Pooled(answers, respondent.role, respondent.province)
    try:
        with service.db.session() as session:
            pool.add(session, seal, respondent.survey, pooled)
    except BaseException:
        with service.db.session() as session:  # not in: the invitee may send the answers again
            withdraw(session, respondent.invitation_id)
        raise
    try:
        with service.db.session() as session:
            written = pool.write_batch(session, seal, respondent.survey, respondent.definition.min_group_size)
        if written:
            with service.db.session() as session:
                pool.count_answered(session, respondent.survey.id)
    except DBAPIError as exc:  # the answers are safe in the pool; the next response writes them
        log.warning(
            "survey pool not written now (%s); the next response or the close does", type(exc).__name__
        )


def pool_seal(service: Service) -> pool.Seal:
    service.signer()  # MissingSecret when COMMS_SECRET_KEY is not set
    return pool.Seal(service.config.secret_key or "")


def write_closed_pools(service: Service, now: datetime) -> int:
    """Write what the pools of closed anonymous rounds still hold; how many responses."""
    return pool.write_closed(service.db, pool_seal(service), now)


# -- the console's overview of rounds ------------------------------------------------------------


class RoundPhase(StrEnum):
    NOT_OPEN = "not-open"
    OPEN = "open"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return {"not-open": "nog niet geopend", "open": "open", "closed": "gesloten"}[self.value]


@dataclass(frozen=True, slots=True)
class RoundOverview:
    """A round as the console lists it, with the path of its results page (a team link)."""

    status: RoundStatus
    phase: RoundPhase
    results_path: str

    @property
    def response_rate(self) -> float | None:
        return self.status.answered / self.status.invited if self.status.invited else None


def overview(service: Service, now: datetime) -> list[RoundOverview]:
    """Every round, the latest to open first."""
    rounds_ = sorted(status(service), key=lambda r: r.opens_at, reverse=True)
    return [
        RoundOverview(r, _phase(r, now), urlsplit(results_link(service, r.round, now)).path) for r in rounds_
    ]


def _phase(round_: RoundStatus, now: datetime) -> RoundPhase:
    if now < round_.opens_at:
        return RoundPhase.NOT_OPEN
    return RoundPhase.OPEN if now < round_.closes_at else RoundPhase.CLOSED
