"""/healthz (liveness with a database query) and the stylesheet every page shares."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from comms.operations import recipients
from comms.web.context import Context
from comms.web.security import PUBLIC_CACHE

log = logging.getLogger(__name__)

router = APIRouter()


@router.get("/healthz")
async def healthz(web: Context) -> Response:
    try:
        await run_in_threadpool(recipients.ping, web.service)
    except Exception as exc:  # any database failure means: not healthy
        log.error("health check failed: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok", **(web.health() if web.health else {})})


@router.get("/static/comms.css")
async def stylesheet(web: Context) -> Response:
    return Response(web.pages.stylesheet(), media_type="text/css", headers={"Cache-Control": PUBLIC_CACHE})
