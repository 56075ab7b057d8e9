"""/console/: the calendar of every coming mailing (a placeholder; the edition pages replace it)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from comms.web.console.auth import SignedIn
from comms.web.console.rendering import render
from comms.web.context import Context

router = APIRouter()


@router.get("/console/")
async def calendar_page(request: Request, web: Context, member: SignedIn) -> Response:
    return render(request, web, "calendar.html", member)


@router.get("/console")
async def console_root(request: Request, web: Context, member: SignedIn) -> Response:
    return render(request, web, "calendar.html", member)
