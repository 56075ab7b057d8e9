"""Security headers on every response, whatever route or error produced it.

Tokens travel in the URL, so every response says `Referrer-Policy: no-referrer` and is not
stored by caches unless it is public. With an https base URL, every response carries HSTS.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.responses import Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
# The console's edition page frames its own previews; its progress page polls with a script of ours.
CONSOLE_FRAMES_CSP = CSP + "; frame-src 'self'"
CONSOLE_SCRIPT_CSP = CSP + "; script-src 'self'; connect-src 'self'"
# A preview in the console's frames: the mail's own HTML, sandboxed (no scripts, no forms, its
# links open outside the frame), framed by console pages only.
PREVIEW_FRAME_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; form-action 'none'; "
    "frame-ancestors 'self'; base-uri 'none'; sandbox allow-popups allow-popups-to-escape-sandbox"
)
ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # tokens are in URLs: they must not leak in Referer
}
UNLESS_SET = {
    "X-Frame-Options": "DENY",  # SAMEORIGIN for the console's preview frames only
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",  # token pages, webhook answers; public pages say otherwise
}
PUBLIC_CACHE = "public, max-age=300"
# The console's URLs carry no tokens, and its forms' Origin must be sent for the CSRF check:
# under no-referrer a browser sends "Origin: null" with every form post.
CONSOLE_REFERRER_POLICY = "same-origin"
# When the pages are served over https ([web] base_url): browsers use https only for a year.
# No includeSubDomains and no preload: the other hosts of the province's domain are not ours
# to force onto https, and preload cannot be taken back quickly.
HSTS = "max-age=31536000"


class SecurityHeaders:
    """Adds the security headers to every response, whatever route or error produced it.

    An unhandled error is answered here (`on_error`), with the headers, before it travels on
    to be logged: Starlette's outermost error handler would answer past this middleware.
    """

    def __init__(self, app: ASGIApp, on_error: Callable[[Scope], Response] | None = None, hsts: bool = False):
        self.app = app
        self.on_error = on_error
        self.always = ALWAYS | ({"Strict-Transport-Security": HSTS} if hsts else {})

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
                for name, value in self.always.items():
                    headers[name] = value
                if str(scope.get("path", "")).startswith("/console"):
                    headers["Referrer-Policy"] = CONSOLE_REFERRER_POLICY
                for name, value in UNLESS_SET.items():
                    headers.setdefault(name, value)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not started and self.on_error is not None:
                await self.on_error(scope)(scope, receive, send_with_headers)
            raise
