"""Starting a send copies the audience into the message ledger in batches: the step that starts
it (a scheduler job, the console) does the first batch only, whoever delivers does the rest,
and a preparation cut short anywhere is completed without skipping or doubling anyone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from comms.deliver import queue
from comms.deliver.transports import make_transport
from comms.editions import delivery, lifecycle
from comms.store.editions import find_edition
from comms.store.models import Contact, Edition, Message
from tests.deliver.conftest import Edition as Approved
from tests.deliver.conftest import EditionFactory


def ledger(edition: Approved) -> tuple[int, int, Edition]:
    """(rows in its ledger, distinct contacts in them, the edition)."""
    with edition.service.db.session() as session:
        found = find_edition(session, edition.key)
        rows = select(func.count(), func.count(Message.contact_id.distinct())).where(
            Message.edition_id == found.id
        )
        total, distinct = session.execute(rows).one()
        return total, distinct, found


def contacts(edition: Approved) -> int:
    with edition.service.db.session() as session:
        return session.scalar(select(func.count()).select_from(Contact).where(Contact.active.is_(True))) or 0


@pytest.mark.parametrize(("batch", "in_ledger", "prepared"), [(3, 3, False), (50, 10, True), (10, 10, True)])
def test_starting_copies_one_batch_and_says_whether_the_ledger_is_complete(
    approved_edition: EditionFactory, batch: int, in_ledger: int, prepared: bool
) -> None:
    edition = approved_edition(10)
    lifecycle.start_sending(edition.service, edition.key, edition.clock, "test", batch=batch)
    total, distinct, found = ledger(edition)
    assert (total, distinct) == (in_ledger, in_ledger)
    assert found.status == "sending" and found.is_being_prepared is not prepared
    assert delivery.has_due_work(edition.service, edition.clock.now())


def test_nothing_is_claimed_before_the_ledger_is_complete_and_then_everyone_once(
    approved_edition: EditionFactory,
) -> None:
    edition = approved_edition(10)
    lifecycle.start_sending(edition.service, edition.key, edition.clock, "test", batch=3)
    transport = make_transport(edition.service.config, edition.key, edition.clock)
    outcome = delivery.deliver_edition(edition.service, edition.key, transport, edition.clock)
    total, distinct, found = ledger(edition)
    assert (total, distinct) == (contacts(edition), contacts(edition))
    assert outcome.delivered_now == outcome.counts["sent"] == contacts(edition) - outcome.counts["suppressed"]
    assert found.status == "sent" and not found.is_being_prepared


@pytest.mark.parametrize("killed_at_batch", [1, 2, 3])
def test_a_preparation_cut_short_is_completed_by_the_next_without_skipping_or_doubling(
    approved_edition: EditionFactory, monkeypatch: pytest.MonkeyPatch, killed_at_batch: int
) -> None:
    edition = approved_edition(10)
    lifecycle.start_sending(edition.service, edition.key, edition.clock, "test", batch=2)
    original: Callable[..., int] = queue.snapshot
    calls = []

    def dies(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        added = original(*args, **kwargs)
        if len(calls) == killed_at_batch:
            raise KeyboardInterrupt("killed with the batch written, not committed")
        return added

    monkeypatch.setattr(queue, "snapshot", dies)
    with pytest.raises(KeyboardInterrupt):
        lifecycle.prepare_ledger(edition.service, edition.key, batch=2)
    total, distinct, found = ledger(edition)
    assert (total, distinct) == (2 * killed_at_batch, 2 * killed_at_batch)  # the last batch was lost
    assert found.is_being_prepared
    monkeypatch.setattr(queue, "snapshot", original)
    lifecycle.prepare_ledger(edition.service, edition.key, batch=2)
    total, distinct, found = ledger(edition)
    assert (total, distinct) == (contacts(edition), contacts(edition))
    assert not found.is_being_prepared
