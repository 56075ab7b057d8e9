"""A whole survey round with a fake clock: start, invite, some answer, reminders only to the
rest on the policy's days, closing stops both; nothing links an anonymous answer to a person."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from comms.audience.contacts import read_audience
from comms.audience.sync import import_contacts
from comms.clock import FixedClock
from comms.config import load_config
from comms.dates import AMSTERDAM
from comms.deliver.outbox import OutboxTransport
from comms.editions import delivery, lifecycle
from comms.kinds.survey import KIND as SURVEYS
from comms.problems import ValidationFailed
from comms.service import Service
from comms.store.models import Contact, Edition, EditionStatus, SurveyDraft, SurveyInvitation, SurveyResponse
from comms.survey import responses
from comms.survey.results import compute_results

SURVEY = """
title = "Evaluatie van het pamflet 2026-H2"
introduction = "Hoe werken de afspraken over IPO-agenda's in GS?"
round = "2026-H2"
opens = 2026-12-01T09:00:00
closes = 2026-12-22T17:00:00
anonymous = true
min_group_size = 2

[audience]
roles = ["gedeputeerde", "kps"]

[reminders]
first_after_days = 7
min_days_between = 5
max = 2

[[questions]]
id = "bekendheid"
type = "scale"
text = "Ik ken de afspraken uit het pamflet."
labels = ["Helemaal oneens", "Oneens", "Neutraal", "Eens", "Helemaal eens"]

[[questions]]
id = "besproken"
type = "single"
text = "Worden de agenda's van het IPO besproken in uw GS-vergadering?"
options = ["Altijd", "Soms", "Nooit"]

[[questions]]
id = "toelichting"
type = "text"
text = "Toelichting"
required = false
"""
CONTACTS = "e-mailadres;voornaam;tussenvoegsel;achternaam;provincie;rollen;partij;thema's\n" + "".join(
    f"{name}@{province.lower()}.example.org;{name.title()};;Test;{province};{role};;\n"
    for name, province, role in [
        ("anna", "Utrecht", "gedeputeerde"),
        ("bert", "Utrecht", "gedeputeerde"),
        ("cora", "Utrecht", "kps"),
        ("dirk", "Zeeland", "gedeputeerde"),
        ("eva", "Zeeland", "gedeputeerde"),
        ("frits", "Zeeland", "kps"),
        ("sjaak", "Zeeland", "statenlid"),  # not in the audience
    ]
)
ANSWERS = {
    "anna": {"bekendheid": ["4"], "besproken": ["Altijd"], "toelichting": ["Werkt goed."]},
    "dirk": {"bekendheid": ["2"], "besproken": ["Soms"], "toelichting": [""]},
    "cora": {"bekendheid": ["5"], "besproken": ["Altijd"], "toelichting": ["Graag eerder de stukken."]},
}


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=AMSTERDAM).astimezone(UTC)


@pytest.fixture
def service(project: Path) -> Iterator[Service]:
    surveys = project / "templates" / "surveys"
    for path in surveys.glob("*.toml"):
        path.unlink()
    (surveys / "pamflet.toml").write_text(SURVEY, encoding="utf-8")
    contacts = project / "audiences" / "contacts"
    for path in contacts.glob("*.csv"):
        path.unlink()
    (contacts / "test.csv").write_text(CONTACTS, encoding="utf-8")
    config, problems = load_config(project / "comms.toml")
    assert config, problems
    service = Service.open(config)
    with service.db.session() as session:
        import_contacts(session, read_audience(config.contact_files()).contacts, at(11, 1, 9))
    yield service
    service.db.dispose()


def send_due(service: Service, now: datetime) -> dict[str, int]:
    """Start what is due and deliver it through the outbox; edition key → messages delivered."""
    clock = FixedClock(now)
    delivered = {}
    for key in lifecycle.start_due(service, SURVEYS, clock):
        outcome = delivery.deliver_edition(service, key, OutboxTransport(service.outbox_dir, key), clock)
        delivered[key] = outcome.delivered_now
    return delivered


def recipients(service: Service, key: str) -> dict[str, str]:
    """first name → their personal survey link, from the delivered messages."""
    links = {}
    for path in (service.outbox_dir / key / "messages").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text = message.get_body(("plain",)).get_content()
        found = re.search(r"https://comms\.ipo\.example\.org/enquete/(\S+)", text)
        assert found, text
        links[message["To"].addresses[0].addr_spec.split("@")[0]] = found[1]
    return links


def answer(service: Service, token: str, form: dict[str, list[str]], now: datetime) -> bool:
    """As the form does: completion, then (anonymous) the pool in a transaction of its own."""
    from comms.operations import surveys

    outcome = surveys.answer(service, token, form, True, now)
    assert not isinstance(outcome, responses.TokenFailure), outcome
    assert not outcome.errors, outcome.errors
    return outcome.submitted


def start_approved(service: Service) -> str:
    """Start the round on 25 November and approve its invitation, as the team does."""
    started = SURVEYS.start_round(service, "2026-H2", at(11, 25, 10))
    lifecycle.approve(service, started.edition_key, "redacteur", at(11, 25, 11))
    return started.edition_key


def test_a_whole_round(service: Service) -> None:
    started = SURVEYS.start_round(service, "2026-H2", at(11, 25, 10))
    assert started.invited == 6 and started.needs_approval
    assert send_due(service, at(11, 25, 10)) == {}  # the round opens on 1 December
    with pytest.raises(ValidationFailed, match="started already"):
        SURVEYS.start_round(service, "2026-H2", at(11, 26, 10))
    assert send_due(service, at(12, 1, 9)) == {}  # open, but nobody approved the invitation yet

    lifecycle.approve(service, started.edition_key, "redacteur", at(12, 1, 9, 5))
    assert send_due(service, at(12, 1, 9, 5)) == {"enquete-2026-h2-uitnodiging": 6}
    links = recipients(service, "enquete-2026-h2-uitnodiging")
    assert len(set(links.values())) == 6  # a token of one's own
    for name, form in ANSWERS.items():
        assert answer(service, links[name], form, at(12, 3, 14))
    with service.db.session() as session:  # the link is good for one response
        again = responses.resolve(session, service.signer(), links["anna"], at(12, 3, 15))
    assert isinstance(again, responses.TokenFailure) and again.reason == responses.Failure.SUBMITTED

    # first_after_days = 7 after 1 December: due on the 8th, from its start (the 8.00 build).
    assert SURVEYS.build_due(service, at(12, 7, 23, 59)).created == []
    assert SURVEYS.build_due(service, at(12, 8, 8)).created == ["enquete-2026-h2-herinnering-1"]
    assert send_due(service, at(12, 8, 9)) == {"enquete-2026-h2-herinnering-1": 3}
    assert set(recipients(service, "enquete-2026-h2-herinnering-1")) == {"bert", "eva", "frits"}
    assert SURVEYS.build_due(service, at(12, 8, 10)).created == []  # never twice

    assert answer(service, links["eva"], {"bekendheid": ["3"], "besproken": ["Nooit"]}, at(12, 9, 11))
    with service.db.session() as session:
        bert = responses.resolve(session, service.signer(), links["bert"], at(12, 10, 9))
        assert isinstance(bert, responses.Respondent)
        assert responses.save_draft(session, bert, {"bekendheid": 1}, at(12, 10, 9))
        assert session.scalars(select(SurveyDraft)).all() != []
    assert SURVEYS.build_due(service, at(12, 12, 23, 59)).created == []  # at least five days between
    assert SURVEYS.build_due(service, at(12, 13, 8)).created == ["enquete-2026-h2-herinnering-2"]
    assert send_due(service, at(12, 13, 9)) == {"enquete-2026-h2-herinnering-2": 2}
    assert set(recipients(service, "enquete-2026-h2-herinnering-2")) == {"bert", "frits"}
    assert SURVEYS.build_due(service, at(12, 20, 9)).created == []  # at most two

    # Closing stops both: no answer is taken, and nothing more goes out.
    with service.db.session() as session:
        late = responses.resolve(session, service.signer(), links["bert"], at(12, 22, 17))
    assert isinstance(late, responses.TokenFailure) and late.reason == responses.Failure.CLOSED
    assert SURVEYS.build_due(service, at(12, 23, 9)).created == []
    with service.db.session() as session:  # bert saved a draft and never sent it: gone at closing
        assert session.scalars(select(SurveyDraft)).all() == []

    results = compute_results_for(service)
    assert (results.invited, results.responded) == (6, 4)
    scale = next(q for q in results.questions if q.question.id == "bekendheid")
    assert scale.mean == pytest.approx((4 + 2 + 5 + 3) / 4)


def compute_results_for(service: Service):  # type: ignore[no-untyped-def]
    with service.db.session() as session:
        return compute_results(session, "2026-H2")


def test_a_reminder_queued_before_closing_is_not_sent_after_it(service: Service) -> None:
    start_approved(service)
    send_due(service, at(12, 1, 9))
    SURVEYS.build_due(service, at(12, 8, 9))
    clock = FixedClock(at(12, 8, 9))
    (key,) = lifecycle.start_due(service, SURVEYS, clock)
    late = FixedClock(at(12, 22, 17, 30))  # the workers were down until after closing
    outcome = delivery.deliver_edition(service, key, OutboxTransport(service.outbox_dir, key), late)
    assert outcome.delivered_now == 0 and outcome.counts["suppressed"] == 6


def test_an_answer_given_after_the_reminder_was_queued_stops_that_reminder(service: Service) -> None:
    start_approved(service)
    send_due(service, at(12, 1, 9))
    links = recipients(service, "enquete-2026-h2-uitnodiging")
    SURVEYS.build_due(service, at(12, 8, 9))
    (key,) = lifecycle.start_due(service, SURVEYS, FixedClock(at(12, 8, 9)))  # snapshot: all six
    assert answer(service, links["anna"], ANSWERS["anna"], at(12, 8, 9, 1))
    outcome = delivery.deliver_edition(
        service, key, OutboxTransport(service.outbox_dir, key), FixedClock(at(12, 8, 9, 2))
    )
    assert outcome.delivered_now == 5 and "anna" not in recipients(service, key)


def test_no_stored_answer_links_to_an_invitee_in_an_anonymous_round(service: Service) -> None:
    start_approved(service)
    send_due(service, at(12, 1, 9))
    links = recipients(service, "enquete-2026-h2-uitnodiging")
    for name, form in ANSWERS.items():
        answer(service, links[name], form, at(12, 3, 14))
    SURVEYS.build_due(service, at(12, 23, 9))  # closed: the pool (3 < 2 × 5) is written
    with service.db.session() as session:
        contacts = session.scalars(select(Contact)).all()
        invitations = session.scalars(select(SurveyInvitation)).all()
        rows = session.scalars(select(SurveyResponse)).all()
        identifying = {str(c.id) for c in contacts} | {str(i.id) for i in invitations}
        identifying |= {c.public_id for c in contacts} | {c.email for c in contacts} | set(links.values())
        identifying |= {f"{at(12, 3, 14):%Y-%m-%d %H:%M}", at(12, 3, 14).isoformat()}
        assert len(rows) == 3
        for row in rows:
            assert row.invitation_id is None and row.submitted_at is None
            assert re.fullmatch(r"[0-9a-f]{32}", row.id)
            values = [str(getattr(row, column.key)) for column in SurveyResponse.__table__.columns]
            stored = " ".join(v for v in values if v != row.id)
            assert not [i for i in identifying if len(i) > 3 and i in stored]
            assert row.id not in identifying
        # completion is still tracked per invitee, without a time
        done = {i.contact_id for i in invitations if i.submitted}
        assert len(done) == 3 and all(i.submitted_at is None for i in invitations)
        edition = session.scalars(select(Edition).where(Edition.key == "enquete-2026-h2-uitnodiging")).one()
        assert edition.status == EditionStatus.SENT


def test_the_survey_schedule_sends_the_invitation_at_opening_and_reminders_on_their_days(
    service: Service, project: Path
) -> None:
    import time_machine

    from comms.clock import SystemClock
    from comms.serve import ScheduleRunner

    for other in (project / "schedules").glob("*.toml"):
        if other.name != "surveys.toml":
            other.unlink()
    start_approved(service)
    with time_machine.travel(at(11, 30, 12), tick=False) as traveller:
        runner = ScheduleRunner(service, SystemClock())
        runner.start()
        for moment in (at(12, 1, 8), at(12, 1, 9), at(12, 7, 8), at(12, 7, 9), at(12, 8, 8), at(12, 8, 9)):
            traveller.move_to(moment)
            runner.tick()
        runner.stop()
    with service.db.session() as session:
        keys = {e.key: (e.status, e.sending_at) for e in session.scalars(select(Edition))}
    assert keys["enquete-2026-h2-uitnodiging"] == (EditionStatus.SENDING, at(12, 1, 9))
    # first_after_days = 7 after 1 December: the 8th. Its 8.00 build makes it, its 9.00 send sends it
    # (counting 7 × 24 hours from the invitation's 9.00 used to push it to the 9th).
    assert keys["enquete-2026-h2-herinnering-1"] == (EditionStatus.SENDING, at(12, 8, 9))
    # The reminder follows from the approved invitation: nobody is asked to approve it.
    assert not [s for s in team_notices(service) if "herinnering" in s]


def team_notices(service: Service) -> list[str]:
    folder = service.outbox_dir / "meldingen" / "messages"
    messages = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in folder.glob("*.eml")
    ]
    return sorted(str(m["Subject"]) for m in messages)


def test_starting_a_round_asks_the_team_to_approve_its_invitation(service: Service) -> None:
    from comms.operations import surveys

    started = surveys.start(service, "2026-H2", FixedClock(at(11, 25, 10)))
    assert started.start.needs_approval and not started.sent_now
    assert team_notices(service) == ["Ter goedkeuring: enquete-2026-h2-uitnodiging"]
    [path] = (service.outbox_dir / "meldingen" / "messages").glob("*.eml")
    text = email.message_from_bytes(path.read_bytes(), policy=email.policy.default).get_body(("plain",))
    assert text is not None
    assert "Ontvangers: 6. Geplande verzending: dinsdag 1 december 2026 om 9.00 uur." in text.get_content()
    with service.db.session() as session:
        edition = session.scalars(select(Edition).where(Edition.key == started.edition_key)).one()
        assert (edition.status, edition.built_by, edition.approved_by) == (EditionStatus.DRAFT, None, None)


@pytest.mark.parametrize(("by", "actor"), [(["--by", "els"], "els"), ([], "schema:survey")])
def test_survey_remind_by_hand_names_who_ran_it(service: Service, by: list[str], actor: str) -> None:
    from click.testing import CliRunner

    from comms.cli import main
    from comms.operations import audit

    start_approved(service)
    send_due(service, at(12, 1, 9))
    with time_machine.travel(at(12, 8, 9), tick=False):
        result = CliRunner().invoke(main, ["--config", str(service.config.path), "survey", "remind", *by])

    assert result.exit_code == 0, result.output
    logged = {(e.action, e.actor) for e in audit.recent(service, "enquete-2026-h2-herinnering-1")}
    assert ("send-start", actor) in logged
    if by:
        assert ("build", "els") in logged
