"""What the workflow's steps ask of the schedules: does a kind's mailing need approval, when
may an edition go out, and the notices that ask the team to (re-)approve one."""

from __future__ import annotations

from datetime import datetime, timedelta

from comms.clock import Clock
from comms.dates import date_and_time, long_date, time_of_day
from comms.dutch import number
from comms.errors import NotYetDue
from comms.kinds import Approval
from comms.notify import TeamNotice, notify_team
from comms.schedules import Schedule, schedules_of
from comms.service import Service
from comms.store.models import Edition
from comms.tokens import Purpose

PREVIEW_LINK_DAYS = 14  # after the planned send, the preview link in an approval request expires


def schedules_of_kind(service: Service, kind: str, now: datetime) -> list[Schedule]:
    schedules, _ = schedules_of(service.config, now)
    return [s for s in schedules if s.kind.key == kind]


def schedule_of(service: Service, edition: Edition, now: datetime) -> Schedule | None:
    """The schedule that planned the edition, else the (first) schedule of its kind."""
    mine = schedules_of_kind(service, edition.kind, now)
    named = [s for s in mine if s.name == edition.schedule]
    return next(iter(named or mine), None)


def approval_for(service: Service, kind: str, by: str | None, now: datetime) -> Approval:
    """Approval is required unless every schedule of the kind says `[approval] required = false`
    (a kind without a schedule waits for the team too)."""
    mine = schedules_of_kind(service, kind, now)
    return Approval(required=not mine or any(s.approval_required for s in mine), by=by)


def planned_text(moment: datetime) -> str:
    """'dinsdag 1 december 2026, 9.00 uur (Nederlandse tijd)'."""
    return f"{long_date(moment)}, {time_of_day(moment)} (Nederlandse tijd)"


def check_due(service: Service, edition: Edition, now: datetime) -> None:
    """NotYetDue unless the edition's planned time has come and `now` is inside its schedule's
    send window: what `comms send` without --now may send."""
    key = edition.key
    if edition.send_at is None:
        raise NotYetDue(
            f"{key} has no planned send time; to send it now: comms send {key} --now",
            "Deze editie heeft geen geplande verzendtijd; alleen 'nu versturen' verstuurt haar.",
        )
    if now < edition.send_at:
        planned = planned_text(edition.send_at)
        raise NotYetDue(
            f"{key} is not due yet: gepland voor {planned}; it goes out then by itself. "
            f"To send it earlier: comms send {key} --now",
            f"Deze editie is gepland voor {planned} en gaat dan vanzelf uit. "
            "Eerder versturen kan met 'nu versturen'.",
        )
    schedule = schedule_of(service, edition, now)
    if schedule is not None and not schedule.window.allows(now):
        raise NotYetDue(
            f"{key} is due, but now is outside the send window of schedule {schedule.name} "
            f"({schedule.window.describe()}): send it inside the window, or now anyway: "
            f"comms send {key} --now",
            f"Het is nu buiten de verzendperiode ({schedule.window.describe()}). Verstuur de editie "
            "binnen die periode, of nu toch met 'nu versturen'.",
        )


def is_due(service: Service, edition: Edition, now: datetime) -> bool:
    try:
        check_due(service, edition, now)
    except NotYetDue:
        return False
    return True


def preview_link(service: Service, key: str, send_at: datetime) -> tuple[str, str]:
    """A signed link to the edition's preview, for the team's notices."""
    expires = send_at + timedelta(days=PREVIEW_LINK_DAYS)
    token = service.signer().sign(Purpose.PREVIEW, key, "team", expires)
    return ("Bekijk de editie", f"{service.config.web_base_url}/voorbeeld/{token}")


def console_url(service: Service, key: str | None = None) -> str:
    """The console's page of an edition (it asks to sign in), or its calendar."""
    base = f"{service.config.web_base_url}/console"
    return f"{base}/edities/{key}" if key else f"{base}/"


def console_action(
    service: Service, key: str, action: str = "Bekijken en goedkeuren", command: str = "approve"
) -> list[str]:
    """What a team notice asks: the edition's page in the console first, the command line as the
    alternative (with --by: the CLI never guesses who it is). The link and the command each start
    a line of their own, so wrapping does not cut them."""
    return [
        f"{action}:\n{console_url(service, key)}",
        f"of op de opdrachtregel:\ncomms {command} {key} --by GEBRUIKERSNAAM",
    ]


def approval_request(
    service: Service,
    key: str,
    subject: str,
    size: int,
    send_at: datetime | None,
    deadline: datetime | None,
) -> TeamNotice:
    """'Ter goedkeuring: KEY': the team is asked to approve an edition before its send."""
    planned = date_and_time(send_at) if send_at else "nog niet gepland"
    due = deadline or send_at
    lines = [
        f"{key} ({subject}) is opgebouwd en wacht op goedkeuring.",
        f"Ontvangers: {number(size)}. Geplande verzending: {planned}.",
        (f"Graag goedkeuren vóór {date_and_time(due)}. " if due else "")
        + "Zonder goedkeuring wordt de editie niet verstuurd.",
        *console_action(service, key),
    ]
    link = preview_link(service, key, send_at) if send_at else None
    return TeamNotice(f"Ter goedkeuring: {key}", lines, link)


def reapproval_request(
    service: Service, key: str, subject: str, revision: int, by: str, send_at: datetime | None
) -> TeamNotice:
    """'Opnieuw goedkeuren nodig: KEY': an approved edition was changed and is a draft again."""
    planned = date_and_time(send_at) if send_at else "nog niet gepland"
    lines = [
        f"{key} ({subject}) was goedgekeurd, maar is gewijzigd door {by}: er is nu versie {revision}.",
        "Opnieuw goedkeuren nodig: deze versie wordt niet verstuurd voordat iemand haar goedkeurt.",
        f"Geplande verzending: {planned}.",
        *console_action(service, key),
    ]
    link = preview_link(service, key, send_at) if send_at else None
    return TeamNotice(f"Opnieuw goedkeuren nodig: {key}", lines, link)


def tell_team(service: Service, notice: TeamNotice, clock: Clock, addresses: tuple[str, ...] = ()) -> int:
    return notify_team(service.config, service.signer(), notice, addresses, clock)
