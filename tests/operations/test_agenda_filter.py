"""The console's filter of the agenda plan (operations.agenda.PlanFilter), row by row."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from comms.operations.agenda import PlanFilter, PlanRow, PlanStage

# Sent 31 December 2026 at 23.30 UTC: 1 January 2027 in Dutch time.
ROW = PlanRow(
    "Algemene Vergadering, woensdag 20 januari 2027",
    "Utrecht",
    datetime(2026, 12, 31, 23, 30, tzinfo=UTC),
    "draft",
    None,
    12,
    "agenda-av-utrecht",
    body="av",
    stage=PlanStage.DRAFT,
)


@pytest.mark.parametrize(
    ("chosen", "matches"),
    [
        (PlanFilter(), True),
        (PlanFilter(body="av"), True),
        (PlanFilter(body="ipo-bestuur"), False),
        (PlanFilter(province="Utrecht"), True),
        (PlanFilter(province="Zeeland"), False),
        (PlanFilter(stage=PlanStage.DRAFT), True),
        (PlanFilter(stage=PlanStage.PLANNED), False),
        (PlanFilter(sent_from=date(2027, 1, 1)), True),  # the Dutch date, not UTC's 31 December
        (PlanFilter(sent_until=date(2026, 12, 31)), False),
        (PlanFilter(sent_from=date(2027, 1, 1), sent_until=date(2027, 1, 1)), True),
    ],
)
def test_a_filter_matches_on_every_field_it_names(chosen: PlanFilter, matches: bool) -> None:
    assert chosen.matches(ROW) is matches


def test_every_stage_has_a_dutch_label() -> None:
    assert [stage.label for stage in PlanStage][:3] == [
        "gepland, nog niet opgebouwd",
        "concept, wacht op goedkeuring",
        "goedgekeurd",
    ]
