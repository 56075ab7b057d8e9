"""What every route needs, and the links' tokens checked the same way everywhere.

`create_app` puts one `WebContext` in `app.state`; a route takes it with `Depends(context)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from comms.clock import Clock
from comms.operations import recipients
from comms.service import Service
from comms.tokens import InvalidToken, Purpose, Signer, TokenClaims
from comms.web.background import MailQueue
from comms.web.pages import Pages
from comms.web.throttle import LinkRequestLimits

# Signer.verify's reasons → (HTTP status, the problem the page explains).
TOKEN_FAILURES = {
    "malformed token": (400, "invalid"),
    "signature does not match": (400, "invalid"),
    "token is for another purpose": (403, "other-purpose"),
    "token has expired": (410, "expired"),
}


@dataclass(frozen=True)
class WebContext:
    service: Service
    clock: Clock
    signer: Signer
    pages: Pages
    mail: MailQueue  # mail sent after the response
    limits: LinkRequestLimits  # how often a preference link may be mailed
    health: Callable[[], dict[str, str]] | None = None  # the process's own state for /healthz

    def verify(self, token: str, purpose: Purpose) -> TokenClaims | str:
        """The token's claims, or why it does not work (one of TOKEN_FAILURES' reasons)."""
        return verify(self.signer, token, purpose, self.clock.now())

    def refused(self, reason: str) -> HTMLResponse:
        """The page that explains why a link does not work."""
        status, problem = TOKEN_FAILURES.get(reason, (400, "invalid"))
        return self.pages.problem(status, problem)

    async def resolve(self, token: str, purpose: Purpose) -> Link | HTMLResponse:
        """The link's contact, or the page that explains why the link does not work."""
        claims = self.verify(token, purpose)
        if isinstance(claims, str):
            return self.refused(claims)
        email = await run_in_threadpool(recipients.contact_email, self.service, claims.subject)
        if email is None:
            return self.pages.problem(404, "unknown-contact")
        return Link(claims, email)


def context(request: Request) -> WebContext:
    found: WebContext = request.app.state.context
    return found


Context = Annotated[WebContext, Depends(context)]


def verify(signer: Signer, token: str, purpose: Purpose, now: datetime) -> TokenClaims | str:
    try:
        return signer.verify(token, purpose, now)
    except InvalidToken as exc:
        return str(exc)
    except (UnicodeDecodeError, ValueError):  # a well-signed body that is not ours cannot exist
        return "malformed token"


@dataclass(frozen=True, slots=True)
class Link:
    """A verified token and the address it stands for."""

    claims: TokenClaims
    email: str

    @property
    def kind(self) -> str:
        return self.claims.scope

    @property
    def kind_name(self) -> str:
        """The kind as a sentence names it: 'de maandelijkse nieuwsbrief voor Statenleden'."""
        return recipients.kind_name(self.kind)

    @property
    def masked_email(self) -> str:
        # Enough for someone with several addresses to recognise this one; a forwarded
        # link does not hand the whole address to its readers.
        local, _, domain = self.email.partition("@")
        return f"{local[:1]}…@{domain}"
