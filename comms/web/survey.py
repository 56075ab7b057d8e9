"""The survey form behind an invitee's personal link: /enquete/{token}.

No JavaScript and no cookies: the token in the URL says who answers, the form posts back to the
same address. One form, two buttons: `opslaan` keeps a draft (a required question may still be
empty), `versturen` checks everything and submits once. A GET only reads; a POST after closing,
or after the one submission, stores nothing and says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from comms.dates import local, long_date, time_of_day
from comms.operations import surveys
from comms.survey.definitions import Answer, Question
from comms.survey.responses import Failure, Respondent, TokenFailure
from comms.web.context import Context
from comms.web.forms import read_form
from comms.web.pages import Pages

SAVE = "opslaan"
SEND = "versturen"

router = APIRouter()

# The status of each page that explains why the form is not shown.
_STATUS = {
    Failure.INVALID: 400,
    Failure.EXPIRED: 410,
    Failure.CLOSED: 410,
    Failure.NOT_OPEN_YET: 403,
    Failure.SUBMITTED: 409,
}


@dataclass(frozen=True, slots=True)
class FormView:
    """What survey.html shows: the questions, what to fill in, and what needs another look."""

    respondent: Respondent
    values: Mapping[str, list[str]]  # per question id, as posted (or the draft, as text)
    errors: dict[str, str] = field(default_factory=dict)
    saved: bool = False  # a draft was just saved
    sent: bool = False  # the respondent pressed versturen

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)

    @property
    def deadline(self) -> str:
        return _deadline(self.respondent.survey.closes_at)

    @property
    def draft_saved_on(self) -> str | None:
        """When an earlier visit saved answers, shown on coming back."""
        saved_at = self.respondent.draft_saved_at
        return f"{long_date(saved_at)} om {time_of_day(saved_at)}" if saved_at else None

    @property
    def introduction(self) -> list[str]:
        text = self.respondent.definition.introduction
        return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]

    def error(self, question: Question) -> str | None:
        return self.errors.get(question.id)

    def is_chosen(self, question: Question, value: str) -> bool:
        return value in self.values.get(question.id, [])

    def text(self, question: Question) -> str:
        return next(iter(self.values.get(question.id, [])), "")


@router.get("/enquete/{token}")
async def survey_form(token: str, web: Context) -> Response:
    found = await run_in_threadpool(surveys.respondent, web.service, token, web.clock.now())
    if isinstance(found, TokenFailure):
        return _refused(web.pages, found)
    return _form_page(web.pages, FormView(found, _as_values(found.draft)))


@router.post("/enquete/{token}")
async def survey_answers(token: str, request: Request, web: Context) -> Response:
    found = await run_in_threadpool(surveys.respondent, web.service, token, web.clock.now())
    if isinstance(found, TokenFailure):  # a link that does not work: its body is never read
        return _refused(web.pages, found)
    form = await read_form(request)
    if form is None:
        return _explain(web.pages, 400, "incomplete")
    sending = form.get("action") == [SEND]  # anything else keeps a draft: it loses nothing
    outcome = await run_in_threadpool(surveys.answer, web.service, token, form, sending, web.clock.now())
    if isinstance(outcome, TokenFailure):
        return _refused(web.pages, outcome)
    if outcome.submitted:
        return web.pages.render("survey-done.html", respondent=outcome.respondent)
    view = FormView(outcome.respondent, form, outcome.errors, saved=not sending, sent=sending)
    return _form_page(web.pages, view)


def _form_page(pages: Pages, view: FormView) -> HTMLResponse:
    return pages.render("survey.html", view=view, definition=view.respondent.definition)


def _refused(pages: Pages, failure: TokenFailure) -> HTMLResponse:
    return _explain(
        pages,
        _STATUS[failure.reason],
        failure.reason.value,
        title=failure.title,
        opened=_moment(failure.opens_at) if failure.opens_at else None,
        closed=_closed(failure.closes_at) if failure.closes_at else None,
    )


def _explain(
    pages: Pages,
    status: int,
    state: str,
    title: str | None = None,
    opened: str | None = None,
    closed: str | None = None,
) -> HTMLResponse:
    """The page that says why no form is shown (survey-closed.html has a state for each reason)."""
    return pages.render("survey-closed.html", status, state=state, title=title, opened=opened, closed=closed)


def _as_values(answers: Mapping[str, Answer]) -> dict[str, list[str]]:
    """A saved answer as the form would post it."""
    return {
        key: [str(v) for v in value] if isinstance(value, list) else [str(value)]
        for key, value in answers.items()
    }


def _is_midnight(moment: datetime) -> bool:
    return local(moment).time() == time(0)


def _moment(moment: datetime) -> str:
    """'dinsdag 1 december 2026 om 9.00 uur' ('dinsdag 1 december 2026' at the start of a day)."""
    return long_date(moment) if _is_midnight(moment) else f"{long_date(moment)} om {time_of_day(moment)}"


def _deadline(closes_at: datetime) -> str:
    """'tot dinsdag 22 december 2026, 17.00 uur'; a round that closes at midnight runs to the end
    of the day before ('tot en met …')."""
    if _is_midnight(closes_at):
        return f"tot en met {long_date(closes_at - timedelta(days=1))}"
    return f"tot {long_date(closes_at)}, {time_of_day(closes_at)}"


def _closed(closes_at: datetime) -> str:
    """'op dinsdag 22 december 2026 om 17.00 uur', or 'na dinsdag 22 december 2026' at midnight."""
    if _is_midnight(closes_at):
        return f"na {long_date(closes_at - timedelta(days=1))}"
    return f"op {_moment(closes_at)}"
