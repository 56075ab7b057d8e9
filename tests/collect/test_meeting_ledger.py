"""The meeting ledger on SQLite and PostgreSQL: versions, what changed, and collect_all's part."""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from comms.collect.meeting_ledger import (
    MeetingChange,
    known_meetings,
    load_meeting,
    note_missing,
    record_meetings,
    upcoming_meetings,
)
from comms.collect.meetings.model import AgendaItem, Document, Meeting, MeetingStatus
from comms.collect.run import collect_all
from comms.config import load_config
from comms.dates import AMSTERDAM
from comms.store.database import Database
from comms.store.models import MeetingRecord

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=AMSTERDAM)
LATER = NOW + timedelta(hours=6)
SAMPLE = Path(__file__).resolve().parents[2] / "sample" / "agenda"
DOCS = "https://www.ipo.example.org/stukken"

MEETING = Meeting(
    uid="bac-lg-2026-12-10@ipo.example.org",
    body="bac-landelijk-gebied",
    title="Vergadering BAC Landelijk Gebied",
    starts_at=datetime(2026, 12, 10, 9, tzinfo=UTC),
    ends_at=datetime(2026, 12, 10, 11, 30, tzinfo=UTC),
    location="Huis van de Provincies, Den Haag",
    status=MeetingStatus.PLANNED,
    items=(
        AgendaItem("1", "Opening en vaststellen agenda", "", ()),
        AgendaItem("2", "Stikstof", "Gezamenlijke lijn.", (Document("Notitie", f"{DOCS}/notitie.pdf"),)),
        AgendaItem("3", "Rondvraag en sluiting", "", ()),
    ),
    url="https://www.ipo.example.org/vergaderingen/bac-lg/2026-12-10",
    source="agenda-bac",
)
AV = dataclasses.replace(
    MEETING,
    uid="av-2026-12-16@ipo.example.org",
    body="av",
    title="Algemene Vergadering",
    starts_at=datetime(2026, 12, 16, 9, tzinfo=UTC),
    source="agenda-av",
)
WATER = AgendaItem("4", "Water en bodem sturend", "", ())


def record(db: Database, meetings: list[Meeting], now: datetime = NOW) -> list[MeetingChange]:
    with db.session() as session:
        return record_meetings(session, meetings, now)


def stored(db: Database, uid: str = MEETING.uid) -> MeetingRecord:
    with db.session() as session:
        found = session.query(MeetingRecord).filter_by(uid=uid).one()
        session.expunge(found)
        return found


def test_a_new_meeting_is_version_one(db: Database) -> None:
    changes = record(db, [MEETING, AV])

    assert changes == [
        MeetingChange(MEETING.uid, 1, "new", []),
        MeetingChange(AV.uid, 1, "new", []),
    ]
    row = stored(db)
    assert (row.version, row.body, row.status, row.source) == (
        1,
        "bac-landelijk-gebied",
        "planned",
        "agenda-bac",
    )
    assert row.starts_at == MEETING.starts_at
    assert (row.content_hash, json.loads(row.changes)) == (MEETING.content_hash, [])
    assert row.first_seen_at == row.updated_at == NOW


def test_the_same_meeting_again_is_unchanged_and_keeps_its_version(db: Database) -> None:
    record(db, [MEETING])

    again = record(db, [dataclasses.replace(MEETING, source="agenda-lg")], LATER)

    assert again == [MeetingChange(MEETING.uid, 1, "unchanged", [])]
    assert not again[0].is_news
    row = stored(db)
    assert (row.version, row.source, row.updated_at) == (1, "agenda-bac", NOW)


@pytest.mark.parametrize(
    ("change", "kind", "sentences"),
    [
        pytest.param(
            {"items": (*MEETING.items[:2], WATER, dataclasses.replace(MEETING.items[2], number="5"))},
            "changed",
            [
                "Agendapunt 4 toegevoegd: Water en bodem sturend",
                "De nummering van de agendapunten is gewijzigd.",
            ],
            id="agenda",
        ),
        pytest.param(
            {"location": "Online (Microsoft Teams)"},
            "changed",
            ["Locatie gewijzigd: van Huis van de Provincies, Den Haag naar Online (Microsoft Teams)"],
            id="location",
        ),
        pytest.param(
            {"status": MeetingStatus.CANCELLED},
            "cancelled",
            ["De vergadering is geannuleerd."],
            id="cancelled",
        ),
    ],
)
def test_a_changed_meeting_is_the_next_version_with_what_changed(
    db: Database, change: dict[str, object], kind: str, sentences: list[str]
) -> None:
    record(db, [MEETING])
    changed = dataclasses.replace(MEETING, **change)  # type: ignore[arg-type]

    [result] = record(db, [changed], LATER)

    assert result == MeetingChange(MEETING.uid, 2, kind, sentences)  # type: ignore[arg-type]
    assert result.is_news
    row = stored(db)
    assert (row.version, row.content_hash, row.updated_at, row.first_seen_at) == (
        2,
        changed.content_hash,
        LATER,
        NOW,
    )
    assert json.loads(row.changes) == sentences
    with db.session() as session:
        assert load_meeting(session, MEETING.uid) == changed


def test_versions_keep_counting_and_a_cancelled_meeting_stays_cancelled(db: Database) -> None:
    cancelled = dataclasses.replace(MEETING, status=MeetingStatus.CANCELLED)
    moved = dataclasses.replace(cancelled, location="Online")

    results = [
        record(db, [m], NOW + timedelta(hours=n))[0] for n, m in enumerate([MEETING, cancelled, moved])
    ]

    assert [(r.version, r.kind) for r in results] == [(1, "new"), (2, "cancelled"), (3, "changed")]
    assert stored(db).status == "cancelled"


def test_a_meeting_first_seen_cancelled_is_a_cancellation(db: Database) -> None:
    cancelled = dataclasses.replace(MEETING, status=MeetingStatus.CANCELLED)

    assert record(db, [cancelled]) == [
        MeetingChange(MEETING.uid, 1, "cancelled", ["De vergadering is geannuleerd."])
    ]


def test_load_meeting_and_upcoming_meetings(db: Database) -> None:
    record(db, [AV, MEETING])

    with db.session() as session:
        assert load_meeting(session, MEETING.uid) == MEETING
        assert load_meeting(session, "onbekend") is None
        december = upcoming_meetings(
            session, datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
        )
        first_week = upcoming_meetings(session, NOW, datetime(2026, 12, 16, 9, tzinfo=UTC))
        assert known_meetings(session, "agenda-av", NOW) == [AV]
        assert known_meetings(session, "agenda-av", datetime(2026, 12, 17, tzinfo=UTC)) == []
    assert [m.uid for m in december] == [MEETING.uid, AV.uid]  # earliest first
    assert [m.uid for m in first_week] == [MEETING.uid]  # the end is not included


# --- collect_all --------------------------------------------------------------------------

CONFIG = """
[sender]
address = "agenda@ipo.example.org"
[web]
base_url = "https://comms.ipo.example.org"

[[sources]]
name = "agenda-ipo-bestuur"
url = "agenda/ipo-bestuur.xml"
kind = "meeting"
body = "ipo-bestuur"

[[sources]]
name = "agenda-bac"
url = "agenda/bac.xml"
kind = "meeting"

[[sources]]
name = "agenda-av"
url = "agenda/av.ics"
format = "ical"
kind = "meeting"
body = "av"

[[sources]]
name = "agenda-kopie"
url = "agenda/kopie.ics"
format = "ical"
kind = "meeting"
body = "av"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLE, tmp_path / "agenda")
    # The AV's December meeting once more, in a second calendar under another UID.
    copy = (SAMPLE / "av.ics").read_text(encoding="utf-8").replace("av-2026-12-16@", "av-kopie-2026-12-16@")
    (tmp_path / "agenda" / "kopie.ics").write_text(copy, encoding="utf-8", newline="")
    (tmp_path / "comms.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def collect(project: Path, db: Database, now: datetime = NOW):  # type: ignore[no-untyped-def]
    config, problems = load_config(project / "comms.toml")
    assert config is not None, problems
    return collect_all(config, db, now)


def counts(outcome) -> dict[str, tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    return {name: (c.new, c.known, c.updated) for name, (_, c) in outcome.per_source.items()}


def test_collect_records_every_meeting_source_once(project: Path, db: Database) -> None:
    first = collect(project, db)

    assert counts(first) == {
        "agenda-ipo-bestuur": (5, 0, 0),
        "agenda-bac": (8, 0, 0),
        "agenda-av": (2, 0, 0),
        "agenda-kopie": (0, 0, 0),  # both of its meetings are the AV's own
    }
    assert {c.kind for c in first.meetings} == {"new", "cancelled"}
    assert [str(p) for p in first.problems] == [
        "agenda-kopie [Algemene Vergadering IPO, 16 december 2026 10.00 uur]: listed twice (the same body "
        "and start as in agenda-av); the copy from agenda-av is used",
        "agenda-kopie [Algemene Vergadering IPO: themabijeenkomst klimaatadaptatie, 7 april 2027 13.00 uur]: "
        "listed twice (the same uid as in agenda-av); the copy from agenda-av is used",
    ]

    again = collect(project, db, LATER)

    assert {c.kind for c in again.meetings} == {"unchanged"}
    assert counts(again)["agenda-bac"] == (0, 8, 0)


def test_collect_reports_a_changed_agenda(project: Path, db: Database) -> None:
    collect(project, db)
    feed = project / "agenda" / "ipo-bestuur.xml"
    feed.write_text(
        feed.read_text(encoding="utf-8").replace("<ipo:titel>Rondvraag en sluiting</ipo:titel>", "", 1),
        encoding="utf-8",
    )

    outcome = collect(project, db, LATER)

    [changed] = [c for c in outcome.meetings if c.kind != "unchanged"]
    assert (changed.uid, changed.version, changed.kind) == (
        "ipo-bestuur-2026-12-10@ipo.example.org",
        2,
        "changed",
    )
    assert changed.changes == ["Agendapunt 7 vervallen: Rondvraag en sluiting"]
    assert [str(p) for p in outcome.problems if p.where == "agenda-ipo-bestuur"] == [
        "agenda-ipo-bestuur [Vergadering IPO-bestuur, 10 december 2026 13.00 uur]: "
        "agenda item 7 has no title; left out"
    ]


def test_an_unreadable_source_stands_in_with_what_the_ledger_has(project: Path, db: Database) -> None:
    collect(project, db)
    (project / "agenda" / "av.ics").write_text("BEGIN:VCALENDAR\r\n", encoding="utf-8")

    outcome = collect(project, db, LATER)

    result, _ = outcome.per_source["agenda-av"]
    assert result.is_broken
    assert counts(outcome)["agenda-av"] == (0, 0, 0)
    # The copy in the other calendar is still recognised as the AV's meeting, not recorded as new.
    assert counts(outcome)["agenda-kopie"] == (0, 0, 0)
    assert not any(c.uid.startswith("av-kopie") for c in outcome.meetings)
    assert [p.where for p in outcome.meeting_problems] == ["agenda-kopie", "agenda-kopie"]
    assert counts(outcome)["agenda-bac"] == (0, 8, 0)  # the others still go


def test_a_meeting_source_of_an_unknown_format_is_reported_and_not_read(project: Path, db: Database) -> None:
    config, _ = load_config(project / "comms.toml")
    assert config is not None
    odd = dataclasses.replace(config.sources[2], format="json")  # load_config refuses it; a caller might not

    outcome = collect_all(dataclasses.replace(config, sources=(odd,)), db, NOW)

    assert [str(p) for p in outcome.problems] == [
        "agenda-av: unknown format 'json' for meetings (expected 'feed' or 'ical')"
    ]
    assert outcome.meetings == []


# --- meetings that leave their feed ---------------------------------------------------------

CANCELLED_AV = dataclasses.replace(AV, status=MeetingStatus.CANCELLED)


@pytest.mark.parametrize(
    ("recorded", "read_in_full", "listed", "gone"),
    [
        pytest.param([MEETING, AV], {"agenda-bac", "agenda-av"}, {AV.uid}, [MEETING.uid], id="deleted"),
        pytest.param([MEETING, AV], {"agenda-av"}, {AV.uid}, [], id="its source was not read in full"),
        pytest.param(
            [MEETING], {"agenda-bac"}, {MEETING.uid}, [], id="listed by another source now (moved feeds)"
        ),
        pytest.param([CANCELLED_AV], {"agenda-av"}, set(), [], id="a cancelled meeting leaving is no news"),
    ],
)
def test_a_meeting_no_feed_lists_is_missing_once(
    db: Database, recorded: list[Meeting], read_in_full: set[str], listed: set[str], gone: list[str]
) -> None:
    record(db, recorded)
    with db.session() as session:
        first = note_missing(session, read_in_full, listed, LATER)
    with db.session() as session:
        again = note_missing(session, read_in_full, listed, LATER + timedelta(hours=1))
    assert [m.uid for m in first.gone] == gone
    assert again.gone == [] and again.back == []  # told once


def test_a_missing_meeting_that_returns_is_back_once(db: Database) -> None:
    record(db, [MEETING])
    with db.session() as session:
        note_missing(session, {"agenda-bac"}, set(), NOW)
    with db.session() as session:
        back = note_missing(session, set(), {MEETING.uid}, LATER)  # listed again, whichever source
    with db.session() as session:
        again = note_missing(session, {"agenda-bac"}, {MEETING.uid}, LATER)
        stored = session.query(MeetingRecord).one()
    assert [m.uid for m in back.back] == [MEETING.uid] and again.back == []
    assert stored.missing_since is None
