"""The web app: the recipients' pages (afmelden, voorkeuren, web version, survey form), the
team's preview and results pages, the team's console (/console), and SendGrid's event webhook.

Each group of routes is a router of its own module; this module puts them together with the
security headers and the error pages. Pages are rendered on the server from templates/web
(Dutch, no JavaScript; cookies only in /console, for its sessions).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.types import Scope

from comms.clock import Clock, SystemClock
from comms.service import Service
from comms.web import (
    console,
    editions,
    health,
    metrics,
    preferences,
    survey,
    survey_results,
    unsubscribe,
    webhook,
)
from comms.web.background import MailQueue
from comms.web.bodies import BodyLimit, body_limit
from comms.web.context import WebContext
from comms.web.pages import Pages
from comms.web.security import SecurityHeaders
from comms.web.throttle import LinkRequestLimits
from comms.web.webhook import json_error

ROUTERS = (unsubscribe, preferences, editions, webhook, health, metrics, survey, survey_results)


def create_app(
    service: Service, clock: Clock | None = None, health: Callable[[], dict[str, str]] | None = None
) -> FastAPI:
    """The app; `health` adds the process's own state to /healthz (the scheduler's role)."""
    # No COMMS_SECRET_KEY: fail at start, not on the first click.
    config = service.config
    limits = LinkRequestLimits(
        config.preference_links_per_address,
        config.preference_links_per_client,
        os.urandom(32),  # the counts live in memory only: a key of this process suffices
    )
    mail = MailQueue()
    context = WebContext(
        service, clock or SystemClock(), service.signer(), Pages(service), mail, limits, health
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        mail.close()  # the mails already asked for go out before the process ends

    app = FastAPI(title="comms", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.context = context
    console.install(app, context, config.secret_key or "")  # the signer above checked the key

    def server_error(scope: Scope) -> Response:
        if str(scope.get("path", "")).startswith("/webhooks/"):
            return json_error(500, "internal error; retry later")  # SendGrid retries a 5xx
        return context.pages.problem(500, "server-error")

    def too_large(scope: Scope) -> Response:
        if str(scope.get("path", "")).startswith("/webhooks/"):
            return json_error(413, f"body larger than {body_limit(scope['path'])} bytes")
        return context.pages.problem(413, "too-large")

    app.add_middleware(BodyLimit, too_large=too_large)
    # Outermost, so the 413 and every error page carry the headers too.
    hsts = config.web_base_url.startswith("https://")
    app.add_middleware(SecurityHeaders, on_error=server_error, hsts=hsts)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/webhooks/"):
            return json_error(exc.status_code, str(exc.detail))
        if request.url.path.startswith("/console/"):
            return await console.missing_page(request, context, exc.status_code)
        problem = "not-found" if exc.status_code == 404 else "not-allowed"
        return context.pages.problem(exc.status_code, problem)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/console/"):  # a hand-edited address: a Dutch page, not JSON
            return await console.missing_page(request, context, 400)
        return await request_validation_exception_handler(request, exc)

    for module in ROUTERS:
        app.include_router(module.router)
    for router in console.ROUTERS:
        app.include_router(router)
    return app
