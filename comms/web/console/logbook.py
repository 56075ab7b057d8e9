"""/console/logboek: the audit log, newest first, filtered by edition and by person."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from comms.operations import audit, team
from comms.web.console.auth import SignedIn
from comms.web.console.rendering import render
from comms.web.context import Context

router = APIRouter()


@router.get("/console/logboek")
async def logbook_page(
    request: Request, web: Context, member: SignedIn, editie: str = "", persoon: str = ""
) -> Response:
    edition, person = editie.strip(), persoon.strip()
    entries = await run_in_threadpool(audit.recent, web.service, edition or None, 500)
    names = {a.username: a.name for a in await run_in_threadpool(team.listed, web.service)}
    people = sorted({e.actor for e in entries})
    shown = [e for e in entries if not person or e.actor == person]
    return render(
        request,
        web,
        "logbook.html",
        member,
        entries=shown,
        edition=edition,
        person=person,
        people=people,
        names=names,
    )
