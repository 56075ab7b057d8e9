"""/console/blokkades: look up an address's suppressions, and lift a bounce (administrators).

A search by address, never a list of everyone: the page shows personal data only for the
address the member typed. A recipient's own opt-out or spam report is shown, never liftable.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from comms.errors import Refused
from comms.operations import suppressions
from comms.web.console.auth import Admin, CheckedForm, ConsoleRefusal, SignedIn
from comms.web.console.rendering import redirect, render
from comms.web.context import Context

router = APIRouter()
PAGE = "/console/blokkades"


@router.get(PAGE)
async def suppressions_page(request: Request, web: Context, member: SignedIn, adres: str = "") -> Response:
    email = adres.strip()
    found = await run_in_threadpool(suppressions.look_up, web.service, email) if email else []
    return render(request, web, "suppressions.html", member, email=email, found=found)


@router.post(f"{PAGE}/opheffen")
async def lift(request: Request, web: Context, member: Admin, form: CheckedForm) -> Response:
    email, scope = form.value("adres").strip(), form.value("bereik")
    try:
        lifted = await run_in_threadpool(
            suppressions.lift_by_team, web.service, email, scope, web.clock.now(), member.username
        )
    except Refused as exc:
        raise ConsoleRefusal(
            409,
            "Blokkade niet opgeheven",
            "Deze blokkade bestaat niet (meer) of mag het team niet opheffen: een afmelding of "
            "spammelding van de ontvanger zelf blijft staan.",
        ) from exc
    return redirect(
        request,
        web,
        f"{PAGE}?adres={quote(email)}",
        f"Blokkade opgeheven ({lifted.scope_label}, {lifted.reason_label}).",
    )
