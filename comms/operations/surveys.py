"""Evaluation survey rounds: start a round, remind, status, results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from comms.clock import Clock
from comms.editions import lifecycle
from comms.kinds.survey import KIND as SURVEYS
from comms.kinds.survey import RoundStart
from comms.service import Service
from comms.survey import rounds
from comms.survey.definitions import check_answers
from comms.survey.report import write_files
from comms.survey.responses import Failure, Respondent, TokenFailure, resolve, save_draft, submit
from comms.survey.results import SurveyResults, compute_results, find_survey
from comms.survey.rounds import RoundStatus
from comms.tokens import Purpose

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


def start(service: Service, round_: str, clock: Clock) -> RoundStarted:
    """Invite the round's audience (once); the invitation goes out when the round opens."""
    started = SURVEYS.start_round(service, round_, clock.now())
    sent = lifecycle.start_due(service, SURVEYS, clock)
    return RoundStarted(started, started.edition_key in sent)


@dataclass(frozen=True, slots=True)
class Reminded:
    created: list[str]
    started: list[str]


def remind(service: Service, clock: Clock) -> Reminded:
    """Build the reminders the policy says are due and start what is due (the workers deliver)."""
    built = SURVEYS.build_due(service, clock.now())
    return Reminded(built.created, lifecycle.start_due(service, SURVEYS, clock))


def status(service: Service) -> list[RoundStatus]:
    with service.db.session() as session:
        return rounds.status(session)


@dataclass(frozen=True, slots=True)
class SurveyResultsOutcome:
    results: SurveyResults
    written: list[Path] = field(default_factory=list)


def results(
    service: Service, round_: str, csv_path: Path | None = None, charts_dir: Path | None = None
) -> SurveyResultsOutcome:
    """The round's results as the anonymity rules allow, and the CSV and chart files asked for.
    UnknownRound (a NotFound) when the round was never started."""
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
    errors stores nothing; one that comes second (another tab, a double click) is refused."""
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
        return AnswerOutcome(found, check.errors, submitted=sending)
