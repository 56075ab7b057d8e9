"""The team's results page of a survey round: /resultaten/{token}.

The link comes from `comms survey results ROUND --link` (operations.surveys.results_link): a
preview token (the team's kind of link, like an edition preview) for subject "enquete-ROUND",
scope "team", valid 30 days. The page shows what the CLI shows (comms/survey/results.py decides
what may be shown at all): response rates, each question's table and chart, open answers, the
previous round. Server rendered, no JavaScript, charts inline as SVG; GET only, nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from comms.dates import long_date, time_of_day
from comms.operations import surveys
from comms.operations.surveys import RESULTS_SUBJECT_PREFIX, TEAM_SCOPE
from comms.survey.charts import number, percent, round_charts, signed
from comms.survey.results import SurveyResults, UnknownRound
from comms.tokens import InvalidToken, Purpose, Signer, TokenClaims
from comms.web.context import Context, WebContext
from comms.web.security import PUBLIC_CACHE

STYLESHEET = "survey-results.css"
# Signer.verify's reasons → what the page explains (any other: "invalid"), and its HTTP status.
_PROBLEMS = {"token is for another purpose": "other-purpose", "token has expired": "expired"}
_STATUS = {"invalid": 400, "other-purpose": 403, "expired": 410}

router = APIRouter()


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


@router.get("/resultaten/{token}")
async def survey_results_page(token: str, web: Context) -> Response:
    claims = _claims(web.signer, token, web.clock.now())
    if isinstance(claims, str):
        if claims == "expired":  # the generic page speaks of the year-long links in e-mails
            return web.pages.render("survey-results.html", _STATUS[claims], view=None, problem=claims)
        return web.pages.problem(_STATUS[claims], claims)
    round_ = claims.subject.removeprefix(RESULTS_SUBJECT_PREFIX)
    view = await run_in_threadpool(_view, web, round_, web.clock.now())
    if view is None:
        return web.pages.problem(404, "not-found")
    return web.pages.render(
        "survey-results.html",
        view=view,
        results=view.results,
        problem=None,
        pct=percent,
        num=number,
        signed=signed,
    )


@router.get(f"/static/{STYLESHEET}")
async def survey_results_stylesheet(web: Context) -> Response:
    stylesheet = web.pages.stylesheet(STYLESHEET)
    return Response(stylesheet, media_type="text/css", headers={"Cache-Control": PUBLIC_CACHE})


def _claims(signer: Signer, token: str, now: datetime) -> TokenClaims | str:
    """The token's claims if it is a team results link, else the problem to explain."""
    try:
        claims = signer.verify(token, Purpose.PREVIEW, now)
    except InvalidToken as exc:
        return _PROBLEMS.get(str(exc), "invalid")
    except (UnicodeDecodeError, ValueError):
        return "invalid"
    if claims.scope != TEAM_SCOPE or not claims.subject.startswith(RESULTS_SUBJECT_PREFIX):
        return "other-purpose"  # an edition preview link, say
    return claims


def _view(web: WebContext, round_: str, now: datetime) -> ResultsView | None:
    try:
        results = surveys.results(web.service, round_, now=now).results
    except UnknownRound:
        return None
    # The SVGs are built from escaped text (charts.py): safe to place in the page as they are.
    charts = {question_id: Markup(svg) for question_id, svg in round_charts(results).items()}
    return ResultsView(results, charts)
