"""/voorkeuren: which mailing kinds an address gets, and which themes; kept by address, so a
re-import of the contacts never undoes them. Only the kinds that can reach the contact are
offered (recipients.offered_kinds), and the themes start from their export row.

Asking for a link (POST /voorkeuren) answers the same, in the same time, for a known and an
unknown address: the mail goes out after the response (`MailQueue`). It is limited per client
and per address asked for (`LinkRequestLimits`), so the form cannot bury an inbox in mail.
"""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from comms.domain import THEMES
from comms.operations import recipients
from comms.tokens import Purpose
from comms.track.preferences import THEME_IDS, PreferenceView
from comms.web.context import Context, Link, WebContext
from comms.web.forms import has_marker, read_form

router = APIRouter()


@router.get("/voorkeuren")
async def preferences_request_page(web: Context) -> Response:
    """The general preference link of forward-safe mail: it asks for the address."""
    return web.pages.render("preferences-request.html", sent=False)


@router.post("/voorkeuren")
async def preferences_request(request: Request, web: Context) -> Response:
    client = request.client.host if request.client else "-"  # uvicorn's proxy_headers: see README
    if not web.limits.client_may_ask(client):  # before the body is read
        response = web.pages.problem(429, "too-often")
        response.headers["Retry-After"] = str(web.limits.retry_after(client))
        return response
    form = await read_form(request)
    email = form.get("email", [""])[0].strip() if form else ""
    if not email:
        return web.pages.problem(400, "incomplete-request")
    # The same answer, in the same time, whether or not the address is known or had its
    # links already: nobody learns who is on a list, and nobody can bury an inbox in mail.
    response = web.pages.render("preferences-request.html", sent=True)
    if web.limits.address_may_get(email):
        job = partial(recipients.mail_preferences_link, web.service, email, web.clock)
        response.background = web.mail.after_response(job)
    return response


@router.get("/voorkeuren/{token}")
async def preferences_page(token: str, web: Context) -> Response:
    link = await web.resolve(token, Purpose.PREFERENCES)
    if isinstance(link, Response):
        return link
    view = await run_in_threadpool(recipients.preferences, web.service, link.email, web.clock.now())
    return _page(web, link, view, saved=False)


@router.post("/voorkeuren/{token}")
async def save_preferences(token: str, request: Request, web: Context) -> Response:
    link = await web.resolve(token, Purpose.PREFERENCES)
    if isinstance(link, Response):
        return link
    form = await read_form(request)
    if form is None or not has_marker(form, "voorkeuren"):  # an empty post must not unsubscribe
        return web.pages.problem(400, "incomplete-preferences")
    # Only known values count: a hand-made form cannot invent kinds or themes.
    known = recipients.kind_labels()
    wanted = {k for k in form.get("kind", []) if k in known}
    themes = {t for t in form.get("theme", []) if t in THEME_IDS}
    now = web.clock.now()
    view = await run_in_threadpool(recipients.save_preferences, web.service, link.email, wanted, themes, now)
    return _page(web, link, view, saved=True)


def _page(web: WebContext, link: Link, view: PreferenceView, saved: bool) -> HTMLResponse:
    labels = recipients.kind_labels()
    kinds = {key: labels[key] for key in view.kinds}  # only what can reach them: their roles decide
    themes = THEMES if recipients.asks_themes(view.kinds) else ()
    return web.pages.render("preferences.html", link=link, view=view, kinds=kinds, themes=themes, saved=saved)
