"""Console pages: templates/web/console/<template> in the console's frame, and the
POST-redirect-GET with a short Dutch confirmation on the next page.

Every console page gets `member` (None on the sign-in page), `csrf_token` (for the hidden
`csrf` field of each form), `nav` (the menu, with the current item marked) and `flash` (the
confirmation of the previous POST, shown once), and the Dutch date helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from comms import dates
from comms.web.console.auth import Member
from comms.web.console.cookies import codec, current_session, queue_cookie, queue_flash, read_flash
from comms.web.console.sessions import new_session
from comms.web.context import WebContext


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    href: str
    current: bool


NAV = (
    ("Kalender", "/console/"),
    ("Agenda", "/console/agenda"),
    ("Enquêtes", "/console/enquetes"),
    ("Blokkades", "/console/blokkades"),
    ("Logboek", "/console/logboek"),
)
HELPERS = {
    "long_date": dates.long_date,
    "short_date": dates.short_date,
    "time_of_day": dates.time_of_day,
    "date_and_time": dates.date_and_time,
}


def nav(path: str) -> list[NavItem]:
    """The menu; an item is current on its own page and the pages below it."""
    path = path if path != "/console" else "/console/"

    def current(href: str) -> bool:
        return path == href or (href != "/console/" and path.startswith(href + "/"))

    return [NavItem(label, href, current(href)) for label, href in NAV]


def render(
    request: Request, web: WebContext, template: str, member: Member | None, status: int = 200, **context: Any
) -> HTMLResponse:
    """templates/web/console/<template> with the frame's variables (see the module's doc)."""
    session = current_session(request, web)
    if session is None:  # a first visit: an anonymous session, so its forms have a CSRF token
        session = new_session(web.clock.now())
        queue_cookie(request, web, session)
    flash = read_flash(request)
    if flash is not None:
        queue_flash(request, web, None)  # shown once
    return web.pages.render(
        f"console/{template}",
        status,
        member=member,
        csrf_token=codec(request).csrf_token(session),
        nav=nav(request.url.path),
        flash=flash,
        **HELPERS,
        **context,
    )


def redirect(request: Request, web: WebContext, url: str, flash: str | None = None) -> RedirectResponse:
    """303 to `url` (GET), with `flash` shown on that page: "Blokkade opgeheven."."""
    if flash is not None:
        queue_flash(request, web, flash)
    return RedirectResponse(url, status_code=303)
