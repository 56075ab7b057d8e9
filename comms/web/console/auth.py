"""Who is signed in to the console, and the checks every console route relies on.

- `SignedIn`: the member of the request's session; a request without one is sent to the sign-in
  page (and back afterwards).
- `require(role)`: the same, refused with a Dutch 403 page when the member's role is too low:
  `member: Annotated[Member, require(TeamRole.APPROVER)]` (or the aliases `Approver`, `Admin`).
- `CheckedForm`: for every console POST: the posted form, once its CSRF token (bound to the
  session) and its Origin (or Referer) are right; otherwise a 403 page and nothing changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from comms.operations import team
from comms.store.models import TeamRole
from comms.web.console.cookies import codec, current_session, queue_cookie
from comms.web.context import Context
from comms.web.forms import read_form


@dataclass(frozen=True, slots=True)
class Member:
    """A signed-in member of the communications team."""

    username: str
    name: str
    role: TeamRole

    def may(self, role: TeamRole) -> bool:
        return self.role.includes(role)

    @property
    def may_edit(self) -> bool:
        return self.may(TeamRole.EDITOR)

    @property
    def may_approve(self) -> bool:
        return self.may(TeamRole.APPROVER)

    @property
    def is_admin(self) -> bool:
        return self.may(TeamRole.ADMIN)

    @property
    def role_label(self) -> str:
        return self.role.label


class SignInNeeded(Exception):
    """No valid session: answered with a redirect to the sign-in page (see handlers)."""

    def __init__(self, back: str, expired: bool = False):
        super().__init__(back)
        self.back = back
        self.expired = expired


class ConsoleRefusal(Exception):
    """Answered with the console's problem page: a Dutch heading and explanation."""

    def __init__(self, status: int, heading: str, explanation: str):
        super().__init__(heading)
        self.status = status
        self.heading = heading
        self.explanation = explanation


def form_refused() -> ConsoleRefusal:
    return ConsoleRefusal(
        403,
        "Formulier niet geaccepteerd",
        "Het formulier was verlopen of kwam niet van deze console; er is niets gewijzigd. Open de "
        "pagina opnieuw en probeer het nog eens. Uw browser moet cookies van deze site toestaan.",
    )


async def signed_in(request: Request, web: Context) -> Member:
    """The session's member; renews the session's idle time."""
    cached = getattr(request.state, "console_member", None)
    if isinstance(cached, Member):
        return cached
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    session = current_session(request, web)
    if session is None or not session.signed_in:
        raise SignInNeeded(back, expired=session is None and bool(request.cookies))
    account = await run_in_threadpool(team.signed_in_account, web.service, session.username, session.stamp)
    if account is None:
        raise SignInNeeded(back, expired=True)
    queue_cookie(request, web, session.seen(web.clock.now()))
    member = Member(account.username, account.name, account.role)
    request.state.console_member = member
    return member


SignedIn = Annotated[Member, Depends(signed_in)]


def require(role: TeamRole) -> Any:
    """A dependency: the signed-in member, if their role includes `role`; else a 403 page."""

    async def member_with_role(member: SignedIn) -> Member:
        if not member.may(role):
            raise ConsoleRefusal(
                403,
                "Geen toegang",
                f"Hiervoor is de rol {role.label} nodig; u bent {member.role_label}. "
                "Vraag een collega met die rol, of een beheerder.",
            )
        return member

    return Depends(member_with_role)


Approver = Annotated[Member, require(TeamRole.APPROVER)]
Admin = Annotated[Member, require(TeamRole.ADMIN)]


@dataclass(frozen=True, slots=True)
class PostedForm:
    """A console form that passed the CSRF check: every value of each field."""

    fields: Mapping[str, list[str]]

    def value(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default

    def values(self, name: str) -> list[str]:
        return list(self.fields.get(name, []))


async def checked_form(request: Request, web: Context) -> PostedForm:
    if not same_origin(request, web.service.config.web_base_url):
        raise form_refused()
    session = current_session(request, web)
    form = await read_form(request)
    if session is None or form is None:
        raise form_refused()
    tokens = form.get("csrf", [])
    if len(tokens) != 1 or not codec(request).csrf_valid(session, tokens[0]):
        raise form_refused()
    return PostedForm(form)


CheckedForm = Annotated[PostedForm, Depends(checked_form)]


def same_origin(request: Request, base_url: str) -> bool:
    """Whether the post comes from our own pages: its Origin (or, without one, its Referer)
    is this site's, as the configured base URL or the request itself names it. A request
    with neither header is left to the CSRF token alone."""
    own = {_origin(base_url), _origin(str(request.base_url))}
    origin = request.headers.get("origin")
    if origin is not None:
        return origin in own
    referer = request.headers.get("referer")
    return referer is None or _origin(referer) in own


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
