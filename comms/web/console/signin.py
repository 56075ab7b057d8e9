"""/console/inloggen and /console/uitloggen, and the console's stylesheet.

One answer for an unknown username, a wrong password and a disabled account; a locked account
is said to be temporarily locked, whatever password was typed. A successful sign-in starts a
new session (a new id, so a session fixed before sign-in is worthless) and returns to the page
that asked for it (`terug`, a console path only: no open redirect).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from comms.dates import time_of_day
from comms.operations import team
from comms.operations.team import Outcome
from comms.web.console.auth import CheckedForm, SignedIn
from comms.web.console.cookies import current_session, queue_cookie
from comms.web.console.rendering import redirect, render
from comms.web.console.sessions import new_session
from comms.web.context import Context
from comms.web.security import PUBLIC_CACHE

router = APIRouter()
HOME = "/console/"
REFUSED = "Gebruikersnaam of wachtwoord klopt niet."


def safe_back(back: str | None) -> str:
    """A page of the console to return to; anything else (another site, //host) goes home."""
    if back and back.startswith("/console") and not back.startswith("//") and "\\" not in back:
        return back
    return HOME


@router.get("/console/inloggen")
async def sign_in_page(request: Request, web: Context, terug: str | None = None) -> Response:
    session = current_session(request, web)
    if session is not None and session.signed_in:
        return redirect(request, web, safe_back(terug))
    return render(request, web, "signin.html", None, back=safe_back(terug), username="", error=None)


@router.post("/console/inloggen")
async def sign_in(request: Request, web: Context, form: CheckedForm) -> Response:
    username = form.value("gebruikersnaam").strip().lower()
    back = safe_back(form.value("terug"))
    now = web.clock.now()
    result = await run_in_threadpool(
        team.authenticate, web.service, username, form.value("wachtwoord"), now, web.service.config.console
    )
    if result.account is not None:
        queue_cookie(request, web, new_session(now, result.account.username, result.account.session_stamp))
        return redirect(request, web, back, f"Welkom, {result.account.name}.")
    if result.outcome is Outcome.LOCKED and result.locked_until is not None:
        error = (
            "Dit account is tijdelijk geblokkeerd na te veel mislukte pogingen. "
            f"Probeer het na {time_of_day(result.locked_until)} opnieuw (Nederlandse tijd)."
        )
    else:
        error = REFUSED
    return render(request, web, "signin.html", None, back=back, username=username, error=error)


@router.post("/console/uitloggen")
async def sign_out(request: Request, web: Context, member: SignedIn, form: CheckedForm) -> Response:
    await run_in_threadpool(team.record_logout, web.service, member.username, web.clock.now())
    queue_cookie(request, web, new_session(web.clock.now()))  # a new, anonymous session
    return redirect(request, web, "/console/inloggen", "U bent uitgelogd.")


@router.get("/static/console.css")
async def console_stylesheet(web: Context) -> Response:
    return Response(
        web.pages.stylesheet("console.css"), media_type="text/css", headers={"Cache-Control": PUBLIC_CACHE}
    )
