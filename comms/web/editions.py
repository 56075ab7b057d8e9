"""Editions on the web: the public archive of sent editions (a page and an Atom feed), the web
version of each, and the team's preview."""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from comms.errors import NotFound
from comms.operations import editions, recipients
from comms.problems import ValidationFailed
from comms.tokens import Purpose
from comms.web import atom
from comms.web.context import Context
from comms.web.security import PUBLIC_CACHE, WEB_VERSION_CSP

_EDITION_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")

router = APIRouter()


@router.get("/nieuwsbrief/")
async def archive(web: Context) -> Response:
    """Every sent edition with a web version, newest first, by year."""
    editions = await run_in_threadpool(recipients.published, web.service)
    response = web.pages.render("archive.html", editions=editions, feed=atom.feed_url(""))
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return response


# Declared before /nieuwsbrief/{key}, which would take it otherwise (and answer 404: an edition
# key has no dot, so no edition can ever be called "atom.xml").
@router.get("/nieuwsbrief/atom.xml")
async def archive_feed(web: Context) -> Response:
    editions = await run_in_threadpool(recipients.published, web.service)
    body = atom.feed(web.service.config.web_base_url, editions, web.clock.now())
    headers = {"Cache-Control": PUBLIC_CACHE}
    return Response(body, media_type=f"{atom.MEDIA_TYPE}; charset=utf-8", headers=headers)


@router.get("/nieuwsbrief/{key}")
async def web_version(key: str, web: Context) -> Response:
    html = None
    if _EDITION_KEY.match(key):
        html = await run_in_threadpool(recipients.web_version, web.service, key)
    if html is None:
        return web.pages.problem(404, "unknown-edition")
    headers = {"Content-Security-Policy": WEB_VERSION_CSP, "Cache-Control": PUBLIC_CACHE}
    return HTMLResponse(html, headers=headers)


@router.get("/voorbeeld/{token}")
async def team_preview(token: str, web: Context) -> Response:
    """The edition as the approval request shows it: every block, sample values, not cached."""
    claims = web.verify(token, Purpose.PREVIEW)
    if isinstance(claims, str):
        return web.refused(claims)
    try:
        html, _ = await run_in_threadpool(editions.preview, web.service, claims.subject, None)
    except (NotFound, ValidationFailed):
        return web.pages.problem(404, "unknown-edition")
    return HTMLResponse(html, headers={"Content-Security-Policy": WEB_VERSION_CSP})
