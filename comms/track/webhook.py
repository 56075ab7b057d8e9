"""SendGrid's signed Event Webhook: verify each post, then apply every event once.

SendGrid signs `timestamp + body` with ECDSA P-256 / SHA-256 and retries a post until it
gets a 2xx, so events arrive more than once and out of order. Each is recorded under its
sg_event_id in DeliveryEvent (a unique key) and only its first arrival has an effect; ledger
columns only ever move forward (first open, first click, a final state over a passing one).

A post (up to thousands of events) is applied in chunks, each its own short transaction with
set-based statements, so it never holds SQLite's write lock long enough to keep a recipient's
unsubscribe waiting. It is applied within the request rather than queued for the worker: the
answer still says what was applied, a failure still makes SendGrid retry (the retry's events
already recorded count as duplicates), and the webhook needs no worker running to take effect.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from comms.config import Config
from comms.errors import ConfigurationError, Rejected
from comms.store.database import Database
from comms.store.models import Contact, DeliveryEvent, Edition, Message
from comms.track.suppressions import (
    DROPPED,
    EVERY_KIND,
    HARD_BOUNCE,
    SPAM_REPORT,
    UNSUBSCRIBED,
    Change,
    apply_changes,
    normalise_email,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
_UNIX_SECONDS = re.compile(r"^[0-9]{1,12}$")


class WebhookRejected(Rejected):
    """A post that is not provably SendGrid's, now: nothing of it is stored."""

    def __init__(self, reason: str, status: int = 401):
        super().__init__(reason)
        self.reason = reason
        self.status = status  # 400: malformed; 401: not authentic or not fresh


class WebhookKeyInvalid(ConfigurationError, ValueError):
    """The configured verification key is not a base64 DER P-256 public key."""


@functools.lru_cache(maxsize=4)
def load_public_key(public_key_b64: str) -> ec.EllipticCurvePublicKey:
    try:
        key = load_der_public_key(base64.b64decode(public_key_b64.strip(), validate=True))
    except (ValueError, binascii.Error, UnsupportedAlgorithm) as exc:
        raise WebhookKeyInvalid("[sendgrid] webhook_public_key is not a base64 DER public key") from exc
    if not (isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)):
        raise WebhookKeyInvalid("[sendgrid] webhook_public_key is not an ECDSA P-256 key")
    return key


def verify_signature(
    public_key_b64: str,
    payload: bytes,
    signature_b64: str | None,
    timestamp: str | None,
    now: datetime,
    max_age: float,
) -> None:
    """Raise WebhookRejected unless SendGrid signed `timestamp + payload` within `max_age` seconds
    of `now` (either side: a far-future stamp would otherwise stay replayable for long)."""
    if not signature_b64 or not timestamp:
        raise WebhookRejected("missing signature or timestamp header")
    if not _UNIX_SECONDS.match(timestamp):
        raise WebhookRejected("timestamp is not an integer", 400)
    age = now.timestamp() - int(timestamp)
    if age > max_age:
        raise WebhookRejected(f"timestamp is more than {max_age:g} seconds old")
    if age < -max_age:
        raise WebhookRejected(f"timestamp is more than {max_age:g} seconds in the future")
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except binascii.Error as exc:
        raise WebhookRejected("signature is not base64", 400) from exc
    key = load_public_key(public_key_b64)
    try:
        key.verify(signature, timestamp.encode() + payload, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:  # also what a signature that is not DER raises
        raise WebhookRejected("signature does not match") from exc


@dataclass(frozen=True, slots=True)
class EventOutcome:
    applied: int = 0  # new, known events (their effects are in the database)
    duplicates: int = 0  # seen before: nothing changed
    ignored: int = 0  # new events of a kind comms does not act on; recorded
    problems: int = 0  # not an event at all (no event name or address); skipped

    def __add__(self, other: EventOutcome) -> EventOutcome:
        return EventOutcome(
            self.applied + other.applied,
            self.duplicates + other.duplicates,
            self.ignored + other.ignored,
            self.problems + other.problems,
        )

    def as_json(self) -> dict[str, int]:
        return {
            "applied": self.applied,
            "duplicates": self.duplicates,
            "ignored": self.ignored,
            "problems": self.problems,
        }


# The ledger's last_event moves forward only: a late 'deferred' never hides a 'delivered'.
_DELIVERY_RANK = {"processed": 0, "deferred": 1, "delivered": 2, "bounce": 2, "blocked": 2, "dropped": 2}
# What is kept of an event besides its name and address: enough to explain, no IPs or user agents.
_DETAIL_KEYS = (
    "type",
    "status",
    "reason",
    "response",
    "attempt",
    "bounce_classification",
    "asm_group_id",
    "sg_message_id",
    "sg_machine_open",
    "comms_edition",
    "comms_kind",
)
_MAX_DETAIL_CHARS = 500
_MAX_EVENT_ID_CHARS = 150


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One SendGrid event; custom args (`comms_message`, `comms_edition`) are top-level keys."""

    name: str
    email: str
    key: str  # the deduplication key
    occurred_at: datetime
    fields: dict[str, Any]

    @classmethod
    def parse(cls, raw: object, now: datetime) -> ProviderEvent | None:
        """None for something that is not an event: it cannot be acted on or recorded."""
        if not isinstance(raw, dict):
            return None
        name, email = raw.get("event"), raw.get("email")
        if not isinstance(name, str) or not name or not isinstance(email, str):
            return None
        address = normalise_email(email)
        if not address or len(address) > 320:
            return None
        return cls(name[:30], address, _event_key(raw), _occurred_at(raw.get("timestamp"), now), raw)

    @property
    def message_id(self) -> int | None:
        value = self.fields.get("comms_message")
        return int(value) if isinstance(value, str) and value.isdigit() else None

    @property
    def edition_key(self) -> str | None:
        value = self.fields.get("comms_edition")
        return value if isinstance(value, str) else None

    @property
    def is_soft_bounce(self) -> bool:
        # SendGrid's bounce event says type "bounce" (hard) or "blocked" (soft); a bounce
        # without a type is treated as hard, the side that protects the sending reputation.
        return self.fields.get("type") == "blocked"

    @property
    def asm_group_id(self) -> int | None:
        value = self.fields.get("asm_group_id")
        if isinstance(value, bool):
            return None
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return int(value)
        return None

    @property
    def detail(self) -> str:
        kept = {k: _short(self.fields[k]) for k in _DETAIL_KEYS if k in self.fields}
        return json.dumps(kept, ensure_ascii=False, sort_keys=True, default=str)


def _short(value: object) -> object:
    return value[:_MAX_DETAIL_CHARS] if isinstance(value, str) else value


def _event_key(raw: dict[str, Any]) -> str:
    event_id = raw.get("sg_event_id")
    if isinstance(event_id, str) and 0 < len(event_id) <= _MAX_EVENT_ID_CHARS:
        return f"sg:{event_id}"
    # No usable id: the same event re-posted still hashes the same.
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _occurred_at(value: object, now: datetime) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return now


# Events applied per transaction. A post holds SQLite's single write lock only for one chunk
# (a few milliseconds), so a recipient's unsubscribe waits on a chunk, never on a whole post;
# 500 also keeps every IN list under each driver's parameter limit.
CHUNK = 500
_FIRST_COLUMNS = {"delivered": "delivered_at", "open": "opened_at", "click": "clicked_at"}


@dataclass
class _Plan:
    """What one chunk's new events do, gathered first and then written set-based: one
    statement per kind of change instead of two or three ORM statements per event."""

    config: Config
    linked: dict[int, tuple[str, str]]  # message id → (edition key, contact address)
    first: dict[str, dict[int, datetime]] = field(default_factory=dict)  # column → message → earliest
    last_event: dict[int, str] = field(default_factory=dict)  # message → the label it moves to
    suppressions: list[Change] = field(default_factory=list)  # in the order the events happened
    unlinked: int = 0  # events naming a ledger message they do not match
    unknown_groups: int = 0  # resubscribes for an unsubscribe group comms does not know

    def __post_init__(self) -> None:
        self.kinds_by_group = {group: kind for kind, group in self.config.sendgrid.asm_groups.items()}

    def message_of(self, event: ProviderEvent) -> int | None:
        """The ledger row the event is about, if it really is ours: the same edition (when the
        event names one) and the same address. Another database's ids (a staging setup on the
        same SendGrid account) must not touch this ledger."""
        mid = event.message_id
        if mid is None or mid not in self.linked:
            return None
        edition_key, address = self.linked[mid]
        if (event.edition_key is not None and event.edition_key != edition_key) or address != event.email:
            self.unlinked += 1
            return None
        return mid

    def add(self, event: ProviderEvent, mid: int | None) -> bool:
        """Plan the event's effect; False for an event comms does not act on."""
        name = event.name
        if name in _FIRST_COLUMNS:
            self.first_time(_FIRST_COLUMNS[name], mid, event.occurred_at)
            if name == "delivered":
                self.delivery_state(mid, name)
        elif name in ("processed", "deferred"):
            self.delivery_state(mid, name)
        elif name == "bounce":
            # SendGrid's bounce event says type "bounce" (hard) or "blocked" (soft); see is_soft_bounce.
            if not event.is_soft_bounce:
                self.suppress(event, EVERY_KIND, HARD_BOUNCE)
            self.delivery_state(mid, "blocked" if event.is_soft_bounce else "bounce")
        elif name == "dropped":
            self.dropped(event)
            self.delivery_state(mid, name)
        elif name == "spamreport":
            self.suppress(event, EVERY_KIND, SPAM_REPORT)
        elif name == "unsubscribe":
            self.suppress(event, EVERY_KIND, UNSUBSCRIBED)
        elif name == "group_unsubscribe":
            # A group comms does not know is honoured for every kind: better too much than too little.
            self.suppress(event, self.kind_of_group(event) or EVERY_KIND, UNSUBSCRIBED)
        elif name == "group_resubscribe":
            kind = self.kind_of_group(event)
            if kind is None:
                self.unknown_groups += 1
            else:
                self.suppressions.append(Change(event.email, kind, UNSUBSCRIBED, lift=True))
        else:
            return False
        return True

    def dropped(self, event: ProviderEvent) -> None:
        # SendGrid drops mail to addresses on its own unsubscribe lists ("Unsubscribed Address",
        # "Unsubscribed Group"): that is the person's unsubscribe for this kind, which they may
        # undo in the preference centre, not a permanent block of every kind.
        if str(event.fields.get("reason", "")).startswith("Unsubscribed"):
            kind = self.kind_of_group(event) or event.fields.get("comms_kind")
            self.suppress(event, kind if isinstance(kind, str) and kind else EVERY_KIND, UNSUBSCRIBED)
        else:
            self.suppress(event, EVERY_KIND, DROPPED)

    def kind_of_group(self, event: ProviderEvent) -> str | None:
        group = event.asm_group_id
        return None if group is None else self.kinds_by_group.get(group)

    def suppress(self, event: ProviderEvent, scope: str, reason: str) -> None:
        self.suppressions.append(Change(event.email, scope, reason))

    def first_time(self, column: str, mid: int | None, at: datetime) -> None:
        if mid is None:
            return
        earliest = self.first.setdefault(column, {})
        if mid not in earliest or at < earliest[mid]:
            earliest[mid] = at

    def delivery_state(self, mid: int | None, label: str) -> None:
        # The ledger's last_event moves forward only. Events come in time order, so the label a
        # message ends with is the last one of the highest rank (a later equal rank replaces it).
        if mid is None:
            return
        current = self.last_event.get(mid)
        if current is None or _DELIVERY_RANK[current] <= _DELIVERY_RANK[label]:
            self.last_event[mid] = label

    def write(self, session: Session, now: datetime) -> None:
        messages = cast(Table, Message.__table__)
        for column_name, earliest in self.first.items():
            column = messages.c[column_name]
            session.execute(
                update(messages)
                .where(messages.c.id == bindparam("mid"), or_(column.is_(None), column > bindparam("at")))
                .values({column_name: bindparam("at")}),
                [{"mid": mid, "at": at} for mid, at in earliest.items()],
            )
        by_label: dict[str, list[int]] = {}
        for mid, label in self.last_event.items():
            by_label.setdefault(label, []).append(mid)
        for label, mids in by_label.items():
            not_later = [name for name, rank in _DELIVERY_RANK.items() if rank <= _DELIVERY_RANK[label]]
            session.execute(
                update(messages)
                .where(
                    messages.c.id.in_(mids),
                    or_(messages.c.last_event.is_(None), messages.c.last_event.in_(not_later)),
                )
                .values(last_event=label)
            )
        apply_changes(session, self.suppressions, now)


def _linked_messages(session: Session, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    rows = session.execute(
        select(Message.id, Edition.key, Contact.email)
        .join(Edition, Message.edition_id == Edition.id)
        .join(Contact, Message.contact_id == Contact.id)
        .where(Message.id.in_(sorted(set(ids))))
    )
    return {mid: (key, email) for mid, key, email in rows}


def _record_new(
    session: Session, events: list[ProviderEvent], mids: list[int | None], now: datetime
) -> set[str]:
    """Record the chunk's events in DeliveryEvent (ON CONFLICT DO NOTHING); the keys that are new.
    The unique event_key is what makes a redelivered event a duplicate, also across racing posts."""
    table = cast(Table, DeliveryEvent.__table__)
    rows, seen = [], set()
    for event, mid in zip(events, mids, strict=True):
        if event.key in seen:
            continue
        seen.add(event.key)
        rows.append(
            {
                "event_key": event.key,
                "event": event.name,
                "email": event.email,
                "message_id": mid,
                "occurred_at": event.occurred_at,
                "received_at": now,
                "detail": event.detail,
            }
        )
    if not rows:
        return set()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing(index_elements=["event_key"])
    return set(session.scalars(statement.returning(table.c.event_key), rows))


def _apply_chunk(
    session: Session, events: list[ProviderEvent], config: Config, now: datetime
) -> EventOutcome:
    linked = _linked_messages(session, (e.message_id for e in events if e.message_id is not None))
    plan = _Plan(config, linked)
    mids = [plan.message_of(event) for event in events]
    new = _record_new(session, events, mids, now)
    applied = duplicates = ignored = 0
    for event, mid in zip(events, mids, strict=True):
        if event.key not in new:
            duplicates += 1
            continue
        new.discard(event.key)  # a second copy in the same post is a duplicate too
        if plan.add(event, mid):
            applied += 1
        else:
            ignored += 1
    plan.write(session, now)
    if plan.unlinked:
        log.warning("%d event(s) name a ledger message they do not match; not linked", plan.unlinked)
    if plan.unknown_groups:
        log.warning("%d resubscribe(s) for an unknown unsubscribe group; nothing lifted", plan.unknown_groups)
    return EventOutcome(applied, duplicates, ignored)


def apply_events(
    db: Database,
    events: list[Any],
    config: Config,
    now: datetime,
    between_chunks: Callable[[], None] | None = None,
) -> EventOutcome:
    """Record and apply a verified post's events, CHUNK at a time, each chunk in its own short
    transaction; one bad event does not stop the others.

    A failure part-way leaves the chunks before it applied and answers 5xx: SendGrid posts the
    whole batch again, and the events already recorded count as duplicates, so each still has
    its effect once. `between_chunks` runs after each chunk but the last (tests hold a post there).
    """
    parsed = [ProviderEvent.parse(raw, now) for raw in events]
    # In the order they happened (a stable sort): an unsubscribe and a resubscribe in one post.
    good = sorted((event for event in parsed if event is not None), key=lambda e: e.occurred_at)
    outcome = EventOutcome(problems=len(parsed) - len(good))
    for start in range(0, len(good), CHUNK):
        if start and between_chunks is not None:
            between_chunks()
        with db.session() as session:
            outcome += _apply_chunk(session, good[start : start + CHUNK], config, now)
    log.info(
        "SendGrid events: %s",
        " ".join(f"{k}={v}" for k, v in outcome.as_json().items()),
        extra={"events": outcome.as_json()},
    )
    return outcome
