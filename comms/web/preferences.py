"""/voorkeuren: which mailing kinds an address gets, and which themes; kept by address, so a
re-import of the contacts never undoes them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from comms.domain import THEMES
from comms.operations import recipients
from comms.tokens import Purpose
from comms.track.preferences import THEME_IDS, PreferenceView
from comms.web.context import Context, Link, WebContext
from comms.web.forms import read_form

router = APIRouter()


@router.get("/voorkeuren")
async def preferences_request_page(web: Context) -> Response:
    """The general preference link of forward-safe mail: it asks for the address."""
    return web.pages.render("preferences-request.html", sent=False)


@router.post("/voorkeuren")
async def preferences_request(request: Request, web: Context) -> Response:
    form = await read_form(request)
    if form is None or not form.get("email"):
        return web.pages.problem(400, "incomplete-preferences")
    await run_in_threadpool(recipients.mail_preferences_link, web.service, form["email"][0], web.clock)
    # The same answer whether or not the address is known: nobody learns who is on a list.
    return web.pages.render("preferences-request.html", sent=True)


@router.get("/voorkeuren/{token}")
async def preferences_page(token: str, web: Context) -> Response:
    link = await web.resolve(token, Purpose.PREFERENCES)
    if isinstance(link, Response):
        return link
    view = await run_in_threadpool(recipients.preferences, web.service, link.email)
    return _page(web, link, view, saved=False)


@router.post("/voorkeuren/{token}")
async def save_preferences(token: str, request: Request, web: Context) -> Response:
    link = await web.resolve(token, Purpose.PREFERENCES)
    if isinstance(link, Response):
        return link
    form = await read_form(request)
    if form is None:
        return web.pages.problem(400, "incomplete-preferences")
    # Only known values count: a hand-made form cannot invent kinds or themes.
    known = recipients.kind_labels()
    wanted = {k for k in form.get("kind", []) if k in known}
    themes = {t for t in form.get("theme", []) if t in THEME_IDS}
    now = web.clock.now()
    view = await run_in_threadpool(recipients.save_preferences, web.service, link.email, wanted, themes, now)
    return _page(web, link, view, saved=True)


def _page(web: WebContext, link: Link, view: PreferenceView, saved: bool) -> HTMLResponse:
    kinds = recipients.kind_labels()
    return web.pages.render("preferences.html", link=link, view=view, kinds=kinds, themes=THEMES, saved=saved)
