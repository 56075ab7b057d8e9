"""/afmelden/{token}: a GET shows a confirm page with one button; only a POST unsubscribes.

Mail scanners and link previews follow links before people do, so a GET never changes
anything. The POST is RFC 8058's one-click: `List-Unsubscribe=One-Click` in the body.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from comms.operations import recipients
from comms.tokens import Purpose, Signer
from comms.web.context import Context, Link
from comms.web.forms import read_form

PREFERENCES_LINK_LIFETIME = timedelta(days=400)  # as long as the links in the e-mails themselves

router = APIRouter()


@router.get("/afmelden/{token}")
async def unsubscribe_page(token: str, web: Context) -> Response:
    link = await web.resolve(token, Purpose.UNSUBSCRIBE)
    if isinstance(link, Response):
        return link
    already = await run_in_threadpool(recipients.is_unsubscribed, web.service, link.email, link.kind)
    return web.pages.render(
        "unsubscribe.html",
        state="already" if already else "confirm",
        link=link,
        preferences_url=preferences_url(web.signer, link, web.clock.now()),
    )


@router.post("/afmelden/{token}")
async def unsubscribe(token: str, request: Request, web: Context) -> Response:
    link = await web.resolve(token, Purpose.UNSUBSCRIBE)
    if isinstance(link, Response):
        return link
    if not await _is_one_click(request):
        return web.pages.problem(400, "incomplete-unsubscribe")
    now = web.clock.now()
    await run_in_threadpool(recipients.unsubscribe, web.service, link.email, link.kind, now)
    return web.pages.render(
        "unsubscribe.html", state="done", link=link, preferences_url=preferences_url(web.signer, link, now)
    )


def preferences_url(signer: Signer, link: Link, now: datetime) -> str:
    token = signer.sign(Purpose.PREFERENCES, link.claims.subject, link.kind, now + PREFERENCES_LINK_LIFETIME)
    return f"/voorkeuren/{token}"


async def _is_one_click(request: Request) -> bool:
    """RFC 8058: the body carries `List-Unsubscribe=One-Click`, form-encoded or multipart."""
    form = await read_form(request)
    return form is not None and "One-Click" in form.get("List-Unsubscribe", [])
