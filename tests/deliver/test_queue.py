"""The message ledger as a queue: one row per recipient, claims, crash recovery."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from comms.audience.profile import Profile
from comms.audience.resolve import tags
from comms.deliver import queue
from comms.deliver.transport import DeliveryResult
from comms.store.database import Database
from comms.store.models import Contact, Edition, Message, MessageStatus, Preference, Suppression

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
EVERYONE = Contact.active.is_(True)


def seed(db: Database, count: int = 10, roles: str = "statenlid") -> int:
    with db.session() as session:
        for n in range(count):
            session.add(
                Contact(
                    public_id=f"{n:016x}",
                    email=f"lid{n}@utrecht.example.org",
                    first_name=f"Lid{n}",
                    infix="",
                    last_name="Test",
                    province="Utrecht" if n % 2 else "Zeeland",
                    roles=tags({roles, "av-lid"} if n == 0 else {roles}),
                    themes=",",
                    source_file="t.csv",
                    updated_at=NOW,
                )
            )
        edition = Edition(
            key="nieuwsbrief-2026-12", kind="newsletter", subject="s", audience="all", built_at=NOW
        )
        session.add(edition)
        session.flush()
        return edition.id


def test_snapshot_makes_one_row_per_recipient_once(db: Database) -> None:
    edition_id = seed(db)
    with db.session() as session:
        session.add(
            Suppression(
                email="lid3@utrecht.example.org",
                scope="newsletter",
                reason="unsubscribed",
                created_at=NOW,
            )
        )
        session.add(
            Suppression(
                email="lid4@utrecht.example.org",
                scope="survey",
                reason="other kind",
                created_at=NOW,
            )
        )
    with db.session() as session:
        assert queue.snapshot(session, edition_id, "newsletter", EVERYONE) == 10
        assert queue.snapshot(session, edition_id, "newsletter", EVERYONE) == 0
        counts = queue.counts(session, edition_id)
    assert counts["pending"] == 9 and counts["suppressed"] == 1


def test_a_claim_carries_what_decides_the_recipients_blocks(db: Database) -> None:
    edition_id = seed(db, count=3)
    with db.session() as session:
        session.add(Preference(email="lid1@utrecht.example.org", themes=",landelijk-gebied,", updated_at=NOW))
        queue.snapshot(session, edition_id, "newsletter", EVERYONE)
    with db.session() as session:
        claimed = {
            c.recipient.email: c.profile for c in queue.claim(session, edition_id, "newsletter", "w", 10, NOW)
        }
    assert claimed["lid0@utrecht.example.org"] == Profile("Zeeland", True, None)
    assert claimed["lid1@utrecht.example.org"] == Profile("Utrecht", False, frozenset({"landelijk-gebied"}))
    assert claimed["lid2@utrecht.example.org"] == Profile("Zeeland", False, None)


@pytest.mark.parametrize(
    ("export", "chosen", "themes"),
    [
        (",landelijk-gebied,", "absent", frozenset({"landelijk-gebied"})),
        (",", "absent", None),
        (",landelijk-gebied,", ",ondernemen-cultuur,", frozenset({"ondernemen-cultuur"})),
        (",landelijk-gebied,", None, None),
    ],
    ids=["export-row-until-a-choice", "no-interests-every-theme", "own-choice-wins", "chose-every-theme"],
)
def test_a_claim_reads_the_themes_of_the_export_row_until_a_choice_is_made(
    db: Database, export: str, chosen: str | None, themes: frozenset[str] | None
) -> None:
    edition_id = seed(db, count=1)
    with db.session() as session:
        session.scalars(select(Contact)).one().themes = export
        if chosen != "absent":
            session.add(Preference(email="lid0@utrecht.example.org", themes=chosen, updated_at=NOW))
        queue.snapshot(session, edition_id, "newsletter", EVERYONE)
    with db.session() as session:
        (claim,) = queue.claim(session, edition_id, "newsletter", "w", 10, NOW)
    assert claim.profile.themes == themes


def test_claims_do_not_overlap_and_acknowledgement_settles_the_edition(db: Database) -> None:
    edition_id = seed(db)
    with db.session() as session:
        queue.snapshot(session, edition_id, "newsletter", EVERYONE)
    with db.session() as session:
        first = queue.claim(session, edition_id, "newsletter", "host:1", 4, NOW)
    with db.session() as session:
        second = queue.claim(session, edition_id, "newsletter", "host:2", 100, NOW)
    ids = [c.recipient.ledger_id for c in first + second]
    assert len(ids) == len(set(ids)) == 10
    with db.session() as session:
        queue.acknowledge(
            session, "host:1", [DeliveryResult(c.recipient.ledger_id, True) for c in first], NOW
        )
        assert not queue.is_settled(session, edition_id)
        queue.acknowledge(
            session, "host:2", [DeliveryResult(c.recipient.ledger_id, True) for c in second], NOW
        )
        assert queue.is_settled(session, edition_id)
        assert queue.counts(session, edition_id)["sent"] == 10


def test_an_unsubscribe_after_the_snapshot_is_honoured_at_claim_time(db: Database) -> None:
    edition_id = seed(db, count=3)
    with db.session() as session:
        queue.snapshot(session, edition_id, "newsletter", EVERYONE)
        session.add(
            Suppression(email="lid1@utrecht.example.org", scope="*", reason="hard bounce", created_at=NOW)
        )
    with db.session() as session:
        claimed = queue.claim(session, edition_id, "newsletter", "host:1", 10, NOW)
        assert {c.recipient.email for c in claimed} == {
            "lid0@utrecht.example.org",
            "lid2@utrecht.example.org",
        }
        assert queue.counts(session, edition_id)["suppressed"] == 1


@pytest.mark.parametrize(
    ("skipped", "expected_errors"),
    [
        ([], {}),
        (["lid2@utrecht.example.org"], {"lid2@utrecht.example.org": "answered"}),
        # Suppressed and skipped: settled by the suppression, so without the skip's reason
        (["lid1@utrecht.example.org", "lid2@utrecht.example.org"], {"lid2@utrecht.example.org": "answered"}),
    ],
)
def test_a_skip_settles_its_recipients_with_the_reason_at_claim_time(
    db: Database, skipped: list[str], expected_errors: dict[str, str]
) -> None:
    edition_id = seed(db, count=3)
    with db.session() as session:
        queue.snapshot(session, edition_id, "newsletter", EVERYONE)
        session.add(
            Suppression(email="lid1@utrecht.example.org", scope="*", reason="hard bounce", created_at=NOW)
        )
    skip = queue.Skip(Contact.email.in_(skipped), "answered")
    with db.session() as session:
        claimed = queue.claim(session, edition_id, "newsletter", "host:1", 10, NOW, skip)
        settled = session.execute(
            select(Contact.email, Message.error)
            .join(Message, Message.contact_id == Contact.id)
            .where(Message.status == MessageStatus.SUPPRESSED)
        )
        errors = {email: error for email, error in settled if error}
    sent_to = {f"lid{i}@utrecht.example.org" for i in range(3)} - {"lid1@utrecht.example.org", *skipped}
    assert {c.recipient.email for c in claimed} == sent_to
    assert errors == expected_errors


@pytest.mark.parametrize(
    ("failure", "due_again_at", "settled"),
    [
        (
            DeliveryResult(0, False, "421 try later", timedelta(minutes=5)),
            NOW + timedelta(minutes=5),
            False,
        ),
        (DeliveryResult(0, False, "550 no such user"), None, True),
    ],
)
def test_failures_are_retried_only_when_transient(
    db: Database, failure: DeliveryResult, due_again_at: datetime | None, settled: bool
) -> None:
    edition_id = seed(db, count=1)
    with db.session() as session:
        queue.snapshot(session, edition_id, "newsletter", EVERYONE)
    with db.session() as session:
        (claimed,) = queue.claim(session, edition_id, "newsletter", "w", 10, NOW)
        queue.acknowledge(
            session,
            "w",
            [DeliveryResult(claimed.recipient.ledger_id, False, failure.reason, failure.retry_after)],
            NOW,
        )
    with db.session() as session:
        assert queue.claim(session, edition_id, "newsletter", "w", 10, NOW + timedelta(minutes=1)) == []
        assert queue.is_settled(session, edition_id) is settled
        assert queue.failure_reasons(session, edition_id) == [(failure.reason, 1)]
        if due_again_at:
            assert len(queue.claim(session, edition_id, "newsletter", "w", 10, due_again_at)) == 1


def test_claims_of_a_dead_local_process_are_released_at_once(db: Database) -> None:
    edition_id = seed(db, count=4)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_worker = f"{socket.gethostname()}:{int(dead.stdout)}"
    live_worker = f"{socket.gethostname()}:{os.getpid()}"
    with db.session() as session:
        queue.snapshot(session, edition_id, "newsletter", EVERYONE)
    with db.session() as session:
        queue.claim(session, edition_id, "newsletter", dead_worker, 2, NOW)
        queue.claim(session, edition_id, "newsletter", live_worker, 1, NOW)
        queue.claim(session, edition_id, "newsletter", "elsewhere:42", 1, NOW)
    with db.session() as session:
        assert queue.release_orphans(session, edition_id, NOW, timedelta(minutes=5)) == 2
    with db.session() as session:
        # a claim from another host is only taken back after the timeout
        assert (
            queue.release_orphans(session, edition_id, NOW + timedelta(minutes=6), timedelta(minutes=5)) == 2
        )
        remaining = session.scalars(
            select(Message.claimed_by).where(Message.status == MessageStatus.CLAIMED)
        ).all()
    assert remaining == []


def test_a_late_acknowledgement_from_a_replaced_worker_changes_nothing(db: Database) -> None:
    edition_id = seed(db, count=1)
    with db.session() as session:
        queue.snapshot(session, edition_id, "newsletter", EVERYONE)
    with db.session() as session:
        (claimed,) = queue.claim(session, edition_id, "newsletter", "old", 1, NOW)
        session.execute(update(Message).values(claimed_by="new"))
        queue.acknowledge(session, "old", [DeliveryResult(claimed.recipient.ledger_id, False, "x")], NOW)
        assert queue.counts(session, edition_id)["claimed"] == 1


DELAY = timedelta(hours=1)


def attempt(db: Database, edition_id: int, at: datetime, result: str) -> list[queue.Claimed]:
    """Claim what is due at `at` and acknowledge it as `result` (sent, uncertain or failed)."""
    with db.session() as session:
        claimed = queue.claim(session, edition_id, "newsletter", "w", 10, at)
        outcome = {
            "sent": lambda i: DeliveryResult(i, True),
            "uncertain": lambda i: DeliveryResult(i, False, "uncertain: no reply", uncertain=True),
            "transient": lambda i: DeliveryResult(i, False, "451 later", timedelta(minutes=1)),
        }[result]
        results = [outcome(c.recipient.ledger_id) for c in claimed]
        queue.acknowledge(session, "w", results, at, uncertain_retry=DELAY)
    return claimed


@pytest.mark.parametrize(
    ("second", "status", "settled_after"),
    [
        ("sent", MessageStatus.SENT, True),  # the relay answered the second time
        ("uncertain", MessageStatus.UNCERTAIN, True),  # again no verdict: settled, never a third copy
        ("transient", MessageStatus.FAILED, False),  # refused (so not delivered): ordinary retries
    ],
)
def test_an_uncertain_message_is_resent_once_only_after_the_delay(
    db: Database, second: str, status: MessageStatus, settled_after: bool
) -> None:
    edition_id = seed(db, count=1)
    with db.session() as session:
        queue.snapshot(session, edition_id, "newsletter", EVERYONE)

    assert len(attempt(db, edition_id, NOW, "uncertain")) == 1
    with db.session() as session:
        assert queue.counts(session, edition_id)["uncertain"] == 1
        assert not queue.is_settled(session, edition_id)  # one more try is due
    assert attempt(db, edition_id, NOW + DELAY - timedelta(seconds=1), "sent") == []  # not before the delay
    assert len(attempt(db, edition_id, NOW + DELAY, second)) == 1

    with db.session() as session:
        assert queue.counts(session, edition_id)[status.value] == 1
        assert queue.is_settled(session, edition_id) is settled_after
    later = NOW + 10 * DELAY
    resent = attempt(db, edition_id, later, "uncertain")
    assert len(resent) == (0 if settled_after else 1)
    if not settled_after:  # the transient retry had no verdict either: settled as uncertain now
        with db.session() as session:
            assert queue.counts(session, edition_id)["uncertain"] == 1
            assert queue.is_settled(session, edition_id)
            [(reason, _)] = queue.failure_reasons(session, edition_id, status=MessageStatus.UNCERTAIN)
            assert reason.startswith("still uncertain after one more try")
