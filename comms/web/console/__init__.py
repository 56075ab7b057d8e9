"""/console: the communications team's console (Dutch, server-rendered, works without JavaScript).

`install(app)` adds what every console route relies on (the session codec, the cookie
middleware, the sign-in redirect and the problem page); `ROUTERS` are its pages;
`missing_page` answers a /console path that has no page (or none for that method, or a
malformed value).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from comms.web.console import agenda, calendar, edition, logbook, signin, suppressions, surveys
from comms.web.console.auth import ConsoleRefusal, Member, SignInNeeded, signed_in
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


async def missing_page(request: Request, web: WebContext, status: int) -> Response:
    """The console's own problem page for a /console path without a page (404), without one for
    this method (405) or with a malformed value in it (400, where FastAPI would answer in JSON):
    in the console's frame, with its menu for a signed-in member."""
    member: Member | None
    try:
        member = await signed_in(request, web)
    except SignInNeeded:
        member = None
    heading, explanation = _MISSING.get(status, _MISSING[405])
    explanation += " Kies een pagina in het menu." if member else " Log in en kies een pagina in het menu."
    return render(request, web, "problem.html", member, status, heading=heading, explanation=explanation)


_MISSING = {
    400: ("Dit adres klopt niet", "Het adres van deze pagina is onvolledig of veranderd."),
    404: ("Pagina niet gevonden", "Deze pagina bestaat niet in de console."),
    405: ("Dit kan hier niet", "Deze pagina kan zo niet worden geopend."),
}
