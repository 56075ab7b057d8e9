"""Request bodies are capped per route before any route reads them, and refused with 413.

A declared Content-Length over the cap is refused before a byte of the body is read; a body
without one (chunked) is counted while it arrives and refused as soon as it passes the cap,
so nobody can make the app parse megabytes to learn that a link does not work. The caps are
the only setting a route needs: a new group of routes adds its prefix to `BODY_LIMITS`.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from comms.web.webhook import MAX_WEBHOOK_BYTES

KB = 1024
FORM_LIMIT = 4 * KB  # the preference, unsubscribe and link-request forms: a few hundred bytes
# Longest prefix first. The survey form: up to 10,000 characters per open question, each
# UTF-8 character percent-encoded as up to 9 bytes. SendGrid posts events in batches.
BODY_LIMITS: tuple[tuple[str, int], ...] = (
    ("/webhooks/", MAX_WEBHOOK_BYTES),
    ("/enquete/", 256 * KB),
)


def body_limit(path: str) -> int:
    return next((limit for prefix, limit in BODY_LIMITS if path.startswith(prefix)), FORM_LIMIT)


class BodyTooLarge(Exception):
    """Raised inside `receive` when a body passes its cap; answered by `BodyLimit`."""


class BodyLimit:
    """Refuses a body over its route's cap with `too_large` (a 413 page), whatever reads it."""

    def __init__(self, app: ASGIApp, too_large: Callable[[Scope], Response]):
        self.app = app
        self.too_large = too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(str(scope.get("path", "")))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self.too_large(scope)(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await self.too_large(scope)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    """The declared length; a value that is no number counts as too large (uvicorn refuses
    most of those itself)."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value) if value.isdigit() else 1 << 62
    return None
