"""One Dutch word per edition state, wherever the team reads it: the calendar, the agenda plan,
the edition page and a test copy all take it from EditionStatus."""

from __future__ import annotations

import pytest

from comms.operations.agenda import PlanStage
from comms.operations.calendar import MailingState
from comms.store.models import EditionStatus


@pytest.mark.parametrize(
    ("status", "label", "finished"),
    [
        (EditionStatus.DRAFT, "concept", False),
        (EditionStatus.APPROVED, "goedgekeurd", False),
        (EditionStatus.HELD, "aangehouden", False),
        (EditionStatus.SENDING, "wordt verstuurd", False),
        (EditionStatus.SENT, "verstuurd", True),
        (EditionStatus.CANCELLED, "vervallen", True),
    ],
)
def test_every_state_has_one_dutch_label(status: EditionStatus, label: str, finished: bool) -> None:
    assert status.label == label
    assert status.is_finished is finished
    assert MailingState(status.value).label == label
    assert PlanStage(status.value).label.startswith(label)  # a draft notice adds what it waits for


def test_the_state_before_any_edition_is_dutch_too() -> None:
    assert MailingState.PLANNED.label == PlanStage.PLANNED.label == "gepland, nog niet opgebouwd"
