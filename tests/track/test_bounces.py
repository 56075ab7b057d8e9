"""The bounce policy: a permanent refusal of the address suppresses at once, a full mailbox
only when it repeats on separate days, and a refusal that is about us never."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from comms.deliver.transports import make_transport
from comms.editions import delivery
from comms.store.database import Database
from comms.store.models import Contact, DeliveryEvent, Edition, Message
from comms.track.bounces import Bounce, SmtpReply, SoftBouncePolicy, Verdict, record_bounce
from comms.track.suppressions import HARD_BOUNCE, SOFT_BOUNCES, list_suppressions
from tests.deliver.conftest import EditionFactory, synthetic_audience
from tests.fakes.smtp import FakeSMTPServer
from tests.track.support import ledger_status, send_next_edition

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ADDRESS = "jan.smit@drenthe.example.org"
POLICY = SoftBouncePolicy(limit=3, window_days=90)


@pytest.mark.parametrize(
    ("reply", "given_up", "verdict"),
    [
        ("550 5.1.1 User unknown", False, Verdict.HARD),
        ("550 5.1.10 Recipient address has null MX", False, Verdict.HARD),
        ("553 5.1.3 Bad recipient address syntax", False, Verdict.HARD),
        ("550 5.2.1 Mailbox disabled", False, Verdict.HARD),
        ("452 4.2.2 Mailbox full", False, Verdict.SOFT),
        ("552 5.2.2 Mailbox full", False, Verdict.SOFT),
        ("554 5.4.4 Unable to route", False, Verdict.SOFT),
        ("550 Requested action not taken", False, Verdict.SOFT),  # 5xx without a status: ambiguous
        ("550 5.7.1 Message rejected as spam", False, Verdict.ABOUT_US),
        ("550 5.7.26 Unauthenticated email (DMARC)", False, Verdict.ABOUT_US),
        ("554 5.6.0 Content rejected", False, Verdict.ABOUT_US),
        ("552 5.3.4 Message too big", False, Verdict.ABOUT_US),
        ("553 5.1.8 Sender address domain does not exist", False, Verdict.ABOUT_US),
        ("451 4.7.1 Greylisted, try again", False, Verdict.ABOUT_US),
        ("451 4.3.0 Try again later", False, Verdict.PASSING),
        ("421 4.4.2 Connection dropped", False, Verdict.PASSING),
        ("smtp; 451 4.4.7 Delivery time expired", True, Verdict.SOFT),  # a queue that gave up
    ],
)
def test_each_reply_has_its_verdict(reply: str, given_up: bool, verdict: Verdict) -> None:
    assert SmtpReply.parse(reply).verdict(given_up) is verdict


def test_the_code_and_status_from_the_transport_win_over_the_text() -> None:
    reply = SmtpReply.parse("Mailbox unavailable", code=550, status="5.1.1")
    assert (reply.code, reply.status, reply.verdict()) == (550, "5.1.1", Verdict.HARD)
    assert SmtpReply.parse("smtp; 550 5.1.1 nope", status="5.1.1").code == 550


def _refuse(db: Database, reply: str, day: int, key: str | None = None) -> bool:
    moment = NOW + timedelta(days=day)
    bounce = Bounce(ADDRESS, SmtpReply.parse(reply), key or f"test:{day}", "smtp")
    with db.session() as session:
        return record_bounce(session, bounce, POLICY, moment).suppressed


def _reasons(db: Database) -> list[tuple[str, str]]:
    with db.session() as session:
        return [(s.scope, s.reason) for s in list_suppressions(session, ADDRESS)]


@pytest.mark.parametrize(
    ("reply", "suppressed_on_day", "reason"),
    [
        ("550 5.1.1 User unknown", 1, HARD_BOUNCE),
        ("550 5.1.10 Null MX", 1, HARD_BOUNCE),
        ("452 4.2.2 Mailbox full", 3, SOFT_BOUNCES),
        ("552 5.2.2 Mailbox full", 3, SOFT_BOUNCES),
        ("550 5.7.1 Message refused", None, None),
        ("451 4.3.0 Try again later", None, None),
    ],
)
def test_the_same_refusal_on_five_days(
    db: Database, reply: str, suppressed_on_day: int | None, reason: str | None
) -> None:
    suppressed_after = []
    for day in range(1, 6):
        _refuse(db, reply, day)
        suppressed_after.append(bool(_reasons(db)))

    expected = [suppressed_on_day is not None and day >= suppressed_on_day for day in range(1, 6)]
    assert suppressed_after == expected
    assert _reasons(db) == ([("*", reason)] if reason else [])


def test_soft_bounces_on_one_day_count_once(db: Database) -> None:
    for attempt in range(6):  # the queue's retries of one send
        _refuse(db, "452 4.2.2 Mailbox full", 1, key=f"retry:{attempt}")
    assert _reasons(db) == []


def test_the_same_refusal_read_twice_counts_once(db: Database) -> None:
    _refuse(db, "452 4.2.2 Mailbox full", 1, key="dsn:a")
    _refuse(db, "452 4.2.2 Mailbox full", 2, key="dsn:a")  # the same DSN, read again
    _refuse(db, "452 4.2.2 Mailbox full", 3, key="dsn:b")
    assert _reasons(db) == []
    with db.session() as session:
        assert len(session.scalars(select(DeliveryEvent)).all()) == 2


def test_soft_bounces_outside_the_window_are_forgotten(db: Database) -> None:
    for day in (0, 50, 100):  # day 0 has left the 90-day window by day 100
        _refuse(db, "552 5.2.2 Mailbox full", day)
    assert _reasons(db) == []
    _refuse(db, "552 5.2.2 Mailbox full", 101)
    assert _reasons(db) == [("*", SOFT_BOUNCES)]


def test_a_delivery_in_between_starts_the_count_again(db: Database) -> None:
    with db.session() as session:
        contact = Contact(
            public_id="0123456789abcdef", email=ADDRESS, first_name="Jan", last_name="Smit",
            roles=",statenlid,", source_file="test.csv", updated_at=NOW,
        )  # fmt: skip
        edition = Edition(
            key="nieuwsbrief-2026-12", kind="newsletter", subject="s", audience="a", built_at=NOW
        )
        session.add_all([contact, edition])
        session.flush()
        delivered = NOW + timedelta(days=2, hours=12)  # between the second and third bounce
        session.add(Message(edition_id=edition.id, contact_id=contact.id, status="sent", sent_at=delivered))

    for day in (1, 2, 3, 4):
        _refuse(db, "452 4.2.2 Mailbox full", day)
    assert _reasons(db) == []  # days 3 and 4 only: the mailbox took mail on day 2
    _refuse(db, "452 4.2.2 Mailbox full", 5)
    assert _reasons(db) == [("*", SOFT_BOUNCES)]


REFUSALS = {  # what the relay answers at RCPT TO → the address's ledger status, edition by edition
    "550 5.1.1 User unknown": ["failed", "suppressed", "suppressed", "suppressed"],
    # The third day's refusal suppresses the address before that edition's retry: settled so.
    "452 4.2.2 Mailbox full": ["failed", "failed", "suppressed", "suppressed"],
    "552 5.2.2 Mailbox full": ["failed", "failed", "failed", "suppressed"],
    "550 5.7.1 Message refused as spam": ["failed", "failed", "failed", "failed"],
}


def test_smtp_refusals_over_four_monthly_editions(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer
) -> None:
    smtp = f'[smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\nsecurity = "none"\n'
    edition = approved_edition(8, smtp, 'transport = "smtp"\nmax_attempts = 3')
    service = edition.service
    addresses = dict(zip(REFUSALS, synthetic_addresses(len(REFUSALS)), strict=True))
    smtp_server.replies = {address: reply for reply, address in addresses.items()}

    clock = edition.clock
    keys = [edition.key]
    delivery.send(
        service, edition.key, make_transport(service.config, edition.key, clock, ledger=True), clock
    )
    for month in (1, 2, 3):
        keys.append(send_next_edition(service, NOW + timedelta(days=31 * month)).edition_key)

    seen = {
        reply: [ledger_status(service, key, address) for key in keys] for reply, address in addresses.items()
    }
    assert seen == REFUSALS
    with service.db.session() as session:
        reasons = {s.email: s.reason for s in list_suppressions(session)}
    assert reasons == {
        addresses["550 5.1.1 User unknown"]: HARD_BOUNCE,
        addresses["452 4.2.2 Mailbox full"]: SOFT_BOUNCES,
        addresses["552 5.2.2 Mailbox full"]: SOFT_BOUNCES,
    }
    # The other four got every edition, once each.
    received = smtp_server.count_by_recipient()
    assert sorted(received.values()) == [4, 4, 4, 4]


def synthetic_addresses(count: int) -> list[str]:
    return [row.split(";")[0] for row in synthetic_audience(count).splitlines()[1:]]
