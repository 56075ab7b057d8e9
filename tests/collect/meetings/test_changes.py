"""What changed between two versions of a meeting, in Dutch."""

from __future__ import annotations

import dataclasses

import pytest

from comms.collect.meetings.changes import is_moved, moved_sentence
from comms.collect.meetings.model import AgendaItem, Document, MeetingStatus
from tests.collect.meetings.support import DOCS, EXPECTED, LG, meeting, utc

OPENING, STIKSTOF, RONDVRAAG = EXPECTED.items


@pytest.mark.parametrize(
    ("change", "sentences"),
    [
        pytest.param({}, [], id="nothing"),
        pytest.param(
            {"starts_at": utc(2026, 12, 10, 12, 30), "ends_at": utc(2026, 12, 10, 15)},
            [
                "Aanvang gewijzigd: van donderdag 10 december 2026 10.00 uur "
                "naar donderdag 10 december 2026 13.30 uur",
                "Einde gewijzigd: van 12.30 uur naar 16.00 uur",
            ],
            id="time",
        ),
        pytest.param(
            {"starts_at": utc(2026, 12, 9, 23), "all_day": True, "ends_at": None},
            [
                "Aanvang gewijzigd: van donderdag 10 december 2026 10.00 uur naar donderdag 10 december 2026 "
                "(tijd nog niet bekend)",
                "Eindtijd vervallen (was 12.30 uur)",
            ],
            id="time no longer known",
        ),
        pytest.param(
            {"location": "Provinciehuis Gelderland, Arnhem"},
            ["Locatie gewijzigd: van Huis van de Provincies, Den Haag naar Provinciehuis Gelderland, Arnhem"],
            id="location",
        ),
        pytest.param(
            {"location": None},
            ["Locatie vervallen (was: Huis van de Provincies, Den Haag)"],
            id="no location",
        ),
        pytest.param(
            {"items": (OPENING, STIKSTOF, AgendaItem("4", "Water en bodem sturend", "", ()), RONDVRAAG)},
            ["Agendapunt 4 toegevoegd: Water en bodem sturend"],
            id="item added",
        ),
        pytest.param(
            {"items": (OPENING, RONDVRAAG)},
            ["Agendapunt 2 vervallen: Stikstof: intern salderen"],
            id="item removed",
        ),
        pytest.param(
            {"items": (OPENING, dataclasses.replace(STIKSTOF, description="Besluitvorming."), RONDVRAAG)},
            ["Agendapunt 2 gewijzigd: Stikstof: intern salderen"],
            id="item description changed",
        ),
        pytest.param(
            {"items": (OPENING, dataclasses.replace(STIKSTOF, title="Stikstof en natuur"), RONDVRAAG)},
            ["Agendapunt 2 gewijzigd: Stikstof en natuur"],
            id="item title changed",
        ),
        pytest.param(
            {
                "items": (
                    OPENING,
                    dataclasses.replace(
                        STIKSTOF, documents=(*STIKSTOF.documents, Document("Advies", f"{DOCS}/a"))
                    ),
                    RONDVRAAG,
                )
            },
            ["Stukken bij agendapunt 2 gewijzigd"],
            id="documents changed",
        ),
        pytest.param(
            {
                "items": (
                    OPENING,
                    AgendaItem("2", "Begroting 2027", "", ()),
                    dataclasses.replace(STIKSTOF, number="3"),
                    dataclasses.replace(RONDVRAAG, number="4"),
                )
            },
            ["Agendapunt 2 toegevoegd: Begroting 2027", "De nummering van de agendapunten is gewijzigd."],
            id="item inserted, the rest renumbered",
        ),
        pytest.param(
            {"items": (STIKSTOF, OPENING, RONDVRAAG)},
            ["De volgorde van de agendapunten is gewijzigd."],
            id="order only",
        ),
        pytest.param({"status": MeetingStatus.CANCELLED}, ["De vergadering is geannuleerd."], id="cancelled"),
        pytest.param(
            {"status": MeetingStatus.CHANGED},
            ["Status gewijzigd: van gepland naar gewijzigd"],
            id="marked changed",
        ),
        pytest.param(
            {"title": "Extra vergadering", "body": "av"},
            [
                f"Titel gewijzigd: van {LG} naar Extra vergadering",
                "Orgaan gewijzigd: van BAC Landelijk Gebied naar Algemene Vergadering",
            ],
            id="title and body",
        ),
    ],
)
def test_changes_from_says_what_changed_in_dutch(change: dict[str, object], sentences: list[str]) -> None:
    assert meeting(**change).changes_from(EXPECTED) == sentences


def test_a_reinstated_meeting_says_so() -> None:
    cancelled = meeting(status=MeetingStatus.CANCELLED)

    assert EXPECTED.changes_from(cancelled) == ["De annulering is ingetrokken: de vergadering gaat door."]


@pytest.mark.parametrize(
    ("change", "moved", "sentence"),
    [
        pytest.param(
            {"starts_at": utc(2026, 12, 16, 9)},
            True,
            "verplaatst van donderdag 10 december 2026 10.00 uur naar woensdag 16 december 2026 10.00 uur",
            id="another day",
        ),
        pytest.param(
            {"starts_at": utc(2026, 12, 10, 13)},
            False,
            "verplaatst van donderdag 10 december 2026 10.00 uur naar donderdag 10 december 2026 14.00 uur",
            id="another hour the same day is no move",
        ),
        pytest.param(
            {"starts_at": utc(2026, 12, 10, 23, 30)},
            True,
            "verplaatst van donderdag 10 december 2026 10.00 uur naar vrijdag 11 december 2026 0.30 uur",
            id="the day counts in Dutch time, not UTC",
        ),
        pytest.param(
            {"starts_at": utc(2026, 12, 16, 23), "all_day": True},
            True,
            "verplaatst van donderdag 10 december 2026 10.00 uur naar donderdag 17 december 2026 "
            "(tijd nog niet bekend)",
            id="to a day without a time",
        ),
    ],
)
def test_a_move_is_a_new_day(change: dict[str, object], moved: bool, sentence: str) -> None:
    old = meeting()
    new = dataclasses.replace(old, **change)  # type: ignore[arg-type]
    assert is_moved(old, new) is moved
    assert moved_sentence(old, new) == sentence
