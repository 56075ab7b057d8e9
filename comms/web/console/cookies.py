"""Reading the console's cookies from a request, and setting them on whatever response follows.

A route or dependency queues a cookie on the request (`queue_cookie`, `queue_flash`); the
`ConsoleCookies` middleware adds the queued Set-Cookie headers to the response, whichever
response the route returns. Cookies are HttpOnly, SameSite=Strict, Path=/console, Secure when
the base URL is https, and last as long as the browser session (the server ends sessions
itself: see sessions.ConsoleSession.expired).
"""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from comms.web.console.sessions import COOKIE, FLASH_COOKIE, PATH, ConsoleSession, SessionCodec
from comms.web.context import WebContext

_QUEUE = "console_cookies"  # request.state: name → Set-Cookie header value


def codec(request: Request) -> SessionCodec:
    found: SessionCodec = request.app.state.console_codec
    return found


def current_session(request: Request, web: WebContext) -> ConsoleSession | None:
    """The request's session (the one queued in this request, if any), unless it expired."""
    queued = getattr(request.state, "console_session", None)
    if isinstance(queued, ConsoleSession):
        return queued
    session = codec(request).decode(request.cookies.get(COOKIE))
    if session is None or session.expired(web.clock.now(), web.service.config.console):
        return None
    return session


def queue_cookie(request: Request, web: WebContext, session: ConsoleSession) -> None:
    request.state.console_session = session
    _queue(request, web, COOKIE, codec(request).encode(session))


def queue_flash(request: Request, web: WebContext, message: str | None) -> None:
    """A short confirmation for the next page (None: remove the one shown)."""
    _queue(request, web, FLASH_COOKIE, None if message is None else codec(request).encode_flash(message))


def read_flash(request: Request) -> str | None:
    return codec(request).decode_flash(request.cookies.get(FLASH_COOKIE))


def _queue(request: Request, web: WebContext, name: str, value: str | None) -> None:
    secure = web.service.config.web_base_url.startswith("https://")
    response = Response()
    if value is None:
        response.delete_cookie(name, path=PATH, secure=secure, httponly=True, samesite="strict")
    else:
        response.set_cookie(name, value, path=PATH, secure=secure, httponly=True, samesite="strict")
    queue: dict[str, str] = request.scope.setdefault("state", {}).setdefault(_QUEUE, {})
    queue[name] = response.headers["set-cookie"]


class ConsoleCookies:
    """Adds the cookies queued during the request to its response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(PATH):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for value in state.get(_QUEUE, {}).values():
                    headers.append("set-cookie", value)
            await send(message)

        await self.app(scope, receive, send_with_cookies)
