"""/console: the communications team's console (Dutch, server-rendered, works without JavaScript).

`install(app)` adds what every console route relies on (the session codec, the cookie
middleware, the sign-in redirect and the problem page); `ROUTERS` are its pages.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from comms.web.console import agenda, calendar, edition, logbook, signin, suppressions, surveys
from comms.web.console.auth import ConsoleRefusal, SignInNeeded
from comms.web.console.cookies import ConsoleCookies, queue_cookie, queue_flash
from comms.web.console.rendering import render
from comms.web.console.sessions import SessionCodec, new_session
from comms.web.context import WebContext

ROUTERS = (
    signin.router,
    calendar.router,
    edition.router,
    agenda.router,
    surveys.router,
    suppressions.router,
    logbook.router,
)


def install(app: FastAPI, web: WebContext, secret_key: str) -> None:
    app.state.console_codec = SessionCodec(secret_key)
    app.add_middleware(ConsoleCookies)

    @app.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, exc: SignInNeeded) -> Response:
        queue_cookie(request, web, new_session(web.clock.now()))  # not the stale one: no redirect loop
        if exc.expired:
            queue_flash(request, web, "Uw sessie is verlopen. Log opnieuw in.")
        target = "/console/inloggen"
        if request.method == "GET" and exc.back not in ("/console", "/console/"):
            target += f"?terug={quote(exc.back, safe='/')}"
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(ConsoleRefusal)
    async def refused(request: Request, exc: ConsoleRefusal) -> Response:
        member = getattr(request.state, "console_member", None)
        page = render(
            request, web, "problem.html", member, exc.status, heading=exc.heading, explanation=exc.explanation
        )
        return page
