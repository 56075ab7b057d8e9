"""An edition's life, for any kind: approve, hold, discard, plan the send, start; each step only
from the states it belongs to, so no front end can move an edition past one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from comms.cli import main
from comms.editions import lifecycle
from comms.errors import Refused
from comms.kinds import BuildRequest
from comms.operations import editions
from comms.problems import ValidationFailed
from comms.store.editions import find_edition
from comms.store.models import Edition, EditionStatus, Item
from tests.deliver.conftest import NOW, EditionFactory
from tests.deliver.conftest import Edition as Approved

Step = Callable[[Approved], Edition]
HOLD: Step = lambda e: lifecycle.hold(e.service, e.key, "redacteur", "de cijfers kloppen niet")  # noqa: E731
DISCARD: Step = lambda e: lifecycle.discard(e.service, e.key, "redacteur")  # noqa: E731
APPROVE: Step = lambda e: lifecycle.approve(e.service, e.key, "redacteur", NOW)  # noqa: E731
PLAN: Step = lambda e: lifecycle.schedule_send(e.service, e.key, NOW + timedelta(days=2))  # noqa: E731


def at_status(edition: Approved, status: EditionStatus) -> Approved:
    with edition.service.db.session() as session:
        find_edition(session, edition.key).status = status
    return edition


def status_of(edition: Approved) -> tuple[str, str | None]:
    with edition.service.db.session() as session:
        found = find_edition(session, edition.key)
        return found.status, found.status_reason


def items_of(edition: Approved) -> int:
    with edition.service.db.session() as session:
        found = find_edition(session, edition.key)
        return session.scalar(select(func.count()).where(Item.edition_id == found.id)) or 0


@pytest.mark.parametrize(
    ("start", "step", "status", "reason"),
    [
        (EditionStatus.DRAFT, HOLD, "held", "held by redacteur: de cijfers kloppen niet"),
        (EditionStatus.APPROVED, HOLD, "held", "held by redacteur: de cijfers kloppen niet"),
        (EditionStatus.DRAFT, DISCARD, "cancelled", "discarded by redacteur"),
        (EditionStatus.APPROVED, DISCARD, "cancelled", "discarded by redacteur"),
        (EditionStatus.HELD, DISCARD, "cancelled", "discarded by redacteur"),
        (EditionStatus.DRAFT, APPROVE, "approved", None),
        (EditionStatus.APPROVED, PLAN, "approved", None),
    ],
)
def test_a_step_from_a_state_it_belongs_to(
    approved_edition: EditionFactory, start: EditionStatus, step: Step, status: str, reason: str | None
) -> None:
    edition = at_status(approved_edition(8), start)
    step(edition)
    assert status_of(edition) == (status, reason)


@pytest.mark.parametrize(
    ("start", "step", "error"),
    [
        (EditionStatus.SENDING, HOLD, Refused),
        (EditionStatus.SENT, HOLD, Refused),
        (EditionStatus.HELD, HOLD, Refused),
        (EditionStatus.SENDING, DISCARD, Refused),
        (EditionStatus.SENT, DISCARD, Refused),
        (EditionStatus.CANCELLED, DISCARD, Refused),
        (EditionStatus.APPROVED, APPROVE, ValidationFailed),
        (EditionStatus.HELD, APPROVE, ValidationFailed),
        (EditionStatus.SENT, PLAN, Refused),
    ],
)
def test_a_step_from_any_other_state_is_refused_and_changes_nothing(
    approved_edition: EditionFactory, start: EditionStatus, step: Step, error: type[Exception]
) -> None:
    edition = at_status(approved_edition(8), start)
    with pytest.raises(error):
        step(edition)
    assert status_of(edition)[0] == start


def test_holding_needs_a_reason(approved_edition: EditionFactory) -> None:
    edition = approved_edition(8)
    with pytest.raises(ValidationFailed, match="say why"):
        lifecycle.hold(edition.service, edition.key, "redacteur", "  ")
    assert status_of(edition)[0] == "approved"


@pytest.mark.parametrize("step", [HOLD, DISCARD], ids=["hold", "discard"])
def test_a_withdrawn_newsletter_keeps_no_item_back_from_the_next(
    approved_edition: EditionFactory, step: Step
) -> None:
    edition = approved_edition(8)
    assert items_of(edition) > 0
    step(edition)
    assert items_of(edition) == 0
    january = editions.build(edition.service, "newsletter", BuildRequest(NOW + timedelta(days=1), "2027-01"))
    assert january.contents != "0 items" and not january.is_held


def test_a_held_edition_is_never_started(approved_edition: EditionFactory) -> None:
    edition = approved_edition(8)
    HOLD(edition)
    with pytest.raises(ValidationFailed, match="not sent: it is held: held by redacteur"):
        lifecycle.start_sending(edition.service, edition.key, edition.clock)


@pytest.mark.parametrize(
    ("args", "status", "output"),
    [
        (
            ["hold", "--reason", "wacht op cijfers", "--by", "els"],
            "held",
            "held nieuwsbrief-2026-12: held by els",
        ),
        (["discard", "--by", "els"], "cancelled", "discarded nieuwsbrief-2026-12"),
    ],
)
def test_the_commands_hold_and_discard(
    approved_edition: EditionFactory, args: list[str], status: str, output: str
) -> None:
    edition = approved_edition(8)
    config = str(edition.service.config.path)
    result = CliRunner().invoke(main, ["--config", config, args[0], edition.key, *args[1:]])
    assert result.exit_code == 0, result.output
    assert output in result.output
    assert status_of(edition)[0] == status
    again = CliRunner().invoke(main, ["--config", config, args[0], edition.key, *args[1:]])
    assert again.exit_code == 1 and f"is {status}; only a draft" in again.output
