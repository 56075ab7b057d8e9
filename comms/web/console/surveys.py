"""/console/enquetes: survey rounds with their status, and a link to each round's results."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from comms.operations import surveys
from comms.survey.charts import percent
from comms.web.console.auth import SignedIn
from comms.web.console.rendering import render
from comms.web.context import Context

router = APIRouter()


@router.get("/console/enquetes")
async def surveys_page(request: Request, web: Context, member: SignedIn) -> Response:
    rounds = await run_in_threadpool(surveys.overview, web.service, web.clock.now())
    return render(request, web, "surveys.html", member, rounds=rounds, pct=percent)
