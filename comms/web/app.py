"""The recipients' pages (afmelden, voorkeuren, web version) and SendGrid's event webhook.

Pages are rendered on the server from `templates/web` (Dutch, no JavaScript, no cookies).
Tokens travel in the URL, so every response says `Referrer-Policy: no-referrer` and is not
stored by caches unless it is public. A GET never changes anything: mail scanners and link
previews follow links before people do; only a POST (RFC 8058 one-click) unsubscribes.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select, text
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from comms import editions
from comms.clock import Clock, SystemClock
from comms.domain import THEMES
from comms.problems import ValidationFailed
from comms.service import Service
from comms.store.models import Contact
from comms.tokens import InvalidToken, Purpose, Signer, TokenClaims
from comms.track.preferences import (
    MAILING_KINDS,
    THEME_IDS,
    PreferenceView,
    get_preferences,
    kind_label,
    save_preferences,
)
from comms.track.suppressions import UNSUBSCRIBED, is_suppressed, suppress
from comms.track.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookKeyInvalid,
    WebhookRejected,
    apply_events,
    load_public_key,
    verify_signature,
)
from comms.web.survey import add_survey_routes
from comms.web.survey_results import add_results_routes

log = logging.getLogger(__name__)

BUILTIN_TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "web"
PREFERENCES_LINK_LIFETIME = timedelta(days=400)  # as long as the links in the e-mails themselves
MAX_WEBHOOK_BYTES = 8 * 1024 * 1024  # read before the signature is checked, so bounded
_EDITION_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# The web version is the e-mail's own compiled HTML: MJML writes its styles inline and images
# may come from the IPO's sites. Still no script, no frames, no foreign forms.
WEB_VERSION_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # tokens are in URLs: they must not leak in Referer
    "X-Frame-Options": "DENY",
}
UNLESS_SET = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",  # token pages, webhook answers; public pages say otherwise
}
PUBLIC_CACHE = "public, max-age=300"

# Signer.verify's reasons → (HTTP status, the problem the page explains).
_TOKEN_FAILURES = {
    "malformed token": (400, "invalid"),
    "signature does not match": (400, "invalid"),
    "token is for another purpose": (403, "other-purpose"),
    "token has expired": (410, "expired"),
}


class SecurityHeaders:
    """Adds the security headers to every response, whatever route or error produced it.

    An unhandled error is answered here (`on_error`), with the headers, before it travels on
    to be logged: Starlette's outermost error handler would answer past this middleware.
    """

    def __init__(self, app: ASGIApp, on_error: Callable[[Scope], Response] | None = None):
        self.app = app
        self.on_error = on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers[name] = value
                for name, value in UNLESS_SET.items():
                    headers.setdefault(name, value)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not started and self.on_error is not None:
                await self.on_error(scope)(scope, receive, send_with_headers)
            raise


@dataclass(frozen=True, slots=True)
class Link:
    """A verified token and the address it stands for."""

    claims: TokenClaims
    email: str

    @property
    def kind(self) -> str:
        return self.claims.scope

    @property
    def label(self) -> str:
        return kind_label(self.kind)

    @property
    def masked_email(self) -> str:
        # Enough for someone with several addresses to recognise this one; a forwarded
        # link does not hand the whole address to its readers.
        local, _, domain = self.email.partition("@")
        return f"{local[:1]}…@{domain}"


class Pages:
    """Renders templates/web (the project's own first, then the built-in ones)."""

    def __init__(self, service: Service):
        project = service.config.resolve(service.config.templates_dir) / "web"
        self.dirs = [d for d in (project, BUILTIN_TEMPLATES) if d.is_dir()]
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.dirs),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        sender = service.config.sender
        self.globals = {"contact_address": sender.reply_to or sender.address}

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(**self.globals, **context)
        return HTMLResponse(html, status_code=status)

    def problem(self, status: int, problem: str) -> HTMLResponse:
        return self.render("error.html", status, problem=problem)

    def stylesheet(self) -> bytes:
        for folder in self.dirs:
            path = folder / "comms.css"
            if path.is_file():
                return path.read_bytes()
        return b""


def create_app(
    service: Service, clock: Clock | None = None, health: Callable[[], dict[str, str]] | None = None
) -> FastAPI:
    """The app; `health` adds the process's own state to /healthz (the scheduler's role)."""
    clock = clock or SystemClock()
    signer = service.signer()  # no COMMS_SECRET_KEY: fail at start, not on the first click
    pages = Pages(service)
    app = FastAPI(title="comms", docs_url=None, redoc_url=None, openapi_url=None)

    def server_error(scope: Scope) -> Response:
        if str(scope.get("path", "")).startswith("/webhooks/"):
            return _json_error(500, "internal error; retry later")  # SendGrid retries a 5xx
        return pages.problem(500, "server-error")

    app.add_middleware(SecurityHeaders, on_error=server_error)

    async def resolve(token: str, purpose: Purpose) -> Link | HTMLResponse:
        """The link's contact, or the page that explains why the link does not work."""
        result = _verify(signer, token, purpose, clock.now())
        if isinstance(result, str):
            status, problem = _TOKEN_FAILURES.get(result, (400, "invalid"))
            return pages.problem(status, problem)
        email = await run_in_threadpool(_contact_email, service, result.subject)
        if email is None:
            return pages.problem(404, "unknown-contact")
        return Link(result, email)

    @app.get("/afmelden/{token}")
    async def unsubscribe_page(token: str) -> Response:
        link = await resolve(token, Purpose.UNSUBSCRIBE)
        if isinstance(link, Response):
            return link
        already = await run_in_threadpool(_suppressed, service, link)
        return pages.render(
            "unsubscribe.html",
            state="already" if already else "confirm",
            link=link,
            preferences_url=_preferences_url(signer, link, clock.now()),
        )

    @app.post("/afmelden/{token}")
    async def unsubscribe(token: str, request: Request) -> Response:
        link = await resolve(token, Purpose.UNSUBSCRIBE)
        if isinstance(link, Response):
            return link
        if not await _is_one_click(request):
            return pages.problem(400, "incomplete-unsubscribe")
        now = clock.now()
        await run_in_threadpool(_unsubscribe, service, link, now)
        return pages.render(
            "unsubscribe.html", state="done", link=link, preferences_url=_preferences_url(signer, link, now)
        )

    @app.get("/voorkeuren")
    async def preferences_request_page() -> Response:
        """The general preference link of forward-safe mail: it asks for the address."""
        return pages.render("preferences-request.html", sent=False)

    @app.post("/voorkeuren")
    async def preferences_request(request: Request) -> Response:
        form = await _form(request)
        if form is None or not form.get("email"):
            return pages.problem(400, "incomplete-preferences")
        await run_in_threadpool(_mail_preferences_link, service, signer, form["email"][0], clock)
        # The same answer whether or not the address is known: nobody learns who is on a list.
        return pages.render("preferences-request.html", sent=True)

    @app.get("/voorkeuren/{token}")
    async def preferences_page(token: str) -> Response:
        link = await resolve(token, Purpose.PREFERENCES)
        if isinstance(link, Response):
            return link
        view = await run_in_threadpool(_read_preferences, service, link)
        return _preferences_page(pages, link, view, saved=False)

    @app.post("/voorkeuren/{token}")
    async def save_preferences_page(token: str, request: Request) -> Response:
        link = await resolve(token, Purpose.PREFERENCES)
        if isinstance(link, Response):
            return link
        form = await _form(request)
        if form is None:
            return pages.problem(400, "incomplete-preferences")
        # Only known values count: a hand-made form cannot invent kinds or themes.
        kinds = {k for k in form.get("kind", []) if k in MAILING_KINDS}
        themes = {t for t in form.get("theme", []) if t in THEME_IDS}
        view = await run_in_threadpool(_save_preferences, service, link, kinds, themes, clock.now())
        return _preferences_page(pages, link, view, saved=True)

    @app.get("/nieuwsbrief/{key}")
    async def web_version(key: str) -> Response:
        html = None
        if _EDITION_KEY.match(key):
            html = await run_in_threadpool(editions.web_version, service, key)
        if html is None:
            return pages.problem(404, "unknown-edition")
        headers = {"Content-Security-Policy": WEB_VERSION_CSP, "Cache-Control": PUBLIC_CACHE}
        return HTMLResponse(html, headers=headers)

    @app.get("/voorbeeld/{token}")
    async def team_preview(token: str) -> Response:
        """The edition as the approval request shows it: every block, sample values, not cached."""
        claims = _verify(signer, token, Purpose.PREVIEW, clock.now())
        if isinstance(claims, str):
            status, problem = _TOKEN_FAILURES.get(claims, (400, "invalid"))
            return pages.problem(status, problem)
        try:
            html, _ = await run_in_threadpool(editions.preview, service, claims.subject, None)
        except (editions.EditionNotFound, ValidationFailed):
            return pages.problem(404, "unknown-edition")
        return HTMLResponse(html, headers={"Content-Security-Policy": WEB_VERSION_CSP})

    @app.get("/static/comms.css")
    async def stylesheet() -> Response:
        return Response(pages.stylesheet(), media_type="text/css", headers={"Cache-Control": PUBLIC_CACHE})

    @app.get("/healthz")
    async def healthz() -> Response:
        try:
            await run_in_threadpool(_ping, service)
        except Exception as exc:  # any database failure means: not healthy
            log.error("health check failed: %s", type(exc).__name__)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok", **(health() if health else {})})

    @app.post("/webhooks/sendgrid")
    async def sendgrid_events(request: Request) -> Response:
        settings = service.config.sendgrid
        if not settings.webhook_public_key:
            log.warning("SendGrid webhook post refused: [sendgrid] webhook_public_key is not configured")
            return _json_error(503, "webhook not configured: set [sendgrid] webhook_public_key in comms.toml")
        payload = await _read_limited(request, MAX_WEBHOOK_BYTES)
        if payload is None:
            return _json_error(413, f"body larger than {MAX_WEBHOOK_BYTES} bytes")
        now = clock.now()
        try:
            load_public_key(settings.webhook_public_key)  # a broken key is ours to fix: 503, not 401
            verify_signature(
                settings.webhook_public_key,
                payload,
                request.headers.get(SIGNATURE_HEADER),
                request.headers.get(TIMESTAMP_HEADER),
                now,
                settings.webhook_max_age_seconds,
            )
        except WebhookKeyInvalid as exc:
            log.warning("SendGrid webhook post refused: %s", exc)
            return _json_error(503, str(exc))
        except WebhookRejected as rejected:
            log.warning("SendGrid webhook post rejected: %s", rejected.reason)
            return _json_error(rejected.status, rejected.reason)
        try:
            events = json.loads(payload)
        except (UnicodeDecodeError, ValueError):
            return _json_error(400, "body is not JSON")
        if not isinstance(events, list):
            return _json_error(400, "body is not a JSON array of events")
        outcome = await run_in_threadpool(_apply_events, service, events, now)
        return JSONResponse(outcome)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/webhooks/"):
            return _json_error(exc.status_code, str(exc.detail))
        problem = "not-found" if exc.status_code == 404 else "not-allowed"
        return pages.problem(exc.status_code, problem)

    add_survey_routes(app, service, pages, signer, clock)  # /enquete/{token}: the survey form
    add_results_routes(app, service, pages, signer, clock)  # /resultaten/{token}: for the team

    return app


def _verify(signer: Signer, token: str, purpose: Purpose, now: datetime) -> TokenClaims | str:
    try:
        return signer.verify(token, purpose, now)
    except InvalidToken as exc:
        return str(exc)
    except (UnicodeDecodeError, ValueError):  # a well-signed body that is not ours cannot exist
        return "malformed token"


def _preferences_url(signer: Signer, link: Link, now: datetime) -> str:
    token = signer.sign(Purpose.PREFERENCES, link.claims.subject, link.kind, now + PREFERENCES_LINK_LIFETIME)
    return f"/voorkeuren/{token}"


def _preferences_page(pages: Pages, link: Link, view: PreferenceView, saved: bool) -> HTMLResponse:
    return pages.render(
        "preferences.html", link=link, view=view, kinds=MAILING_KINDS, themes=THEMES, saved=saved
    )


async def _is_one_click(request: Request) -> bool:
    """RFC 8058: the body carries `List-Unsubscribe=One-Click`, form-encoded or multipart."""
    form = await _form(request)
    return form is not None and "One-Click" in form.get("List-Unsubscribe", [])


async def _form(request: Request) -> Mapping[str, list[str]] | None:
    """The posted fields (every value of each), or None when the body is not a form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.form(max_files=0, max_fields=100)
        except HTTPException:  # a broken multipart body
            return None
        fields = {key: [v for v in form.getlist(key) if isinstance(v, str)] for key in form}
        await form.close()
        return fields
    # Some mail systems post the one-click body without a content type.
    body = await _read_limited(request, 4096)
    if body is None:
        return None
    fields: dict[str, list[str]] = {}
    for key, value in parse_qsl(body.decode("latin-1")):
        fields.setdefault(key, []).append(value)
    return fields


async def _read_limited(request: Request, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _json_error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


# Database work, run in the thread pool so a slow query never stalls the event loop.


def _contact_email(service: Service, public_id: str) -> str | None:
    with service.db.session() as session:
        return session.scalars(select(Contact.email).where(Contact.public_id == public_id)).first()


def _suppressed(service: Service, link: Link) -> bool:
    with service.db.session() as session:
        return is_suppressed(session, link.email, link.kind)


def _unsubscribe(service: Service, link: Link, now: datetime) -> None:
    with service.db.session() as session:
        suppress(session, link.email, link.kind, UNSUBSCRIBED, now)


def _read_preferences(service: Service, link: Link) -> PreferenceView:
    with service.db.session() as session:
        return get_preferences(session, link.email)


def _save_preferences(
    service: Service, link: Link, kinds: set[str], themes: set[str], now: datetime
) -> PreferenceView:
    with service.db.session() as session:
        return save_preferences(session, link.email, kinds, themes, now)


def _apply_events(service: Service, events: list[Any], now: datetime) -> dict[str, int]:
    with service.db.session() as session:
        return apply_events(session, events, service.config, now).as_json()


REQUESTED_LINK_LIFETIME = timedelta(days=7)


def _mail_preferences_link(service: Service, signer: Signer, email: str, clock: Clock) -> None:
    """Mail a personal preference link to the address, if it belongs to a contact."""
    from comms.notify import TeamNotice, send_notice

    address = email.strip().lower()
    if len(address) > 320 or any(c in address for c in "\r\n"):
        return
    with service.db.session() as session:
        contact = session.scalars(select(Contact).where(Contact.email == address)).first()
        public_id = contact.public_id if contact else None
    if public_id is None:
        return
    token = signer.sign(
        Purpose.PREFERENCES, public_id, "agenda-digest", clock.now() + REQUESTED_LINK_LIFETIME
    )
    notice = TeamNotice(
        "Uw voorkeuren bij het IPO",
        [
            "U vroeg om een link om uw voorkeuren te wijzigen of u af te melden voor e-mail van het IPO.",
            "De link werkt zeven dagen. Heeft u dit niet gevraagd, dan kunt u deze e-mail negeren.",
        ],
        ("Uw voorkeuren", f"{service.config.web_base_url}/voorkeuren/{token}"),
    )
    send_notice(service.config, signer, notice, (address,), clock)


def _ping(service: Service) -> None:
    with service.db.session() as session:
        session.execute(text("SELECT 1"))
