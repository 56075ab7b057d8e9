"""The safe workflow, as the team meets it on the command line and through the service layer:
approving releases an edition for its planned time, sending earlier is a separate confirmed
step, a change to an approved edition is a new draft revision, discarding sticks, the default
build month is the next planned edition, and every step says who took it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner, Result
from sqlalchemy import select

from comms.audience.contacts import read_audience
from comms.audience.sync import import_contacts
from comms.cli import main
from comms.clock import FixedClock
from comms.collect.run import collect_all
from comms.config import load_config
from comms.dates import AMSTERDAM
from comms.errors import FourEyesRefused, NeedsApproval, NotPermitted, NotYetDue, WorkflowRefused
from comms.kinds import BuildRequest
from comms.operations import audit, editions
from comms.service import Service
from comms.store.editions import find_edition
from comms.store.models import EditionStatus, Message, TeamMember
from tests.schedule.test_scheduler import job_runs, run_until, start_runner, team_notices

KEY = "nieuwsbrief-2026-12"
SEND_AT = datetime(2026, 12, 3, 9, 0, tzinfo=AMSTERDAM)  # the first Thursday of December, as scheduled


def local(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM)


def comms(project: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, ["--config", str(project / "comms.toml"), *args], input=input)


def emls(project: Path) -> list[Path]:
    return sorted((project / "outbox" / KEY / "messages").glob("*.eml"))


def open_service(project: Path, four_eyes: bool = False) -> Service:
    config_file = project / "comms.toml"
    if four_eyes:
        text = config_file.read_text(encoding="utf-8").replace("four_eyes = false", "four_eyes = true")
        config_file.write_text(text, encoding="utf-8")
    config, problems = load_config(config_file)
    assert config is not None, problems
    service = Service.open(config)
    with service.db.session() as session:
        import_contacts(session, read_audience(config.contact_files()).contacts, local(11, 1, 9))
    collect_all(config, service.db, local(11, 30, 1))
    return service


@pytest.fixture
def service(project: Path) -> Iterator[Service]:
    service = open_service(project)
    yield service
    service.db.dispose()


def build(service: Service, by: str | None = "els", now: datetime | None = None) -> str:
    request = BuildRequest(now or local(11, 30, 1), period="2026-12", by=by)
    return editions.build(service, "newsletter", request).key


def planned_and_approved(service: Service) -> str:
    """December's newsletter, built by Els, planned by the newsletter schedule, approved by Piet."""
    key = build(service)
    editions.schedule_send(service, key, SEND_AT.astimezone(UTC), "newsletter")
    editions.approve(service, key, "piet", local(11, 30, 1, 30))
    return key


def status_of(service: Service, key: str = KEY) -> str:
    with service.db.session() as session:
        return find_edition(session, key).status


def add_member(service: Service, username: str, role: str, active: bool = True) -> None:
    with service.db.session() as session:
        session.add(
            TeamMember(
                username=username,
                name=username.capitalize(),
                email=f"{username}@ipo.example.org",
                role=role,
                password_hash="not used here",
                active=active,
                created_at=local(11, 1, 9),
            )
        )


# -- approving releases for the planned time; early is separate and confirmed -----------------


@pytest.mark.parametrize(
    ("now", "refusal"),
    [
        # The night before: what went wrong in November (the invitation at 02.00).
        (local(11, 30, 2), "gepland voor donderdag 3 december 2026, 9.00 uur (Nederlandse tijd)"),
        (local(12, 3, 8, 59), "gepland voor donderdag 3 december 2026, 9.00 uur (Nederlandse tijd)"),
        # Past its time, but on a Saturday night: outside the schedule's send window.
        (local(12, 5, 2), "outside the send window of schedule newsletter (mon-fri 08:00-18:00)"),
        (local(12, 3, 9), None),
        (local(12, 4, 14), None),  # a send step missed: the team sends it by hand inside the window
    ],
)
def test_send_without_now_waits_for_the_planned_time_and_the_window(
    service: Service, project: Path, now: datetime, refusal: str | None
) -> None:
    planned_and_approved(service)
    with time_machine.travel(now, tick=False):
        result = comms(project, "send", KEY, "--by", "piet")
    if refusal:
        assert result.exit_code == 1, result.output
        assert refusal in result.output
        assert f"comms send {KEY} --now" in result.output
        assert emls(project) == [] and status_of(service) == EditionStatus.APPROVED
    else:
        assert result.exit_code == 0, result.output
        assert len(emls(project)) == 572 and status_of(service) == EditionStatus.SENT


@pytest.mark.parametrize(
    ("answer", "sent"),
    [("n\n", False), ("\n", False), ("y\n", True)],  # the default is No
)
def test_send_now_asks_first_what_goes_to_how_many(
    service: Service, project: Path, answer: str, sent: bool
) -> None:
    planned_and_approved(service)
    with time_machine.travel(local(11, 30, 2), tick=False):
        result = comms(project, "send", KEY, "--now", "--by", "piet", input=answer)
    assert f"Send {KEY} (IPO-nieuwsbrief voor Statenleden – december 2026) to 572 recipient(s) now" in (
        result.output
    )
    assert "gepland voor donderdag 3 december 2026, 9.00 uur (Nederlandse tijd)" in result.output
    assert (result.exit_code == 0) is sent, result.output
    assert len(emls(project)) == (572 if sent else 0)
    if sent:
        [early] = [e for e in audit.recent(service, KEY) if e.action == "send-early"]
        assert (early.actor, early.detail) == ("piet", "versie 1, 572 ontvangers")


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        ("draft", "is a draft (revision 1) that nobody approved yet: comms approve"),
        ("held", "is held: held by els: cijfers ontbreken; it is not sent"),
        ("discarded", "is cancelled: discarded by piet; it is not sent"),
    ],
)
def test_send_now_refuses_what_is_not_approved_without_asking(
    service: Service, project: Path, prepare: str, message: str
) -> None:
    build(service)
    if prepare == "held":
        editions.hold(service, KEY, "els", "cijfers ontbreken")
    elif prepare == "discarded":
        editions.discard(service, KEY, "piet")
    result = comms(project, "send", KEY, "--now", "--by", "piet")  # no input: it must not ask
    assert result.exit_code == 1 and message in result.output, result.output
    assert "recipient(s) now" not in result.output and emls(project) == []


def test_the_service_refuses_with_a_dutch_sentence_for_the_console(service: Service) -> None:
    key = build(service)
    with pytest.raises(NeedsApproval) as draft:
        editions.start_early(service, key, "piet", clock_at(local(11, 30, 2)))
    assert draft.value.nl == "Versie 1 van deze editie is nog niet goedgekeurd."
    planned_and_approved(service)
    with pytest.raises(NotYetDue) as early:
        editions.send(service, key, "piet", clock=clock_at(local(11, 30, 2)))
    assert early.value.nl == (
        "Deze editie is gepland voor donderdag 3 december 2026, 9.00 uur (Nederlandse tijd) en gaat dan "
        "vanzelf uit. Eerder versturen kan met 'nu versturen'."
    )
    assert "gepland voor" in str(early.value) and "comms send" in str(early.value)  # English for the CLI
    started = editions.start_early(service, key, "piet", clock_at(local(11, 30, 2)))
    assert started.status == EditionStatus.SENDING


def clock_at(moment: datetime) -> FixedClock:
    return FixedClock(moment.astimezone(UTC))


# -- a change to an approved edition is a new draft revision ----------------------------------


@pytest.fixture
def scheduled(project: Path) -> Iterator[Service]:
    """The newsletter schedule only (the agenda jobs run every half hour)."""
    for other in (project / "schedules").glob("*.toml"):
        if other.name != "newsletter.toml":
            other.unlink()
    service = open_service(project)
    yield service
    service.db.dispose()


@pytest.mark.parametrize("reapproved", [False, True])
def test_a_rebuilt_approved_edition_waits_for_approval_again_and_both_revisions_stay(
    scheduled: Service, project: Path, reapproved: bool
) -> None:
    service = scheduled
    with time_machine.travel(local(11, 23, 6, 59), tick=False) as traveller:
        runner = start_runner(service)
        run_until(runner, traveller, local(11, 23, 8))  # Monday 7.00: built by the schedule
        editions.approve(service, KEY, "piet", datetime.now(UTC))
        traveller.move_to(local(11, 25, 10))
        rebuilt = editions.rebuild(service, KEY, "els", datetime.now(UTC))
        assert (rebuilt.revision, rebuilt.status, rebuilt.needs_reapproval) == (2, EditionStatus.DRAFT, True)
        if reapproved:
            editions.approve(service, KEY, "piet", datetime.now(UTC))
        run_until(runner, traveller, local(12, 3, 10))
        runner.stop()

    [send] = [r for r in job_runs(service) if r[0] == "send"]
    with service.db.session() as session:
        edition = find_edition(session, KEY)
        queued = session.scalar(select(Message.id).where(Message.edition_id == edition.id).limit(1))
    if reapproved:
        assert (edition.status, send[2]) == (EditionStatus.SENDING, "done")
        assert queued is not None
    else:
        assert (edition.status, send[2]) == (EditionStatus.DRAFT, "held")
        assert "not approved" in send[3] and queued is None
        assert "Niet verstuurd: nieuwsbrief-2026-12" in team_notices(project)
    assert "Opnieuw goedkeuren nodig: nieuwsbrief-2026-12" in team_notices(project)
    shown = [(r.number, r.built_by, r.approved_by, r.is_current) for r in editions.revisions(service, KEY)]
    assert shown == [
        (2, "els", "piet" if reapproved else None, True),
        (1, "schema:newsletter", "piet", False),
    ]


def test_the_reapproval_notice_says_what_changed_and_who_changed_it(service: Service, project: Path) -> None:
    planned_and_approved(service)
    outcome = editions.rebuild(service, KEY, "els", local(11, 30, 3))
    assert outcome.needs_reapproval and outcome.revision == 2
    [path] = sorted((project / "outbox" / "meldingen" / "messages").glob("*.eml"))
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert message["Subject"] == "Opnieuw goedkeuren nodig: nieuwsbrief-2026-12"
    assert "is gewijzigd door els: er is nu versie 2" in text
    assert "donderdag 3 december 2026 om 9.00 uur" in text


def test_an_edited_introduction_is_sanitised_and_makes_a_new_revision(service: Service) -> None:
    key = build(service)
    assert editions.introduction(service, key).startswith("Het jaar loopt ten einde")  # the content file's
    edited = "Beste lezer,\n\nDe **AV** vergadert op 16 december.<script>alert(1)</script>"
    outcome = editions.edit_introduction(service, key, edited, "els", local(11, 30, 4))
    assert outcome.revision == 2 and outcome.status == EditionStatus.DRAFT
    html, _ = editions.preview(service, key, None)
    assert "<strong>AV</strong> vergadert op 16 december" in html and "<script>" not in html
    assert editions.introduction(service, key) == edited
    assert [e.action for e in audit.recent(service, key)][:2] == ["rebuild", "edit-introduction"]


def test_only_the_newsletter_has_an_introduction_to_edit(service: Service) -> None:
    digest = editions.build(service, "agenda-digest", BuildRequest(local(11, 30, 1), by="els"))
    with pytest.raises(WorkflowRefused) as refused:
        editions.edit_introduction(service, digest.key, "Hallo", "els", local(11, 30, 2))
    assert refused.value.nl == "Deze mailing heeft geen inleiding om te bewerken."


# -- discard ----------------------------------------------------------------------------------


def test_a_wrong_month_and_a_held_edition_can_be_discarded_and_the_right_one_built(
    service: Service, project: Path
) -> None:
    """ "What we saw" 4: on 30 November November's edition was built by mistake, so December's
    had no new items and was held, and nothing could undo either."""
    wrong = editions.build(service, "newsletter", BuildRequest(local(11, 30, 1), period="2026-11", by="els"))
    held = editions.build(
        service, "newsletter", BuildRequest(local(11, 30, 1, 5), period="2026-12", by="els")
    )
    assert (wrong.status, held.status) == (EditionStatus.DRAFT, EditionStatus.HELD)
    for key in (wrong.key, held.key):
        discarded = comms(project, "discard", key, "--by", "piet")
        assert discarded.exit_code == 0 and f"discarded {key}" in discarded.output
    again = comms(project, "newsletter", "build", "--month", "2026-12", "--by", "els")
    assert again.exit_code == 0, again.output
    assert f"built {held.key} revision 2 (draft)" in again.output  # the items November's held back
    assert status_of(service, wrong.key) == EditionStatus.CANCELLED


def test_a_discarded_edition_is_not_built_again_by_the_schedule(scheduled: Service) -> None:
    service = scheduled
    january = editions.build(
        service, "newsletter", BuildRequest(local(11, 30, 1), period="2027-01", by="els")
    )
    editions.discard(service, january.key, "piet")
    with time_machine.travel(local(12, 28, 6, 59), tick=False) as traveller:  # January's build
        runner = start_runner(service)
        run_until(runner, traveller, local(12, 28, 8))
        runner.stop()
    [run] = [r for r in job_runs(service) if r[0] == "build"]
    assert run[2] == "done" and "was discarded; a schedule does not build it again" in run[3]
    assert status_of(service, january.key) == EditionStatus.CANCELLED
    assert [r.number for r in editions.revisions(service, january.key)] == [1]


# -- the default build month ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "period"),
    [
        (local(11, 30, 2), "2026-12"),  # "What we saw" 4: not November's edition
        (local(12, 3, 8, 59), "2026-12"),
        (local(12, 3, 9, 1), "2027-01"),  # December's went out at 9.00
        (local(12, 31, 23), "2027-01"),
    ],
)
def test_the_default_month_is_the_next_planned_edition(service: Service, now: datetime, period: str) -> None:
    assert editions.next_period(service, "newsletter", now) == period


def test_build_without_a_month_on_30_november_builds_december(service: Service, project: Path) -> None:
    with time_machine.travel(local(11, 30, 2), tick=False):
        result = comms(project, "newsletter", "build", "--by", "els")
    assert result.exit_code == 0, result.output
    assert "built nieuwsbrief-2026-12 revision 1 (draft)" in result.output


def test_without_a_schedule_the_default_month_is_this_month(service: Service, project: Path) -> None:
    (project / "schedules" / "newsletter.toml").unlink()
    assert editions.next_period(service, "newsletter", local(11, 30, 2)) == "2026-11"


# -- four eyes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("four_eyes", "built_by", "approver", "allowed"),
    [
        (True, "els", "els", False),
        (True, "els", "piet", True),
        (True, "schema:newsletter", "els", True),  # a schedule's build is nobody's
        (False, "els", "els", True),
    ],
)
def test_four_eyes(project: Path, four_eyes: bool, built_by: str, approver: str, allowed: bool) -> None:
    service = open_service(project, four_eyes=four_eyes)
    try:
        key = build(service, by=built_by)
        if allowed:
            assert editions.approve(service, key, approver, local(11, 30, 2)).status == EditionStatus.APPROVED
        else:
            with pytest.raises(FourEyesRefused) as refused:
                editions.approve(service, key, approver, local(11, 30, 2))
            assert "vier-ogenprincipe" in refused.value.nl
            cli = comms(project, "approve", key, "--by", approver)
            assert cli.exit_code == 1 and "with four eyes on, someone else approves it" in cli.output
            assert status_of(service, key) == EditionStatus.DRAFT
    finally:
        service.db.dispose()


def test_an_edited_introduction_counts_as_a_change_for_four_eyes(project: Path) -> None:
    service = open_service(project, four_eyes=True)
    try:
        key = build(service, by="schema:newsletter")
        editions.edit_introduction(service, key, "Beste lezer,", "els", local(11, 30, 2))
        with pytest.raises(FourEyesRefused):
            editions.approve(service, key, "els", local(11, 30, 3))
        editions.approve(service, key, "piet", local(11, 30, 3))
    finally:
        service.db.dispose()


# -- who did it ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "by", "message"),
    [
        (["approve"], "anna", None),
        (["approve"], "admin", None),
        (["approve"], "els", "els is editor; approve needs the role approver or higher"),
        (["approve"], "oud", "'oud' is no active team account"),
        (["approve"], "onbekende", "'onbekende' is no active team account"),
        (["discard"], "els", "els is editor; discard needs the role approver or higher"),
        (["hold", "--reason", "cijfers"], "els", None),
        (["test-send", "--to", "redactie@ipo.example.org"], "els", None),
        (["send", "--now", "--yes"], "els", "els is editor; send-early needs the role approver or higher"),
    ],
)
def test_by_names_an_active_member_whose_role_allows_the_step(
    service: Service, project: Path, args: list[str], by: str, message: str | None
) -> None:
    for username, role, active in [
        ("els", "editor", True),
        ("anna", "approver", True),
        ("admin", "admin", True),
        ("oud", "approver", False),
    ]:
        add_member(service, username, role, active)
    key = build(service, by="els")
    if args[0] == "send":
        editions.approve(service, key, "anna", local(11, 30, 2))
    result = comms(project, args[0], key, *args[1:], "--by", by)
    if message is None:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1 and message in result.output, result.output


@pytest.mark.parametrize(
    "command", [["approve"], ["hold", "--reason", "x"], ["discard"], ["test-send", "--to", "a@b.nl"]]
)
def test_by_is_required_and_never_a_schedule(service: Service, project: Path, command: list[str]) -> None:
    key = build(service)
    missing = comms(project, command[0], key, *command[1:])
    assert missing.exit_code == 2 and "Missing option '--by'" in missing.output
    schedule = comms(project, command[0], key, *command[1:], "--by", "schema:newsletter")
    assert schedule.exit_code == 2 and "name a team member's username" in schedule.output


def test_send_now_needs_someone_named(service: Service, project: Path) -> None:
    planned_and_approved(service)
    result = comms(project, "send", KEY, "--now", "--yes")
    assert result.exit_code == 2 and "send --now needs --by USERNAME (or COMMS_USER)" in result.output
    assert emls(project) == []


def test_comms_user_names_who_approves(
    service: Service, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = build(service)
    monkeypatch.setenv("COMMS_USER", "piet")
    result = comms(project, "approve", key)
    assert result.exit_code == 0 and f"approved {key} by piet (revision 1)" in result.output


def test_with_accounts_a_build_must_say_who_builds(service: Service) -> None:
    add_member(service, "els", "editor")
    with pytest.raises(NotPermitted):
        build(service, by=None)
    assert build(service, by="els") == KEY


def test_every_step_is_in_the_audit_log_with_who_took_it(service: Service, project: Path) -> None:
    key = build(service, by="els")
    editions.send_test_copy(service, key, ["redactie@ipo.example.org"], clock_at(local(11, 30, 2)), "els")
    editions.hold(service, key, "els", "wacht op de AV-datum", local(11, 30, 2, 30))
    build(service, by="els", now=local(11, 30, 3))
    editions.schedule_send(service, key, SEND_AT.astimezone(UTC), "newsletter")
    editions.approve(service, key, "piet", local(11, 30, 4))
    editions.send(service, key, "piet", clock=clock_at(local(12, 3, 9)))
    logged = [(e.action.value, e.actor, e.detail) for e in reversed(audit.recent(service, key))]
    assert logged == [
        ("build", "els", "versie 1"),
        ("test-send", "els", "1 testversie"),
        ("hold", "els", "reden: wacht op de AV-datum"),
        ("rebuild", "els", "versie 2"),
        ("approve", "piet", "versie 2"),
        ("send-start", "piet", "versie 2, 572 ontvangers"),
    ]


def test_a_discarded_edition_is_logged_with_who_discarded_it(service: Service) -> None:
    key = build(service)
    editions.discard(service, key, "piet", local(11, 30, 2))
    [entry] = [e for e in audit.recent(service, key) if e.action == "discard"]
    assert (entry.actor, entry.at, entry.label) == (
        "piet",
        local(11, 30, 2).astimezone(UTC),
        "vervallen verklaard",
    )
