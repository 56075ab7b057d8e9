"""/console/agenda: the agenda notices' plan, by date, filtered by body, province, state and period."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from comms.domain import BODIES, PROVINCES
from comms.operations import agenda
from comms.operations.agenda import PlanFilter, PlanStage
from comms.web.console.auth import SignedIn
from comms.web.console.rendering import render
from comms.web.context import Context

router = APIRouter()


@router.get("/console/agenda")
async def agenda_page(
    request: Request,
    web: Context,
    member: SignedIn,
    orgaan: str = "",
    provincie: str = "",
    stand: str = "",
    vanaf: str = "",
    tot: str = "",
) -> Response:
    chosen = PlanFilter(
        body=orgaan if any(b.id == orgaan for b in BODIES) else "",
        province=provincie if any(p.name == provincie for p in PROVINCES) else "",
        stage=PlanStage(stand) if stand in {s.value for s in PlanStage} else None,
        sent_from=_day(vanaf),
        sent_until=_day(tot),
    )
    report = await run_in_threadpool(agenda.plan_report, web.service, web.clock.now())
    rows = [row for row in report.rows if chosen.matches(row)]
    return render(
        request,
        web,
        "agenda.html",
        member,
        rows=rows,
        total=len(report.rows),
        chosen=chosen,
        bodies=BODIES,
        body_names={b.id: b.name for b in BODIES},
        provinces=PROVINCES,
        stages=list(PlanStage),
        missing=report.missing,
    )


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None
