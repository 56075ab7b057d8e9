"""Every team notice about an edition leads to its page in the console, with the command line
(and --by) as the alternative, and says why in Dutch: the mails as the team reads them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import delete

from comms.clock import FixedClock
from comms.kinds import Step
from comms.operations import editions, surveys
from comms.schedule import jobs
from comms.schedules import schedules_of
from comms.service import Service
from comms.store.models import Item
from tests.editions.test_workflow import KEY, SEND_AT, build, local, open_service, planned_and_approved
from tests.schedule.test_scheduler import team_notices, team_text

CONSOLE = "https://comms.ipo.example.org/console/edities"
BUILD_AT = local(11, 23, 7)  # the newsletter schedule's build for December (fourth Monday)
REMINDER_AT = local(12, 1, 9)  # its approval deadline


@pytest.fixture
def service(project: Path) -> Iterator[Service]:
    service = open_service(project)
    yield service
    jobs.install(None)
    service.db.dispose()


def team_html(project: Path, subject: str) -> str:
    for path in (project / "outbox" / "meldingen" / "messages").glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["Subject"] == subject:
            body = message.get_body(("html",))
            assert body is not None
            return str(body.get_content())
    raise AssertionError(f"no notice {subject!r}")


def run_step(service: Service, step: str, at: datetime, key: str | None = None) -> None:
    """One scheduled step of the newsletter schedule, as `comms serve` runs it at `at`."""
    clock = FixedClock(at)
    schedules, _ = schedules_of(service.config, at)
    jobs.install(jobs.JobContext(service, clock, {s.name: s for s in schedules}))
    jobs.run_step("newsletter", step, at.astimezone(UTC), key)


def planned(service: Service) -> str:
    key = build(service)
    editions.schedule_send(service, key, SEND_AT.astimezone(UTC), "newsletter")
    return key


def scheduled_build(service: Service) -> None:
    run_step(service, Step.BUILD, BUILD_AT)


def reminder(service: Service) -> None:
    run_step(service, Step.APPROVAL_REMINDER, REMINDER_AT, planned(service))


def unapproved_at_send(service: Service) -> None:
    planned(service)
    run_step(service, Step.SEND, SEND_AT)


def held_at_send(service: Service) -> None:
    editions.hold(service, planned(service), "els", "wacht op de AV-datum", local(11, 30, 2))
    run_step(service, Step.SEND, SEND_AT)


def rebuilt(service: Service) -> None:
    planned_and_approved(service)
    editions.rebuild(service, KEY, "els", local(11, 30, 3))


EMPTY_FEEDS = {
    ".xml": '<?xml version="1.0"?><rss version="2.0"><channel><title>leeg</title></channel></rss>',
    ".ics": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//leeg//NL\r\nEND:VCALENDAR\r\n",
}


def nothing_new(service: Service) -> None:
    scheduled_build(service)  # December takes what there was by its build …
    for feed in (service.config.base_dir / "sample" / "feeds").iterdir():  # … and nothing comes since
        feed.write_text(EMPTY_FEEDS[feed.suffix], encoding="utf-8")
    with service.db.session() as session:
        session.execute(delete(Item).where(Item.edition_id.is_(None)))
    run_step(service, Step.BUILD, local(12, 28, 7))  # January's build


def survey_round(service: Service) -> None:
    surveys.start(service, "2026-H2", FixedClock(local(11, 25, 10)))


PREVIEW = "Bekijk de editie: https://comms.ipo.example.org/voorbeeld/"  # the signed preview stays
APPROVE = (
    f"Bekijken en goedkeuren: {CONSOLE}/{KEY}",
    f"of op de opdrachtregel: comms approve {KEY} --by GEBRUIKERSNAAM",
)


@pytest.mark.parametrize(
    ("make", "subject", "says"),
    [
        pytest.param(
            scheduled_build,
            f"Ter goedkeuring: {KEY}",
            [
                "wacht op goedkeuring",
                "Graag goedkeuren vóór dinsdag 1 december 2026 om 9.00 uur.",
                *APPROVE,
                PREVIEW,
            ],
            id="approval-request",
        ),
        pytest.param(
            reminder,
            f"Nog niet goedgekeurd: {KEY}",
            ["Geplande verzending: donderdag 3 december 2026 om 9.00 uur.", *APPROVE, PREVIEW],
            id="approval-reminder",
        ),
        pytest.param(
            rebuilt,
            f"Opnieuw goedkeuren nodig: {KEY}",
            ["is gewijzigd door els: er is nu versie 2", *APPROVE, PREVIEW],
            id="reapproval",
        ),
        pytest.param(
            unapproved_at_send,
            f"Niet verstuurd: {KEY}",
            [
                "Reden: niet goedgekeurd vóór de geplande verzendtijd.",
                f"comms send {KEY} --now --by GEBRUIKERSNAAM",
                *APPROVE,
            ],
            id="not-sent-draft",
        ),
        pytest.param(
            held_at_send,
            f"Niet verstuurd: {KEY}",
            [
                "Reden: de editie is aangehouden (aangehouden door els: wacht op de AV-datum).",
                f"Bekijken en zo nodig met de hand versturen: {CONSOLE}/{KEY}",
                f"of op de opdrachtregel: comms send {KEY} --by GEBRUIKERSNAAM",
            ],
            id="not-sent-held",
        ),
        pytest.param(
            nothing_new,
            "Aangehouden: nieuwsbrief-2027-01",
            [
                "Reden: er zijn sinds maandag 23 november 2026 om 7.00 uur geen nieuwe berichten.",
                f"Bekijken of vervallen verklaren: {CONSOLE}/nieuwsbrief-2027-01",
                "of op de opdrachtregel: comms discard nieuwsbrief-2027-01 --by GEBRUIKERSNAAM",
            ],
            id="held-nothing-new",
        ),
        pytest.param(
            survey_round,
            "Ter goedkeuring: enquete-2026-h2-uitnodiging",
            [
                f"Bekijken en goedkeuren: {CONSOLE}/enquete-2026-h2-uitnodiging",
                "of op de opdrachtregel: comms approve enquete-2026-h2-uitnodiging --by GEBRUIKERSNAAM",
                PREVIEW,
            ],
            id="survey-invitation",
        ),
    ],
)
def test_a_team_notice_leads_to_the_console_and_names_the_command_line_as_the_alternative(
    service: Service, project: Path, make: Callable[[Service], None], subject: str, says: list[str]
) -> None:
    make(service)

    assert subject in team_notices(project)
    text = team_text(project, subject)
    for phrase in says:
        assert phrase in text
    page = re.search(rf"{CONSOLE}/[a-z0-9-]+", text)
    assert page is not None and f'<a href="{page[0]}">' in team_html(project, subject)  # a link there too
    commands = re.findall(r"comms (?:approve|send|discard) \S+(?: --now)?( --by GEBRUIKERSNAAM)?", text)
    assert commands and all(commands), "every command names who takes the step"
