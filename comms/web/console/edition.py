"""/console/edities/{key}: one edition for the team, its previews, its forms, its progress and results.

Every POST here is CSRF-checked (CheckedForm), role-checked, calls one workflow operation (which
records the audit entry itself) and answers with a redirect to the edition page and a Dutch
confirmation. A refusal (four-eyes, a state that does not allow it) shows the page again with the
workflow's Dutch reason; nothing changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from comms.dutch import Noun
from comms.errors import CommsError, NotFound
from comms.operations import audit, editions, previews, reach, results
from comms.operations.audit import AuditEntry
from comms.operations.overview import EditionOverview, overview
from comms.operations.previews import NoPreview, Preview, Variant
from comms.operations.reach import Reach
from comms.problems import ValidationFailed
from comms.store.models import TeamRole
from comms.web.console.auth import Approver, CheckedForm, ConsoleRefusal, Member, SignedIn, require
from comms.web.console.rendering import redirect, render
from comms.web.context import Context
from comms.web.security import CONSOLE_FRAMES_CSP, CONSOLE_SCRIPT_CSP, PREVIEW_FRAME_CSP

ADDRESSES = Noun("adres", "adressen")

router = APIRouter()
Editor = Annotated[Member, require(TeamRole.EDITOR)]
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
NOT_FOUND = ConsoleRefusal(
    404, "Editie niet gevonden", "Deze editie bestaat niet (meer). Kies een editie in de kalender."
)


def _checked(key: str) -> str:
    if not _KEY.match(key):
        raise NOT_FOUND
    return key


# -- the edition page ---------------------------------------------------------------------


@dataclass(frozen=True)
class EditionPage:
    edition: EditionOverview
    reach: Reach
    variants: list[Variant]
    preview: Preview | None
    history: list[AuditEntry]


def _page_data(web: Context, key: str, variant: int) -> EditionPage:
    service, now = web.service, web.clock.now()
    try:
        found = overview(service, key, now)
    except NotFound as exc:
        raise NOT_FOUND from exc
    shown = None
    options = previews.variants(service, key)
    if options:
        number = variant if any(v.number == variant for v in options) else 0
        shown = previews.preview(service, key, number)
    return EditionPage(found, reach.reach(service, key), options, shown, audit.recent(service, key, 100))


async def _edition_page(
    request: Request,
    web: Context,
    member: Member,
    key: str,
    variant: int = 0,
    status: int = 200,
    **extra: Any,
) -> HTMLResponse:
    page = await run_in_threadpool(_page_data, web, key, variant)
    context = {"error": None, **extra}
    response = render(request, web, "edition.html", member, status, page=page, **context)
    response.headers["Content-Security-Policy"] = CONSOLE_FRAMES_CSP
    return response


@router.get("/console/edities/{key}")
async def edition_page(
    request: Request, web: Context, member: SignedIn, key: str, variant: int = 0
) -> Response:
    return await _edition_page(request, web, member, _checked(key), variant)


@router.get("/console/edities/{key}/voorbeeld/{number}")
async def preview_frame(web: Context, member: SignedIn, key: str, number: int) -> Response:
    """One variant's HTML with sample values, for the page's frames: sandboxed, no scripts."""
    try:
        shown = await run_in_threadpool(previews.preview, web.service, _checked(key), number)
    except (NotFound, NoPreview) as exc:
        raise NOT_FOUND from exc
    headers = {"Content-Security-Policy": PREVIEW_FRAME_CSP, "X-Frame-Options": "SAMEORIGIN"}
    return HTMLResponse(shown.html, headers=headers)


# -- the forms ----------------------------------------------------------------------------


async def _act(
    request: Request,
    web: Context,
    member: Member,
    key: str,
    action: Callable[..., object],
    done: str,
    *args: object,
) -> Response:
    """Run one workflow operation; the edition page with its Dutch confirmation, or its refusal."""
    try:
        await run_in_threadpool(action, web.service, key, *args)
    except NotFound as exc:
        raise NOT_FOUND from exc
    except CommsError as exc:
        return await _edition_page(request, web, member, key, status=409, error=refusal_text(exc))
    return redirect(request, web, f"/console/edities/{key}", done)


def refusal_text(exc: CommsError) -> str:
    """The workflow's own Dutch sentence where it has one; otherwise what was wrong, listed."""
    dutch = getattr(exc, "nl", None)
    if isinstance(dutch, str) and dutch:
        return dutch
    if isinstance(exc, ValidationFailed):
        return "Dat kon niet: " + "; ".join(p.reason for p in exc.problems)
    return f"Dat kon niet: {exc}"


@router.post("/console/edities/{key}/testversie")
async def test_copy(request: Request, web: Context, member: Editor, form: CheckedForm, key: str) -> Response:
    key = _checked(key)
    addresses = [a for a in re.split(r"[\s,;]+", form.value("adressen")) if a]
    if not addresses:
        return await _edition_page(request, web, member, key, status=400, error="Vul minstens één adres in.")
    try:
        outcome = await run_in_threadpool(
            editions.send_test_copy, web.service, key, addresses, web.clock, member.username
        )
    except NotFound as exc:
        raise NOT_FOUND from exc
    except CommsError as exc:
        return await _edition_page(request, web, member, key, status=409, error=refusal_text(exc))
    done = f"Testversie verstuurd naar {ADDRESSES.count(len(outcome.delivered))}."
    if outcome.failed:
        done += " Niet gelukt voor: " + ", ".join(address for address, _ in outcome.failed) + "."
    return redirect(request, web, f"/console/edities/{key}", done)


@router.post("/console/edities/{key}/goedkeuren")
async def approve(request: Request, web: Context, member: Approver, form: CheckedForm, key: str) -> Response:
    done = "Goedgekeurd. De editie gaat uit op de geplande tijd."
    return await _act(
        request, web, member, _checked(key), editions.approve, done, member.username, web.clock.now()
    )


@router.post("/console/edities/{key}/aanhouden")
async def hold(request: Request, web: Context, member: Editor, form: CheckedForm, key: str) -> Response:
    reason = form.value("reden").strip()
    if not reason:
        return await _edition_page(
            request,
            web,
            member,
            _checked(key),
            status=400,
            error="Vul in waarom de editie wordt aangehouden.",
        )
    done = "Aangehouden. De editie gaat niet uit tot ze opnieuw is opgebouwd en goedgekeurd."
    now = web.clock.now()
    return await _act(request, web, member, _checked(key), editions.hold, done, member.username, reason, now)


@router.post("/console/edities/{key}/vervallen")
async def discard(request: Request, web: Context, member: Approver, form: CheckedForm, key: str) -> Response:
    done = "Vervallen verklaard. Deze editie gaat niet uit."
    now = web.clock.now()
    return await _act(request, web, member, _checked(key), editions.discard, done, member.username, now)


@router.get("/console/edities/{key}/nu-versturen")
async def confirm_early_send(request: Request, web: Context, member: Approver, key: str) -> Response:
    """The confirmation step: how many recipients, and when it was planned."""
    page = await run_in_threadpool(_page_data, web, _checked(key), 0)
    return render(request, web, "send-early.html", member, page=page)


@router.post("/console/edities/{key}/nu-versturen")
async def send_early(
    request: Request, web: Context, member: Approver, form: CheckedForm, key: str
) -> Response:
    if form.value("bevestigd") != "ja":
        return redirect(request, web, f"/console/edities/{_checked(key)}/nu-versturen")
    done = "De verzending is gestart. Hieronder ziet u de voortgang."
    response = await _act(
        request, web, member, _checked(key), editions.start_early, done, member.username, web.clock
    )
    if response.status_code == 303:
        response.headers["location"] = f"/console/edities/{key}/voortgang"
    return response


@router.post("/console/edities/{key}/inleiding")
async def edit_introduction(
    request: Request, web: Context, member: Editor, form: CheckedForm, key: str
) -> Response:
    done = (
        "De inleiding is opgeslagen en de editie is opnieuw opgebouwd als nieuwe revisie. "
        "Deze revisie moet opnieuw worden goedgekeurd voordat ze uitgaat."
    )
    text = form.value("inleiding")
    return await _act(
        request,
        web,
        member,
        _checked(key),
        editions.edit_introduction,
        done,
        text,
        member.username,
        web.clock.now(),
    )


# -- progress and results -----------------------------------------------------------------


@router.get("/console/edities/{key}/voortgang")
async def progress_page(request: Request, web: Context, member: SignedIn, key: str) -> Response:
    try:
        seen = await run_in_threadpool(results.progress, web.service, _checked(key), web.clock.now())
    except NotFound as exc:
        raise NOT_FOUND from exc
    response = render(request, web, "progress.html", member, progress=seen)
    response.headers["Content-Security-Policy"] = CONSOLE_SCRIPT_CSP
    return response


@router.get("/console/edities/{key}/voortgang.json")
async def progress_json(web: Context, member: SignedIn, key: str) -> Response:
    try:
        seen = await run_in_threadpool(results.progress, web.service, _checked(key), web.clock.now())
    except NotFound as exc:
        raise NOT_FOUND from exc
    return JSONResponse(seen.as_json())


@router.get("/console/edities/{key}/resultaten")
async def results_page(request: Request, web: Context, member: SignedIn, key: str) -> Response:
    try:
        seen = await run_in_threadpool(results.results, web.service, _checked(key))
    except NotFound as exc:
        raise NOT_FOUND from exc
    return render(request, web, "results.html", member, results=seen)


@router.get("/static/console-progress.js")
async def progress_script(web: Context) -> Response:
    return Response(web.pages.stylesheet("console-progress.js"), media_type="text/javascript")
