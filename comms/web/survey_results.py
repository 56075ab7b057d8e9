"""The team's results page of a survey round: /resultaten/{token}.

The link comes from `comms survey results ROUND --link`: a preview token (the team's kind of
link, like an edition preview) for subject "enquete-ROUND", scope "team", valid 30 days. The
page shows what the CLI shows (comms/survey/results.py decides what may be shown at all):
response rates, each question's table and chart, open answers, the previous round. Server
rendered, no JavaScript, charts inline as SVG; GET only, nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from comms.clock import Clock
from comms.dates import long_date, time_of_day
from comms.service import Service
from comms.survey.charts import number, percent, round_charts, signed
from comms.survey.results import SurveyResults, UnknownRound, compute_results, find_survey
from comms.tokens import InvalidToken, Purpose, Signer, TokenClaims

if TYPE_CHECKING:  # app.py may import this module to add the routes
    from comms.web.app import Pages

RESULTS_LINK_LIFETIME = timedelta(days=30)
SUBJECT_PREFIX = "enquete-"
TEAM_SCOPE = "team"
STYLESHEET = "survey-results.css"
# Signer.verify's reasons → what the page explains (any other: "invalid"), and its HTTP status.
_PROBLEMS = {"token is for another purpose": "other-purpose", "token has expired": "expired"}
_STATUS = {"invalid": 400, "other-purpose": 403, "expired": 410}


def results_link(service: Service, round: str, now: datetime) -> str:
    """The team's link to the results page, valid 30 days; LookupError for an unknown round."""
    with service.db.session() as session:
        find_survey(session, round)
    token = service.signer().sign(
        Purpose.PREVIEW, f"{SUBJECT_PREFIX}{round}", TEAM_SCOPE, now + RESULTS_LINK_LIFETIME
    )
    return f"{service.config.web_base_url}/resultaten/{token}"


@dataclass(frozen=True, slots=True)
class ResultsView:
    results: SurveyResults
    charts: dict[str, Markup]

    @property
    def period(self) -> str:
        opens, closes = self.results.opens_at, self.results.closes_at
        return f"{long_date(opens)} {time_of_day(opens)} tot {long_date(closes)} {time_of_day(closes)}"

    def chart(self, question_id: str) -> Markup | None:
        return self.charts.get(question_id)


def add_results_routes(app: FastAPI, service: Service, pages: Pages, signer: Signer, clock: Clock) -> None:
    @app.get("/resultaten/{token}")
    async def survey_results_page(token: str) -> Response:
        claims = _claims(signer, token, clock.now())
        if isinstance(claims, str):
            if claims == "expired":  # the generic page speaks of the year-long links in e-mails
                return pages.render("survey-results.html", _STATUS[claims], view=None, problem=claims)
            return pages.problem(_STATUS[claims], claims)
        round_ = claims.subject.removeprefix(SUBJECT_PREFIX)
        view = await run_in_threadpool(_view, service, round_)
        if view is None:
            return pages.problem(404, "not-found")
        return pages.render(
            "survey-results.html",
            view=view,
            results=view.results,
            problem=None,
            pct=percent,
            num=number,
            signed=signed,
        )

    @app.get(f"/static/{STYLESHEET}")
    async def survey_results_stylesheet() -> Response:
        return Response(
            _stylesheet(pages), media_type="text/css", headers={"Cache-Control": "public, max-age=300"}
        )


def _claims(signer: Signer, token: str, now: datetime) -> TokenClaims | str:
    """The token's claims if it is a team results link, else the problem to explain."""
    try:
        claims = signer.verify(token, Purpose.PREVIEW, now)
    except InvalidToken as exc:
        return _PROBLEMS.get(str(exc), "invalid")
    except (UnicodeDecodeError, ValueError):
        return "invalid"
    if claims.scope != TEAM_SCOPE or not claims.subject.startswith(SUBJECT_PREFIX):
        return "other-purpose"  # an edition preview link, say
    return claims


def _view(service: Service, round: str) -> ResultsView | None:
    with service.db.session() as session:
        try:
            results = compute_results(session, round)
        except UnknownRound:
            return None
    # The SVGs are built from escaped text (charts.py): safe to place in the page as they are.
    charts = {question_id: Markup(svg) for question_id, svg in round_charts(results).items()}
    return ResultsView(results, charts)


def _stylesheet(pages: Pages) -> bytes:
    for folder in pages.dirs:
        path = folder / STYLESHEET
        if path.is_file():
            return path.read_bytes()
    return b""
