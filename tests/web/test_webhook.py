"""SendGrid's signed Event Webhook over HTTP: verification, replays, and each event's effect."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from comms.store.models import DeliveryEvent, Message
from comms.tokens import Purpose
from comms.track import webhook
from comms.track.suppressions import list_suppressions, suppress
from tests.web.support import ANNA, BRAM, EDITION_KEY, NOW, Site, SiteFactory, seed_ledger

SENT_AT = NOW - timedelta(minutes=30)
EVENT_IDS = itertools.count(1)


@dataclass
class Ledger:
    site: Site
    ids: dict[str, int]  # email → message id

    def event(self, name: str, email: str = ANNA[0], at: datetime = SENT_AT, **extra: Any) -> dict[str, Any]:
        """An event as SendGrid posts it: custom args are top-level keys."""
        return {
            "email": email,
            "timestamp": int(at.timestamp()),
            "event": name,
            "sg_event_id": f"ZmFrZS1ldmVudC0{next(EVENT_IDS):06d}",
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
            "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
            "category": ["newsletter"],
            "comms_edition": EDITION_KEY,
            "comms_message": str(self.ids[email]),
            "comms_kind": "newsletter",
        } | extra

    def message(self, email: str = ANNA[0]) -> Message:
        with self.site.service.db.session() as session:
            message = session.get(Message, self.ids[email])
            assert message is not None
            return message

    def suppressions(self) -> set[tuple[str, str, str]]:
        with self.site.service.db.session() as session:
            return {(s.email, s.scope, s.reason) for s in list_suppressions(session)}

    def recorded(self) -> int:
        with self.site.service.db.session() as session:
            return session.scalar(select(func.count()).select_from(DeliveryEvent)) or 0


@pytest.fixture
def ledger(site: Site) -> Ledger:
    return Ledger(site, seed_ledger(site.service))


def at(seconds: int) -> datetime:
    return SENT_AT + timedelta(seconds=seconds)


def test_a_signed_post_is_applied(ledger: Ledger) -> None:
    events = [ledger.event("delivered", at=at(5)), ledger.event("open", at=at(60))]

    response = ledger.site.post_events(events)

    assert response.status_code == 200
    assert response.json() == {"applied": 2, "duplicates": 0, "ignored": 0, "problems": 0}
    message = ledger.message()
    assert (message.last_event, message.delivered_at, message.opened_at) == ("delivered", at(5), at(60))


def test_a_replayed_post_changes_nothing(ledger: Ledger) -> None:
    events = [
        ledger.event("delivered", at=at(5)),
        ledger.event("open", at=at(60)),
        ledger.event("unsubscribe", at=at(90)),
    ]
    ledger.site.post_events(events)
    with ledger.site.service.db.session() as session:  # someone lifts the unsubscribe meanwhile
        (row,) = list_suppressions(session)
        session.delete(row)
    before = (ledger.message().opened_at, ledger.recorded())

    ledger.site.clock.sleep(120)  # SendGrid retries later, with a fresh signature
    again = ledger.site.post_events(events)

    assert again.status_code == 200
    assert again.json() == {"applied": 0, "duplicates": 3, "ignored": 0, "problems": 0}
    assert (ledger.message().opened_at, ledger.recorded()) == before
    assert ledger.suppressions() == set()  # the old event does not unsubscribe a second time


def test_events_without_an_id_are_deduplicated_by_content(ledger: Ledger) -> None:
    event = ledger.event("click", at=at(70))
    del event["sg_event_id"]

    first = ledger.site.post_events([event, dict(event)])

    assert first.json()["applied"] == 1
    assert first.json()["duplicates"] == 1


# name: (extra fields of the event, what it does to the ledger message, the suppressions it adds)
EFFECTS: dict[str, tuple[dict[str, Any], dict[str, Any], set[tuple[str, str]]]] = {
    "processed": ({}, {"last_event": "processed"}, set()),
    "delivered": ({}, {"last_event": "delivered", "delivered_at": at(0)}, set()),
    "deferred": (
        {"response": "400 try again later", "attempt": "1"},
        {"last_event": "deferred", "delivered_at": None},
        set(),
    ),
    "open": (
        {"sg_machine_open": False, "useragent": "Mozilla/5.0", "ip": "192.0.2.1"},
        {"opened_at": at(0)},
        set(),
    ),
    "click": (
        {"url": "https://www.ipo.nl/", "url_offset": {"index": 0, "type": "html"}},
        {"clicked_at": at(0)},
        set(),
    ),
    "bounce-hard": (
        {"event": "bounce", "type": "bounce", "status": "5.1.1", "reason": "550 5.1.1 unknown user"},
        {"last_event": "bounce"},
        {("*", "hard bounce")},
    ),
    "bounce-blocked": (
        {"event": "bounce", "type": "blocked", "status": "4.0.0", "reason": "421 try later"},
        {"last_event": "blocked"},
        set(),
    ),
    "dropped": (
        {"reason": "Bounced Address", "status": "5.0.0"},
        {"last_event": "dropped"},
        {("*", "dropped")},
    ),
    "spamreport": ({}, {"last_event": None}, {("*", "spamreport")}),
    "unsubscribe": ({}, {"last_event": None}, {("*", "unsubscribed")}),
    "group_unsubscribe": ({"asm_group_id": 101}, {}, {("newsletter", "unsubscribed")}),
    "group_unsubscribe-other-kind": (
        {"event": "group_unsubscribe", "asm_group_id": 104},
        {},
        {("survey", "unsubscribed")},
    ),
    "group_unsubscribe-unknown-group": (
        {"event": "group_unsubscribe", "asm_group_id": 999},
        {},
        {("*", "unsubscribed")},
    ),
}


@pytest.mark.parametrize(
    ("case", "extra", "message_after", "suppressed"), [(k, *v) for k, v in EFFECTS.items()]
)
def test_each_event_type_has_its_effect(
    ledger: Ledger, case: str, extra: dict, message_after: dict, suppressed: set
) -> None:
    name = case.split("-")[0]
    response = ledger.site.post_events([ledger.event(name, at=at(0)) | extra])

    assert response.json()["applied"] == 1
    message = ledger.message()
    assert {field: getattr(message, field) for field in message_after} == message_after
    assert ledger.suppressions() == {(ANNA[0], scope, reason) for scope, reason in suppressed}
    assert ledger.message(BRAM[0]).last_event is None  # the other recipient is untouched


def test_group_resubscribe_lifts_only_that_groups_unsubscribe(ledger: Ledger) -> None:
    with ledger.site.service.db.session() as session:
        suppress(session, ANNA[0], "newsletter", "unsubscribed", NOW)
        suppress(session, ANNA[0], "survey", "unsubscribed", NOW)
        suppress(session, BRAM[0], "newsletter", "hard bounce", NOW)

    ledger.site.post_events(
        [
            ledger.event("group_resubscribe", asm_group_id=101),
            ledger.event("group_resubscribe", BRAM[0], asm_group_id=101),  # a bounce stays
            ledger.event("group_resubscribe", asm_group_id=999),  # an unknown group lifts nothing
        ]
    )

    assert ledger.suppressions() == {
        (ANNA[0], "survey", "unsubscribed"),
        (BRAM[0], "newsletter", "hard bounce"),
    }


def test_a_hard_bounce_outranks_an_earlier_unsubscribe(ledger: Ledger) -> None:
    ledger.site.post_events(
        [ledger.event("unsubscribe", at=at(0)), ledger.event("bounce", at=at(1), type="bounce")]
    )

    assert ledger.suppressions() == {(ANNA[0], "*", "hard bounce")}


def test_the_ledger_moves_forward_only(ledger: Ledger) -> None:
    # Separate posts, as SendGrid's batches arrive: late and out of order.
    for event in [
        ledger.event("open", at=at(300)),
        ledger.event("delivered", at=at(10)),
        ledger.event("deferred", at=at(5)),
        ledger.event("open", at=at(120)),
        ledger.event("open", at=at(900)),
        ledger.event("click", at=at(400)),
        ledger.event("click", at=at(500)),
    ]:
        assert ledger.site.post_events([event]).json()["applied"] == 1

    message = ledger.message()
    assert (message.last_event, message.delivered_at) == ("delivered", at(10))
    assert (message.opened_at, message.clicked_at) == (at(120), at(400))


def test_events_in_one_post_apply_in_the_order_they_happened(ledger: Ledger) -> None:
    ledger.site.post_events(
        [
            ledger.event("group_resubscribe", at=at(60), asm_group_id=101),
            ledger.event("group_unsubscribe", at=at(30), asm_group_id=101),
            ledger.event("group_unsubscribe", at=at(90), asm_group_id=104),
        ]
    )

    assert ledger.suppressions() == {(ANNA[0], "survey", "unsubscribed")}


def test_unknown_events_are_recorded_and_ignored(ledger: Ledger) -> None:
    response = ledger.site.post_events([ledger.event("account_status_change")])

    assert response.json() == {"applied": 0, "duplicates": 0, "ignored": 1, "problems": 0}
    assert ledger.recorded() == 1
    assert ledger.message().last_event is None


def test_malformed_events_are_counted_and_the_rest_applied(ledger: Ledger) -> None:
    good = ledger.event("delivered")
    no_email = ledger.event("open")
    del no_email["email"]
    no_event = ledger.event("open")
    del no_event["event"]

    response = ledger.site.post_events(
        ["delivered", 42, None, no_email, no_event, {"email": 7, "event": "x"}, good]
    )

    assert response.status_code == 200
    assert response.json() == {"applied": 1, "duplicates": 0, "ignored": 0, "problems": 6}
    assert ledger.message().last_event == "delivered"


@pytest.mark.parametrize(
    "mismatch",
    [
        {"comms_edition": "nieuwsbrief-2026-11"},  # another edition (a staging ledger, say)
        {"comms_message": "999999"},  # no such message
        {"comms_message": "not-a-number"},
    ],
    ids=["edition", "unknown-message", "garbage-id"],
)
def test_an_event_that_does_not_match_its_message_leaves_the_ledger_alone(
    ledger: Ledger, mismatch: dict
) -> None:
    response = ledger.site.post_events([ledger.event("bounce", type="bounce") | mismatch])

    assert response.json()["applied"] == 1
    assert ledger.message().last_event is None
    assert ledger.suppressions() == {(ANNA[0], "*", "hard bounce")}  # the address did bounce
    with ledger.site.service.db.session() as session:
        assert session.scalars(select(DeliveryEvent.message_id)).one() is None


def test_an_event_for_another_address_is_not_linked_to_the_message(ledger: Ledger) -> None:
    event = ledger.event("delivered") | {"comms_message": str(ledger.ids[BRAM[0]])}

    ledger.site.post_events([event])

    assert ledger.message(BRAM[0]).last_event is None


def _stored_nothing(ledger: Ledger) -> None:
    assert ledger.recorded() == 0
    assert ledger.suppressions() == set()
    assert ledger.message().last_event is None


def _now(site: Site) -> int:
    return int(site.clock.now().timestamp())


SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
Post = Callable[[Site, list[dict[str, Any]]], Any]

# (id, how the post goes wrong, status, part of the error)
REJECTIONS: list[tuple[str, Post, int, str]] = [
    (
        "tampered-body",
        lambda site, events: site.post_events(
            json.dumps(events).replace("delivered", "bounce").encode(),
            signed_body=json.dumps(events).encode(),
        ),
        401,
        "signature does not match",
    ),
    ("stale", lambda site, events: site.post_events(events, timestamp=str(_now(site) - 601)), 401, "old"),
    ("future", lambda site, events: site.post_events(events, timestamp=str(_now(site) + 601)), 401, "future"),
    (
        "missing-signature",
        lambda site, events: site.post_events(events, headers={SIGNATURE: None}),
        401,
        "missing",
    ),
    (
        "missing-timestamp",
        lambda site, events: site.post_events(events, headers={TIMESTAMP: None}),
        401,
        "missing",
    ),
    (
        "no-headers",
        lambda site, events: site.post_events(events, headers={SIGNATURE: None, TIMESTAMP: None}),
        401,
        "missing",
    ),
    (
        "timestamp-not-integer",
        lambda site, events: site.post_events(events, timestamp="2026-12-01T08:00:00Z"),
        400,
        "not an integer",
    ),
    (
        "signature-not-base64",
        lambda site, events: site.post_events(events, headers={SIGNATURE: "%%%niet-base64%%%"}),
        400,
        "not base64",
    ),
    (
        "signature-not-der",
        lambda site, events: site.post_events(events, headers={SIGNATURE: "AAAA"}),
        401,
        "signature does not match",
    ),
    (
        "another-key",
        lambda site, events: site.post_events(events, key=ec.generate_private_key(ec.SECP256R1())),
        401,
        "signature does not match",
    ),
    ("not-json", lambda site, events: site.post_events(b"delivered!"), 400, "not JSON"),
    ("not-a-list", lambda site, events: site.post_events(events[0]), 400, "not a JSON array"),
]


@pytest.mark.parametrize(
    ("post", "status", "reason"), [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS]
)
def test_a_rejected_post_stores_nothing(ledger: Ledger, post: Post, status: int, reason: str) -> None:
    events = [ledger.event("delivered"), ledger.event("unsubscribe")]

    response = post(ledger.site, events)

    assert response.status_code == status
    assert reason in response.json()["error"]
    _stored_nothing(ledger)


@pytest.mark.parametrize("offset", [-600, 600], ids=["oldest-accepted", "latest-accepted"])
def test_the_timestamp_window_is_max_age_either_side(ledger: Ledger, offset: int) -> None:
    response = ledger.site.post_events([ledger.event("delivered")], timestamp=str(_now(ledger.site) + offset))

    assert response.status_code == 200


def test_without_a_configured_key_the_webhook_is_unavailable(make_site: SiteFactory) -> None:
    site = make_site(webhook=False)
    seed_ledger(site.service)

    response = site.post_events([{"email": ANNA[0], "event": "unsubscribe", "timestamp": 0}])

    assert response.status_code == 503
    assert "webhook_public_key" in response.json()["error"]
    with site.service.db.session() as session:
        assert list_suppressions(session) == []


def test_events_keep_no_ip_or_user_agent(ledger: Ledger) -> None:
    ledger.site.post_events([ledger.event("open", ip="192.0.2.1", useragent="Mozilla/5.0 (Macintosh)")])

    with ledger.site.service.db.session() as session:
        detail = _only_event(session).detail or ""
    assert "192.0.2.1" not in detail
    assert "Mozilla" not in detail


def _only_event(session: Session) -> DeliveryEvent:
    return session.scalars(select(DeliveryEvent)).one()


def test_event_time_comes_from_the_event(ledger: Ledger) -> None:
    ledger.site.post_events([ledger.event("delivered", at=datetime(2026, 12, 1, 7, 31, 12, tzinfo=UTC))])

    with ledger.site.service.db.session() as session:
        event = _only_event(session)
    assert event.occurred_at == datetime(2026, 12, 1, 7, 31, 12, tzinfo=UTC)
    assert event.received_at == NOW
    assert event.message_id == ledger.ids[ANNA[0]]


def test_an_internal_error_answers_500_and_stores_nothing(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr("comms.operations.recipients.apply_events", broken)

    response = ledger.site.post_events([ledger.event("unsubscribe")])

    assert response.status_code == 500
    assert response.json() == {"error": "internal error; retry later"}
    _stored_nothing(ledger)


def test_a_drop_for_an_unsubscribed_address_is_a_per_kind_unsubscribe(site) -> None:  # type: ignore[no-untyped-def]
    from comms.store.models import Suppression

    event = {
        "email": "anna.devries@utrecht.example.org",
        "timestamp": int(site.clock.now().timestamp()),
        "event": "dropped",
        "reason": "Unsubscribed Address",
        "sg_event_id": "drop-unsub-1",
        "comms_kind": "newsletter",
    }
    assert site.post_events([event]).status_code == 200
    with site.service.db.session() as session:
        rows = [(s.scope, s.reason) for s in session.query(Suppression).all()]
    assert rows == [("newsletter", "unsubscribed")]


def _mixed_post(ledger: Ledger) -> list[dict[str, Any]]:
    """Events of both recipients, some delivered twice, an unsubscribe undone by a resubscribe."""
    first = [
        ledger.event("processed", at=at(0)),
        ledger.event("delivered", at=at(5)),
        ledger.event("open", at=at(60)),
        ledger.event("open", at=at(30)),
        ledger.event("click", at=at(90)),
        ledger.event("group_unsubscribe", at=at(100), asm_group_id=101),
        ledger.event("group_resubscribe", at=at(110), asm_group_id=101),
        ledger.event("deferred", BRAM[0], at=at(1)),
        ledger.event("unsubscribe", BRAM[0], at=at(2)),
        ledger.event("bounce", BRAM[0], at=at(3), type="bounce"),
        ledger.event("delivered", BRAM[0], at=at(4)),
    ]
    return [*first, dict(first[1]), dict(first[9])]


@pytest.mark.parametrize("chunk", [1, 2, 3, 500])
def test_the_outcome_does_not_depend_on_the_chunk_size(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(webhook, "CHUNK", chunk)

    response = ledger.site.post_events(_mixed_post(ledger))

    assert response.json() == {"applied": 11, "duplicates": 2, "ignored": 0, "problems": 0}
    anna, bram = ledger.message(), ledger.message(BRAM[0])
    assert (anna.last_event, anna.delivered_at, anna.opened_at, anna.clicked_at) == (
        "delivered",
        at(5),
        at(30),
        at(90),
    )
    assert (bram.last_event, bram.delivered_at) == ("delivered", at(4))  # a bounce's equal rank, later
    assert ledger.suppressions() == {(BRAM[0], "*", "hard bounce")}
    assert ledger.recorded() == 11


def test_a_one_click_unsubscribe_goes_through_while_a_large_post_is_applied(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite has one writer at a time: a post applied in one transaction kept the unsubscribe
    waiting until its busy timeout (a 500 after 30 s). The post is held between two chunks."""
    between, resume = threading.Event(), threading.Event()

    def hold() -> None:
        between.set()
        assert resume.wait(30)

    real = webhook.apply_events
    monkeypatch.setattr(
        "comms.operations.recipients.apply_events", lambda *args: real(*args, between_chunks=hold)
    )
    events = [ledger.event("open", BRAM[0], at=at(i)) for i in range(2 * webhook.CHUNK + 1)]
    answers: list[httpx.Response] = []
    post = threading.Thread(target=lambda: answers.append(ledger.site.post_events(events)))
    post.start()
    try:
        assert between.wait(30), "the post never reached the end of its first chunk"
        token = ledger.site.token(Purpose.UNSUBSCRIBE)
        unsubscribed = ledger.site.client.post(f"/afmelden/{token}", data={"List-Unsubscribe": "One-Click"})
    finally:
        resume.set()
        post.join(30)

    assert unsubscribed.status_code == 200
    assert (ANNA[0], "newsletter", "unsubscribed") in ledger.suppressions()
    assert answers[0].json()["applied"] == 2 * webhook.CHUNK + 1
