"""Agenda notices and the digest end to end, with fixed dates: per-province send times across
summer time and a holiday week, the urgent path, updates, cancellations, never twice per
version; the .ics attachment; a digest body without anything personal."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import httpx
import icalendar
import pytest
from sqlalchemy import select

from comms.audience.contacts import read_audience
from comms.audience.sync import import_contacts
from comms.clock import FixedClock
from comms.collect.meeting_ledger import record_meetings
from comms.collect.meetings.model import AgendaItem, Document, Meeting, MeetingStatus
from comms.compose.agenda import notices_of
from comms.config import load_config
from comms.dates import AMSTERDAM
from comms.deliver.outbox import OutboxTransport
from comms.editions import delivery, lifecycle
from comms.kinds import Approval
from comms.kinds.agenda_notice import KIND as NOTICES
from comms.operations.agenda import build_digest, plan_report
from comms.operations.sources import CollectOutcome
from comms.operations.sources import collect as collect_sources
from comms.service import Service
from comms.store.editions import find_edition
from comms.store.models import Edition, EditionStatus
from comms.web.app import create_app
from tests.fakes.sendgrid import FakeSendGrid
from tests.web.support import serve

CALENDAR = """
[default]
weekday = "dinsdag"
time = "10:00"
agenda_closes_days_before = 7
agenda_closes_at = "12:00"

[provinces.Groningen]
[provinces."Fryslân"]
[provinces.Drenthe]
[provinces.Overijssel]
[provinces.Flevoland]
[provinces.Gelderland]
[provinces.Utrecht]
skip = [{ date = 2027-03-30, reason = "Paasweek" }]
[provinces.Noord-Holland]
[provinces.Zuid-Holland]
[provinces.Zeeland]
weekday = "maandag"
time = "14:00"
[provinces.Noord-Brabant]
[provinces.Limburg]
"""
CONTACTS = """e-mailadres;voornaam;tussenvoegsel;achternaam;provincie;rollen;partij;thema's;organen
gerda.gs@utrecht.example.org;Gerda;;Gans;Utrecht;gedeputeerde;;;BAC Landelijk Gebied (lid)
gijs.gs@utrecht.example.org;Gijs;;Gort;Utrecht;gedeputeerde;;;
sara.sv@utrecht.example.org;Sara;;Smit;Utrecht;statenlid;;;BAC Landelijk Gebied (plaatsvervanger)
stijn.ps@utrecht.example.org;Stijn;;Staal;Utrecht;statenlid;;;
karel.kps@utrecht.example.org;Karel;;Kas;Utrecht;kps;;;
greet.griffie@utrecht.example.org;Greet;;Graaf;Utrecht;griffie;;;
gea.gs@groningen.example.org;Gea;;Geel;Groningen;gedeputeerde;;;BAC Landelijk Gebied (lid)
koos.kps@groningen.example.org;Koos;;Kok;Groningen;kps;;;
gert.griffie@groningen.example.org;Gert;;Glas;Groningen;griffier;;;
zeno.gs@zeeland.example.org;Zeno;;Zand;Zeeland;gedeputeerde;;;IPO-bestuur (lid)
"""
UID = "bac-lg-2027-04-01@ipo.example.org"

# As schedules/agenda-notices.toml says: notices need no approval (timeliness first).
AS_SCHEDULED = Approval(required=False, by="schema:agenda-notices")


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM).astimezone(UTC)


def meeting(
    status: MeetingStatus = MeetingStatus.PLANNED,
    extra_item: bool = False,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> Meeting:
    items = [
        AgendaItem("1", "Opening en mededelingen", "", ()),
        AgendaItem(
            "2",
            "Voortgang stikstofaanpak",
            "Stand van zaken gebiedsprogramma's.",
            (Document("Notitie voortgang", "https://www.ipo.example.org/stukken/bac-lg/2.pdf"),),
        ),
    ]
    if extra_item:
        items.append(AgendaItem("3", "Natuurherstel Veluwe", "Ter bespreking.", ()))
    return Meeting(
        uid=UID,
        body="bac-landelijk-gebied",
        title="BAC Landelijk Gebied",
        starts_at=starts_at or at(2027, 4, 1, 10),
        ends_at=ends_at or at(2027, 4, 1, 12, 30),
        location="Huis van de Provincie, Den Haag",
        status=status,
        items=tuple(items),
        url="https://www.ipo.example.org/vergaderingen/bac-lg-2027-04-01",
        source="ipo-agenda-bac",
    )


@pytest.fixture
def service(project: Path) -> Iterator[Service]:
    (project / "audiences" / "gs-calendar.toml").write_text(CALENDAR, encoding="utf-8")
    contacts = project / "audiences" / "contacts"
    for path in contacts.glob("*.csv"):
        path.unlink()
    (contacts / "test.csv").write_text(CONTACTS, encoding="utf-8")
    config, problems = load_config(project / "comms.toml")
    assert config, problems
    service = Service.open(config)
    audience = read_audience(config.contact_files())
    assert not [p for p in audience.problems if p.is_error], audience.problems
    with service.db.session() as session:
        import_contacts(session, audience.contacts, at(2027, 2, 1, 9))
    yield service
    service.db.dispose()


def publish(service: Service, now: datetime, published: Meeting) -> None:
    with service.db.session() as session:
        record_meetings(session, [published], now)


def notices(service: Service) -> dict[str, Edition]:
    """Province name → its newest notice edition of the test's meeting."""
    found: dict[str, Edition] = {}
    with service.db.session() as session:
        for edition in session.scalars(
            select(Edition).where(Edition.kind == "agenda-notice").order_by(Edition.id)
        ):
            summary = json.loads(edition.summary)
            if Meeting.from_json(summary["meeting"]).uid == UID:
                found[summary["province"]] = edition
    return found


def flat(text: str | None) -> str:
    """The text part's words with single spaces: phrases are found across wrapped lines."""
    return " ".join((text or "").split())


def local_text(moment: datetime | None) -> str:
    assert moment is not None
    return f"{moment.astimezone(AMSTERDAM):%Y-%m-%d %H:%M %Z}"


def deliver_due(service: Service, now: datetime) -> list[str]:
    clock = FixedClock(now)
    started = lifecycle.start_due(service, NOTICES, clock)
    for key in started:
        delivery.deliver_edition(service, key, OutboxTransport(service.outbox_dir, key), clock)
    return started


def messages(service: Service, key: str) -> dict[str, EmailMessage]:
    folder = service.outbox_dir / key / "messages"
    parsed = {}
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        parsed[str(message["To"].addresses[0].addr_spec)] = message
    return parsed


def ics_of(message: EmailMessage) -> icalendar.Calendar:
    parts = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    return icalendar.Calendar.from_ical(parts[0].get_payload(decode=True))


@pytest.mark.parametrize(
    ("province", "send_at", "gs_meeting"),
    [
        # The IPO meeting is on Thursday 1 April 2027, after the clocks went forward on 28 March.
        # Tuesday GS: the meeting of 30 March (summer time) closes its agenda on 23 March 12.00
        # (winter time); two working days before that, 9.00.
        ("Groningen", "2027-03-19 09:00 CET", "2027-03-30 10:00 CEST"),
        # Utrecht skips 30 March (Paasweek): the GS meeting before it counts.
        ("Utrecht", "2027-03-12 09:00 CET", "2027-03-23 10:00 CET"),
        # Zeeland meets on Monday 14.00: 29 March, agenda closes Monday 22 March 12.00.
        ("Zeeland", "2027-03-18 09:00 CET", "2027-03-29 14:00 CEST"),
    ],
)
def test_each_province_gets_the_notice_before_its_gs_agenda_closes(
    service: Service, province: str, send_at: str, gs_meeting: str
) -> None:
    now = at(2027, 3, 1, 9)
    publish(service, now, meeting())
    built = NOTICES.build_due(service, now, approval=AS_SCHEDULED)
    assert len(built.notices) == 12 and not built.problems
    notice = notices(service)[province]
    assert local_text(notice.send_at) == send_at
    assert notice.status == EditionStatus.APPROVED and not notice.subject.startswith("Spoed")
    planned = next(n for n in built.notices if n.province == province)
    assert planned.plan is not None and local_text(planned.plan.gs_meeting.at) == gs_meeting


def test_an_agenda_published_too_late_goes_out_at_once_marked_urgent(service: Service) -> None:
    now = at(2027, 3, 26, 10)  # Groningen's agenda for 30 March closed on 23 March
    publish(service, now, meeting())
    NOTICES.build_due(service, now, approval=AS_SCHEDULED)
    groningen = notices(service)["Groningen"]
    assert groningen.send_at == now
    assert groningen.subject.startswith("Spoed: Agenda BAC Landelijk Gebied")
    assert "te laat gepubliceerd voor de GS-vergadering van dinsdag 30 maart 2027" in flat(groningen.text)
    assert deliver_due(service, now)  # started at once
    assert set(messages(service, groningen.key)) == {
        "gea.gs@groningen.example.org",
        "koos.kps@groningen.example.org",
    }


def test_a_notice_reaches_gs_the_body_members_and_the_kps_in_copy_only(service: Service) -> None:
    publish(service, at(2027, 3, 1, 9), meeting())
    NOTICES.build_due(service, at(2027, 3, 1, 9), approval=AS_SCHEDULED)
    started = deliver_due(service, at(2027, 3, 12, 9))
    utrecht = notices(service)["Utrecht"]
    assert utrecht.key in started
    received = messages(service, utrecht.key)
    assert set(received) == {
        "gerda.gs@utrecht.example.org",  # gedeputeerde and BAC member
        "gijs.gs@utrecht.example.org",  # gedeputeerde
        "sara.sv@utrecht.example.org",  # the substitute in this BAC
        "karel.kps@utrecht.example.org",  # in copy
    }
    in_copy = "in kopie als provinciesecretaris"
    for address, message in received.items():
        text = message.get_body(("plain",)).get_content()
        assert (in_copy in text) == (address == "karel.kps@utrecht.example.org")
        assert (
            "Voortgang stikstofaanpak" in text and "https://www.ipo.example.org/stukken/bac-lg/2.pdf" in text
        )


def test_the_ics_attachment_imports_with_the_amsterdam_zone(service: Service) -> None:
    publish(service, at(2027, 3, 1, 9), meeting())
    NOTICES.build_due(service, at(2027, 3, 1, 9), approval=AS_SCHEDULED)
    deliver_due(service, at(2027, 3, 12, 9))
    message = next(iter(messages(service, notices(service)["Utrecht"].key).values()))
    calendar = ics_of(message)
    event = next(iter(calendar.walk("VEVENT")))
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert event["DTSTART"].params["TZID"] == "Europe/Amsterdam"
    assert event.decoded("DTSTART") == at(2027, 4, 1, 10)  # 10.00 summer time
    assert str(event["UID"]).startswith("bac-lg-2027-04-01")
    assert int(event["SEQUENCE"]) == 0


def test_updates_cancellations_and_never_twice_per_version(service: Service) -> None:
    publish(service, at(2027, 3, 1, 9), meeting())
    NOTICES.build_due(service, at(2027, 3, 1, 9), approval=AS_SCHEDULED)
    assert (
        NOTICES.build_due(service, at(2027, 3, 1, 10), approval=AS_SCHEDULED).created == []
    )  # once per version
    deliver_due(service, at(2027, 3, 15, 9))  # Utrecht's (12 March) went out; Groningen's not yet
    assert deliver_due(service, at(2027, 3, 15, 9, 30)) == []  # nothing starts twice

    publish(service, at(2027, 3, 16, 9), meeting(extra_item=True))
    changed = NOTICES.build_due(service, at(2027, 3, 16, 9), approval=AS_SCHEDULED)
    kinds = {n.province: n.kind for n in changed.notices}
    assert kinds["Utrecht"] == "update"  # had the agenda: told what changed
    assert kinds["Groningen"] == "notice"  # had nothing yet: the new version replaces the old
    update = notices(service)["Utrecht"]
    assert "Agendapunt 3 toegevoegd: Natuurherstel Veluwe" in flat(update.text)
    assert update.send_at == at(2027, 3, 16, 9)
    with service.db.session() as session:
        old = find_edition(session, changed.superseded[0])
        assert old.status == EditionStatus.CANCELLED
    assert NOTICES.build_due(service, at(2027, 3, 16, 10), approval=AS_SCHEDULED).created == []

    deliver_due(service, at(2027, 3, 16, 9))  # the update goes out at once; the others wait
    publish(service, at(2027, 3, 17, 9), meeting(status=MeetingStatus.CANCELLED, extra_item=True))
    cancelled = NOTICES.build_due(service, at(2027, 3, 17, 9), approval=AS_SCHEDULED)
    # Only Utrecht heard of the meeting: it is told; the others' planned notices are dropped.
    assert [(n.province, n.kind) for n in cancelled.notices] == [("Utrecht", "cancellation")]
    assert len(cancelled.superseded) == 11
    deliver_due(service, at(2027, 3, 17, 9))
    assert deliver_due(service, at(2027, 3, 30, 9)) == []  # nothing else goes out, ever
    utrecht = notices(service)["Utrecht"]
    assert utrecht.subject.startswith("Geannuleerd: BAC Landelijk Gebied")
    calendar = ics_of(next(iter(messages(service, utrecht.key).values())))
    assert str(calendar["METHOD"]) == "CANCEL"
    event = next(iter(calendar.walk("VEVENT")))
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 2
    assert str(event["UID"]).startswith("bac-lg-2027-04-01")


MOVED = {"starts_at": at(2027, 4, 8, 14), "ends_at": at(2027, 4, 8, 16)}


@pytest.fixture
def moved(service: Service) -> dict[str, object]:
    """BAC LG of Thu 1 April 10.00 is planned for all; Utrecht's notice went out on 12 March.
    On 16 March the feed moves it (same uid) to Thu 8 April 14.00. Province → the plan."""
    publish(service, at(2027, 3, 1, 9), meeting())
    NOTICES.build_due(service, at(2027, 3, 1, 9), approval=AS_SCHEDULED)
    assert deliver_due(service, at(2027, 3, 15, 9)) == [notices(service)["Utrecht"].key]
    before = {province: edition for province, edition in notices(service).items()}
    publish(service, at(2027, 3, 16, 9), meeting(**MOVED))  # type: ignore[arg-type]
    built = NOTICES.build_due(service, at(2027, 3, 16, 9), approval=AS_SCHEDULED)
    return {"before": before, "built": built}


@pytest.mark.parametrize(
    ("province", "kind", "old_status", "old_send", "new_send"),
    [
        # Had the notice: told at once that it moved.
        ("Utrecht", "moved", EditionStatus.SENT, "2027-03-12 09:00 CET", "2027-03-16 09:00 CET"),
        # Had nothing yet: the old-date notice is cancelled; the normal one is planned for the
        # GS meeting before 8 April (Tue 6 April, agenda closes Tue 30 March; Tweede Paasdag
        # on the 29th is no working day).
        ("Gelderland", "notice", EditionStatus.CANCELLED, "2027-03-19 09:00 CET", "2027-03-25 09:00 CET"),
        ("Groningen", "notice", EditionStatus.CANCELLED, "2027-03-19 09:00 CET", "2027-03-25 09:00 CET"),
        # Monday GS of 5 April: its agenda closes on Tweede Paasdag, 29 March.
        ("Zeeland", "notice", EditionStatus.CANCELLED, "2027-03-18 09:00 CET", "2027-03-25 09:00 CET"),
    ],
)
def test_a_moved_meeting_keeps_its_identity(
    service: Service,
    moved: dict[str, object],
    province: str,
    kind: str,
    old_status: EditionStatus,
    old_send: str,
    new_send: str,
) -> None:
    before = moved["before"]
    assert isinstance(before, dict)
    old, new = before[province], notices(service)[province]
    with service.db.session() as session:
        assert find_edition(session, old.key).status == old_status
    assert local_text(old.send_at) == old_send
    assert (json.loads(new.summary)["notice"], local_text(new.send_at)) == (kind, new_send)
    assert new.key.startswith("agenda-bac-landelijk-gebied-20270408-") and new.key.endswith("-v2")
    assert old.key.startswith("agenda-bac-landelijk-gebied-20270401-") and old.key.endswith("-v1")


def test_the_province_that_had_the_notice_is_told_it_moved_and_its_calendar_follows(
    service: Service, moved: dict[str, object]
) -> None:
    utrecht = notices(service)["Utrecht"]
    assert utrecht.subject == "Verplaatst: BAC Landelijk Gebied, donderdag 8 april 2027 – voor GS Utrecht"
    assert deliver_due(service, at(2027, 3, 16, 9)) == [utrecht.key]  # at once, the others wait
    received = messages(service, utrecht.key)
    text = flat(received["gerda.gs@utrecht.example.org"].get_body(("plain",)).get_content())
    assert (
        "De vergadering van de BAC Landelijk Gebied is verplaatst van donderdag 1 april 2027 10.00 uur "
        "naar donderdag 8 april 2027 14.00 uur." in text
    )
    assert "Aanvang gewijzigd" not in text and "Einde gewijzigd: van 12.30 uur naar 16.00 uur" in text
    first = next(iter(messages(service, moved_before(moved, "Utrecht")).values()))
    old_event = next(iter(ics_of(first).walk("VEVENT")))
    calendar = ics_of(received["gerda.gs@utrecht.example.org"])
    event = next(iter(calendar.walk("VEVENT")))
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(event["UID"]) == str(old_event["UID"])
    assert (int(old_event["SEQUENCE"]), int(event["SEQUENCE"])) == (0, 1)
    assert event.decoded("DTSTART") == at(2027, 4, 8, 14)


def test_a_notice_for_the_old_date_never_goes_out(service: Service, moved: dict[str, object]) -> None:
    deliver_due(service, at(2027, 3, 16, 9))
    for day in (18, 19, 22, 23, 24):  # the old plan's days pass without a send
        assert deliver_due(service, at(2027, 3, day, 9)) == []
    started = deliver_due(service, at(2027, 3, 25, 9))
    assert len(started) == 11 and all("-20270408-" in key for key in started)
    built = moved["built"]
    assert len(built.superseded) == 11 and len(built.notices) == 12  # type: ignore[attr-defined]


def test_a_new_hour_on_the_same_day_is_an_update_not_a_move(service: Service) -> None:
    publish(service, at(2027, 3, 1, 9), meeting())
    NOTICES.build_due(service, at(2027, 3, 1, 9), approval=AS_SCHEDULED)
    deliver_due(service, at(2027, 3, 12, 9))
    publish(service, at(2027, 3, 16, 9), meeting(starts_at=at(2027, 4, 1, 11)))
    changed = NOTICES.build_due(service, at(2027, 3, 16, 9), approval=AS_SCHEDULED)
    utrecht = next(n for n in changed.notices if n.province == "Utrecht")
    assert utrecht.kind == "update"
    assert (
        "Aanvang gewijzigd: van donderdag 1 april 2027 10.00 uur naar donderdag 1 april 2027 11.00 uur"
        in flat(notices(service)["Utrecht"].text)
    )


def test_earlier_notices_are_found_by_uid_even_when_another_meeting_shares_the_key_hash(
    service: Service,
) -> None:
    publish(service, at(2027, 3, 1, 9), meeting())
    NOTICES.build_due(service, at(2027, 3, 1, 9), approval=AS_SCHEDULED)
    real = notices(service)["Utrecht"]
    other = dataclasses.replace(meeting(), uid="another-meeting@ipo.example.org", body="av")
    twin_key = real.key.replace("bac-landelijk-gebied-20270401", "av-20270415")  # same 6-digit hash
    with service.db.session() as session:
        summary = json.loads(real.summary) | {"meeting": other.to_json()}
        session.add(
            Edition(
                key=twin_key,
                kind="agenda-notice",
                subject="twin",
                audience=real.audience,
                status=EditionStatus.SENT,
                built_at=at(2027, 3, 1, 9),
                summary=json.dumps(summary),
            )
        )
    with service.db.session() as session:
        # The twin's key matches the pattern (same hash, same province); its summary rules it out.
        assert [e.key for e in notices_of(session, "agenda-notice", UID, "Utrecht")] == [real.key]
        assert twin_key not in {e.key for e in notices_of(session, "agenda-notice", UID)}
        assert len(notices_of(session, "agenda-notice", UID)) == 12  # every province's notice


def moved_before(moved: dict[str, object], province: str) -> str:
    before = moved["before"]
    assert isinstance(before, dict)
    return str(before[province].key)


GONE = "bac-wb-2027-03-31@ipo.example.org"  # BAC Wonen & Bereikbaarheid, Wed 31 March 2027
ITEM = re.compile(r"\s*<item>(?:(?!</item>).)*?" + re.escape(GONE) + r".*?</item>", re.DOTALL)


def team_mails(service: Service) -> list[EmailMessage]:
    found = []
    for path in sorted((service.outbox_dir / "meldingen" / "messages").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        found.append(message)
    return found


def notices_of_gone(service: Service) -> dict[str, Edition]:
    found: dict[str, Edition] = {}
    with service.db.session() as session:
        for edition in session.scalars(select(Edition).where(Edition.kind == "agenda-notice")):
            summary = json.loads(edition.summary)
            if Meeting.from_json(summary["meeting"]).uid == GONE:
                found[summary["province"]] = edition
    return found


@pytest.fixture
def from_the_feed(service: Service, project: Path) -> Path:
    """The sample agenda feeds collected on 1 March 2027 and the notices built; Utrecht's went
    out on 12 March. Returns the BAC feed, which the test then changes."""
    collect(service, at(2027, 3, 1, 9))
    NOTICES.build_due(service, at(2027, 3, 1, 9), approval=AS_SCHEDULED)
    deliver_due(service, at(2027, 3, 12, 9))
    assert notices_of_gone(service)["Utrecht"].status == EditionStatus.SENT
    return project / "sample" / "agenda" / "bac.xml"


def collect(service: Service, now: datetime) -> CollectOutcome:
    return collect_sources(service, now, FixedClock(now))


@pytest.mark.parametrize(
    ("change", "gone", "warning"),
    [
        pytest.param(lambda text: ITEM.sub("", text, count=1), True, "no longer in its feed", id="deleted"),
        pytest.param(lambda text: text[: len(text) // 2], False, None, id="a truncated feed fails to parse"),
        pytest.param(None, False, None, id="the feed cannot be fetched"),
        pytest.param(
            lambda text: re.sub(r"\s*<item>.*</item>", "", text, flags=re.DOTALL),
            False,
            "the feed lists no meetings at all",
            id="an empty feed is a fault, not every meeting deleted",
        ),
    ],
)
def test_a_meeting_gone_from_its_feed_is_reported_and_nothing_is_cancelled_or_sent(
    service: Service,
    from_the_feed: Path,
    change: Callable[[str], str] | None,
    gone: bool,
    warning: str | None,
) -> None:
    before = {province: edition.status for province, edition in notices_of_gone(service).items()}
    if change is None:
        from_the_feed.unlink()
    else:
        from_the_feed.write_text(change(from_the_feed.read_text(encoding="utf-8")), encoding="utf-8")
    outcome = collect(service, at(2027, 3, 15, 9))

    assert [m.uid for m in outcome.missing.gone] == ([GONE] if gone else [])
    warnings = [str(p) for p in outcome.problems if p.where == "agenda-bac" and not p.is_error]
    assert any(warning in w for w in warnings) if warning else not any("feed" in w for w in warnings)
    after = {province: edition.status for province, edition in notices_of_gone(service).items()}
    assert EditionStatus.CANCELLED not in after.values()
    assert after["Utrecht"] == EditionStatus.SENT
    others = {status for province, status in after.items() if province != "Utrecht"}
    assert others == ({EditionStatus.HELD} if gone else {EditionStatus.APPROVED})
    assert before["Groningen"] == EditionStatus.APPROVED
    mails = team_mails(service)
    assert len(mails) == (1 if gone else 0)
    started = deliver_due(service, at(2027, 3, 19, 9))  # Groningen's planned time
    assert (notices_of_gone(service)["Groningen"].key in started) is not gone
    if gone:
        [mail] = mails
        assert (
            mail["Subject"]
            == "Niet meer in de agendafeed: BAC Wonen & Bereikbaarheid, woensdag 31 maart 2027"
        )
        assert mail["To"].addresses[0].addr_spec == "redactie@ipo.example.org"
        text = flat(mail.get_body(("plain",)).get_content())
        assert (
            "Vergadering BAC Wonen & Bereikbaarheid van woensdag 31 maart 2027 om 10.00 uur staat sinds "
            "maandag 15 maart 2027 om 9.00 uur niet meer in de agendafeed (agenda-bac)." in text
        )
        assert "Het agendabericht is al verstuurd aan GS van Utrecht." in text
        assert "11 geplande agendaberichten zijn aangehouden" in text
        assert "Er is niets geannuleerd en niets verstuurd." in text
        report = plan_report(service, at(2027, 3, 15, 10))
        assert any("no longer in its feed (agenda-bac)" in line for line in report.missing)
        assert collect(service, at(2027, 3, 15, 10)).missing.gone == []  # told once
        assert len(team_mails(service)) == 1


def test_a_meeting_back_in_its_feed_goes_out_as_planned(service: Service, from_the_feed: Path) -> None:
    text = from_the_feed.read_text(encoding="utf-8")
    from_the_feed.write_text(ITEM.sub("", text, count=1), encoding="utf-8")
    collect(service, at(2027, 3, 15, 9))
    from_the_feed.write_text(text, encoding="utf-8")
    outcome = collect(service, at(2027, 3, 16, 9))
    assert [m.uid for m in outcome.missing.back] == [GONE]
    statuses = {p: e.status for p, e in notices_of_gone(service).items()}
    assert statuses["Utrecht"] == EditionStatus.SENT
    assert {s for p, s in statuses.items() if p != "Utrecht"} == {EditionStatus.APPROVED}
    mail = team_mails(service)[-1]
    assert mail["Subject"] == "Weer in de agendafeed: BAC Wonen & Bereikbaarheid, woensdag 31 maart 2027"
    assert "; 11 geplande agendaberichten gaan weer volgens plan uit." in flat(
        mail.get_body(("plain",)).get_content()
    )
    assert notices_of_gone(service)["Groningen"].key in deliver_due(service, at(2027, 3, 19, 9))


def test_the_digest_body_is_the_same_bytes_for_every_griffie(service: Service) -> None:
    publish(service, at(2027, 3, 24, 9), meeting())
    digest = build_digest(service, at(2027, 3, 26, 12))
    assert digest.contents == "1 meeting(s)" and digest.audience_size == 2
    lifecycle.approve(service, digest.key, "redactie", at(2027, 3, 26, 12))
    clock = FixedClock(at(2027, 3, 29, 9))
    delivery.send(service, digest.key, OutboxTransport(service.outbox_dir, digest.key), clock)
    files = sorted((service.outbox_dir / digest.key / "messages").glob("*.eml"))
    assert len(files) == 2
    heads, bodies = zip(*(f.read_bytes().split(b"\r\n\r\n", 1) for f in files), strict=True)
    assert bodies[0] == bodies[1]
    assert heads[0] != heads[1] and all(b"List-Unsubscribe: <https://" in h for h in heads)
    text = bodies[0].decode("ascii")
    assert "/afmelden/" not in text and "voorkeuren/" not in re.sub(r"voorkeuren\b(?!/)", "", text)
    assert (
        "Voortgang stikstofaanpak"
        in email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
        .get_body(("plain",))
        .get_content()
    )


@pytest.mark.parametrize(
    ("address", "mailed"), [("greet.griffie@utrecht.example.org", True), ("nobody@example.org", False)]
)
def test_the_general_preference_link_asks_for_the_address_and_mails_a_personal_link(
    service: Service, address: str, mailed: bool
) -> None:
    app = create_app(service, FixedClock(at(2027, 3, 1, 9)))
    with serve(app) as base, httpx.Client(base_url=base) as client:
        form = client.get("/voorkeuren")
        answer = client.post("/voorkeuren", data={"email": address})
    assert form.status_code == 200 and 'name="email"' in form.text
    assert answer.status_code == 200 and "Als dit adres in onze verzendlijsten staat" in answer.text
    sent = list((service.outbox_dir / "meldingen" / "messages").glob("*.eml"))
    assert len(sent) == (1 if mailed else 0)
    if mailed:
        message = email.message_from_bytes(sent[0].read_bytes(), policy=email.policy.default)
        assert message["To"].addresses[0].addr_spec == address
        assert "https://comms.ipo.example.org/voorkeuren/" in message.get_body(("plain",)).get_content()


def test_the_agenda_schedule_builds_notices_and_starts_them_at_their_time(
    service: Service, project: Path
) -> None:
    import time_machine

    from comms.clock import SystemClock
    from comms.serve import ScheduleRunner

    for other in (project / "schedules").glob("*.toml"):
        if other.name != "agenda-notices.toml":
            other.unlink()
    publish(service, at(2027, 3, 1, 9), meeting())
    with time_machine.travel(at(2027, 3, 12, 8, 30), tick=False) as traveller:
        runner = ScheduleRunner(service, SystemClock())
        runner.start()
        for moment in (at(2027, 3, 12, 8, 35), at(2027, 3, 12, 9, 0)):
            traveller.move_to(moment)
            runner.tick()
        runner.stop()
    states = {province: e.status for province, e in notices(service).items()}
    assert states["Utrecht"] == EditionStatus.SENDING  # its planned time, 12 March 9.00, has come
    assert states["Groningen"] == EditionStatus.APPROVED  # waits for 19 March
    assert len(states) == 12


def test_a_province_missing_from_the_gs_calendar_is_reported_and_the_others_still_go(
    service: Service, project: Path
) -> None:
    calendar = project / "audiences" / "gs-calendar.toml"
    calendar.write_text(CALENDAR.replace("[provinces.Limburg]\n", ""), encoding="utf-8")
    now = at(2027, 3, 1, 9)
    publish(service, now, meeting())
    built = NOTICES.build_due(service, now, approval=AS_SCHEDULED)
    assert sorted(n.province for n in built.notices) == sorted(
        p for p in notices_provinces() if p != "Limburg"
    )
    limburg = [p for p in built.problems if p.subject == "Limburg" and p.is_error]
    assert any("province Limburg is missing" in p.reason for p in limburg)  # the file's problem
    meeting_problem = next(p for p in limburg if "BAC Landelijk Gebied" in p.reason)  # and the notice's
    assert "donderdag 1 april 2027" in meeting_problem.reason
    assert meeting_problem.where.endswith("gs-calendar.toml")


def notices_provinces() -> list[str]:
    from comms.domain import PROVINCES

    return [p.name for p in PROVINCES]


def test_through_sendgrid_a_notice_carries_its_ics_and_a_digest_is_never_tracked(
    service: Service, sendgrid_server: FakeSendGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import dataclasses

    from comms.deliver.transports import make_transport

    monkeypatch.setenv("COMMS_SENDGRID_API_KEY", sendgrid_server.api_key)
    config = service.config
    config = dataclasses.replace(
        config,
        delivery=dataclasses.replace(config.delivery, transport="sendgrid"),
        sendgrid=dataclasses.replace(
            config.sendgrid,
            api_host=sendgrid_server.url,
            track_opens=True,  # the team chose tracking for mailings in general …
            track_clicks=True,
            asm_groups={"agenda-notice": 71, "agenda-digest": 72},
        ),
    )
    sendgrid = Service(config, service.db)
    publish(sendgrid, at(2027, 3, 1, 9), meeting())
    NOTICES.build_due(sendgrid, at(2027, 3, 1, 9), approval=AS_SCHEDULED)
    clock = FixedClock(at(2027, 3, 12, 9))
    utrecht = notices(sendgrid)["Utrecht"].key
    (key,) = [k for k in lifecycle.start_due(sendgrid, NOTICES, clock) if k == utrecht]
    delivery.deliver_edition(sendgrid, key, make_transport(config, key, clock), clock)
    digest = build_digest(sendgrid, at(2027, 3, 26, 12))
    lifecycle.approve(sendgrid, digest.key, "redactie", clock.now())
    delivery.send(sendgrid, digest.key, make_transport(config, digest.key, clock), clock)

    *notice_bodies, digest_body = (r.body for r in sendgrid_server.requests)  # each valid per the spec
    notice_body = notice_bodies[0]
    (attachment,) = notice_body["attachments"]
    assert attachment["filename"] == "vergadering.ics" and attachment["type"] == "text/calendar"
    calendar = icalendar.Calendar.from_ical(base64.b64decode(attachment["content"]))
    assert next(iter(calendar.walk("VEVENT")))["DTSTART"].params["TZID"] == "Europe/Amsterdam"
    assert notice_body["asm"] == {"group_id": 71}
    tracking = digest_body["tracking_settings"]  # … but not for a body meant to be forwarded
    assert tracking["click_tracking"]["enable"] is False and tracking["open_tracking"]["enable"] is False
    assert tracking["subscription_tracking"]["enable"] is False and "asm" not in digest_body
    contents = {c["type"]: c["value"] for c in digest_body["content"]}
    assert "@@" not in contents["text/html"] and "/afmelden/" not in contents["text/html"]
