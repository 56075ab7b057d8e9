"""/afmelden/{token}: a GET shows a confirm page with one button; only a POST unsubscribes.

Mail scanners and link previews follow links before people do, so a GET never changes
anything. The POST is RFC 8058's one-click: `List-Unsubscribe=One-Click` in the body.

An unsubscribe link is never turned into a preference link: whoever holds it may have it from
a forwarded message. The page's "manage preferences" button mails a preference link to the
contact's own address instead. An unsubscribe from forward-safe mail (the griffies' digest,
whose headers travel with every forward) mails the owner a notice with an undo link:
/afmelding-ongedaan/{token}, again a confirm page on GET and the change on POST.
"""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from comms.operations import recipients
from comms.tokens import Purpose
from comms.web.context import Context
from comms.web.forms import has_marker, read_form

router = APIRouter()


@router.get("/afmelden/{token}")
async def unsubscribe_page(token: str, web: Context) -> Response:
    link = await web.resolve(token, Purpose.UNSUBSCRIBE)
    if isinstance(link, Response):
        return link
    already = await run_in_threadpool(recipients.is_unsubscribed, web.service, link.email, link.kind)
    return web.pages.render(
        "unsubscribe.html", state="already" if already else "confirm", link=link, token=token
    )


@router.post("/afmelden/{token}")
async def unsubscribe(token: str, request: Request, web: Context) -> Response:
    link = await web.resolve(token, Purpose.UNSUBSCRIBE)
    if isinstance(link, Response):
        return link
    form = await read_form(request)
    if form is None or "One-Click" not in form.get("List-Unsubscribe", []):  # RFC 8058's body
        return web.pages.problem(400, "incomplete-unsubscribe")
    new = await run_in_threadpool(recipients.unsubscribe, web.service, link.email, link.kind, web.clock.now())
    response = web.pages.render("unsubscribe.html", state="done", link=link, token=token)
    if new and recipients.is_forward_safe(link.kind):
        notice = partial(recipients.mail_unsubscribe_notice, web.service, link.email, link.kind, web.clock)
        response.background = web.mail.after_response(notice)
    return response


@router.post("/afmelden/{token}/voorkeuren")
async def mail_preferences_link(token: str, request: Request, web: Context) -> Response:
    """The unsubscribe page's "manage preferences": a preference link, by mail to the contact."""
    link = await web.resolve(token, Purpose.UNSUBSCRIBE)
    if isinstance(link, Response):
        return link
    if not has_marker(await read_form(request), "voorkeurenlink"):
        return web.pages.problem(400, "incomplete-request")
    response = web.pages.render("unsubscribe.html", state="link-sent", link=link, token=token)
    if web.limits.address_may_get(link.email):
        job = partial(recipients.mail_preferences_link, web.service, link.email, web.clock, link.kind)
        response.background = web.mail.after_response(job)
    return response


@router.get("/afmelding-ongedaan/{token}")
async def restore_page(token: str, web: Context) -> Response:
    link = await web.resolve(token, Purpose.RESTORE)
    if isinstance(link, Response):
        return link
    stopped = await run_in_threadpool(recipients.is_unsubscribed, web.service, link.email, link.kind)
    return web.pages.render("restore.html", state="confirm" if stopped else "receiving", link=link)


@router.post("/afmelding-ongedaan/{token}")
async def restore(token: str, request: Request, web: Context) -> Response:
    link = await web.resolve(token, Purpose.RESTORE)
    if isinstance(link, Response):
        return link
    if not has_marker(await read_form(request), "ongedaan"):
        return web.pages.problem(400, "incomplete-request")
    # Only the unsubscribe is undone: a bounce or a choice in the preference centre stays.
    stopped = await run_in_threadpool(recipients.restore, web.service, link.email, link.kind)
    return web.pages.render("restore.html", state="still-stopped" if stopped else "restored", link=link)
