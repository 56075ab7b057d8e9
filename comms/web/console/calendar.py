"""/console/: the calendar of every coming mailing, filtered by kind and state."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from comms.operations import calendar, recipients
from comms.operations.calendar import MailingState
from comms.web.console.auth import SignedIn
from comms.web.console.rendering import render
from comms.web.context import Context

router = APIRouter()
WEEKS = (2, 6, 13)  # the periods offered: two weeks, six weeks, a quarter
COMING_STATES = (
    MailingState.PLANNED,
    MailingState.DRAFT,
    MailingState.APPROVED,
    MailingState.HELD,
    MailingState.SENDING,
)


@router.get("/console/")
async def calendar_page(
    request: Request,
    web: Context,
    member: SignedIn,
    soort: str = "",
    stand: str = "",
    weken: int = calendar.DEFAULT_WEEKS,
) -> Response:
    labels = recipients.kind_labels()
    kind = soort if soort in labels else None
    state = MailingState(stand) if stand in {s.value for s in COMING_STATES} else None
    weeks = weken if weken in WEEKS else calendar.DEFAULT_WEEKS
    seen = await run_in_threadpool(calendar.calendar, web.service, web.clock.now(), weeks)
    return render(
        request,
        web,
        "calendar.html",
        member,
        calendar=seen,
        groups=seen.groups(kind, state),
        shown=len(seen.only(kind, state)),
        kinds=labels,
        states=COMING_STATES,
        chosen_kind=kind or "",
        chosen_state=state.value if state else "",
        weeks=weeks,
        week_options=WEEKS,
    )


@router.get("/console")
async def console_root(request: Request, web: Context, member: SignedIn) -> Response:
    return await calendar_page(request, web, member)
