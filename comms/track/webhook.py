"""SendGrid's signed Event Webhook: verify each post, then apply every event once.

SendGrid signs `timestamp + body` with ECDSA P-256 / SHA-256 and retries a post until it
gets a 2xx, so events arrive more than once and out of order. Each is recorded under its
sg_event_id in DeliveryEvent (a unique key) and only its first arrival has an effect; ledger
columns only ever move forward (first open, first click, a final state over a passing one).
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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from sqlalchemy import or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from comms.config import Config
from comms.errors import ConfigurationError, Rejected
from comms.store.models import Contact, DeliveryEvent, Edition, Message
from comms.track.sql import insert_once
from comms.track.suppressions import (
    DROPPED,
    EVERY_KIND,
    HARD_BOUNCE,
    SPAM_REPORT,
    UNSUBSCRIBED,
    normalise_email,
    suppress,
    unsuppress,
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


class _Applier:
    """The effects of new events, each a small rule on the ledger or the suppressions."""

    def __init__(self, session: Session, config: Config, now: datetime, linked: dict[int, tuple[str, str]]):
        self.session = session
        self.now = now
        self.kinds_by_group = {group: kind for kind, group in config.sendgrid.asm_groups.items()}
        self.linked = linked  # message id → (edition key, contact address)
        self.effects: dict[str, Callable[[ProviderEvent, int | None], None]] = {
            "processed": self.delivery_state,
            "deferred": self.delivery_state,
            "delivered": self.delivered,
            "bounce": self.bounce,
            "dropped": self.dropped,
            "open": lambda event, mid: self.first(Message.opened_at, mid, event.occurred_at),
            "click": lambda event, mid: self.first(Message.clicked_at, mid, event.occurred_at),
            "spamreport": lambda event, mid: self.suppress(event, EVERY_KIND, SPAM_REPORT),
            "unsubscribe": lambda event, mid: self.suppress(event, EVERY_KIND, UNSUBSCRIBED),
            "group_unsubscribe": self.group_unsubscribe,
            "group_resubscribe": self.group_resubscribe,
        }

    def knows(self, event: ProviderEvent) -> bool:
        return event.name in self.effects

    def message_of(self, event: ProviderEvent) -> int | None:
        """The ledger row the event is about, if it really is ours: the same edition (when the
        event names one) and the same address. Another database's ids (a staging setup on the
        same SendGrid account) must not touch this ledger."""
        mid = event.message_id
        if mid is None or mid not in self.linked:
            return None
        edition_key, address = self.linked[mid]
        if (event.edition_key is not None and event.edition_key != edition_key) or address != event.email:
            log.warning("event names ledger message %d but does not match it; not linked", mid)
            return None
        return mid

    def apply(self, event: ProviderEvent, mid: int | None) -> None:
        self.effects[event.name](event, mid)

    def delivery_state(self, event: ProviderEvent, mid: int | None, label: str | None = None) -> None:
        if mid is None:
            return
        label = label or event.name
        not_later = [name for name, rank in _DELIVERY_RANK.items() if rank <= _DELIVERY_RANK[label]]
        self.session.execute(
            update(Message)
            .where(Message.id == mid, or_(Message.last_event.is_(None), Message.last_event.in_(not_later)))
            .values(last_event=label)
        )

    def delivered(self, event: ProviderEvent, mid: int | None) -> None:
        self.first(Message.delivered_at, mid, event.occurred_at)
        self.delivery_state(event, mid)

    def bounce(self, event: ProviderEvent, mid: int | None) -> None:
        if event.is_soft_bounce:
            self.delivery_state(event, mid, "blocked")
            return
        self.suppress(event, EVERY_KIND, HARD_BOUNCE)
        self.delivery_state(event, mid, "bounce")

    def dropped(self, event: ProviderEvent, mid: int | None) -> None:
        # SendGrid drops mail to addresses on its own unsubscribe lists ("Unsubscribed Address",
        # "Unsubscribed Group"): that is the person's unsubscribe for this kind, which they may
        # undo in the preference centre, not a permanent block of every kind.
        if str(event.fields.get("reason", "")).startswith("Unsubscribed"):
            kind = self.kind_of_group(event) or event.fields.get("comms_kind")
            self.suppress(event, kind if isinstance(kind, str) and kind else EVERY_KIND, UNSUBSCRIBED)
        else:
            self.suppress(event, EVERY_KIND, DROPPED)
        self.delivery_state(event, mid)

    def group_unsubscribe(self, event: ProviderEvent, mid: int | None) -> None:
        # A group comms does not know is honoured for every kind: better too much than too little.
        self.suppress(event, self.kind_of_group(event) or EVERY_KIND, UNSUBSCRIBED)

    def group_resubscribe(self, event: ProviderEvent, mid: int | None) -> None:
        kind = self.kind_of_group(event)
        if kind is None:
            log.warning("resubscribe for an unknown unsubscribe group; nothing lifted")
            return
        unsuppress(self.session, event.email, kind, reasons={UNSUBSCRIBED})

    def kind_of_group(self, event: ProviderEvent) -> str | None:
        group = event.asm_group_id
        return None if group is None else self.kinds_by_group.get(group)

    def suppress(self, event: ProviderEvent, scope: str, reason: str) -> None:
        suppress(self.session, event.email, scope, reason, self.now)

    def first(self, column: InstrumentedAttribute[datetime | None], mid: int | None, at: datetime) -> None:
        if mid is None:
            return
        self.session.execute(
            update(Message).where(Message.id == mid, or_(column.is_(None), column > at)).values({column: at})
        )


def _linked_messages(session: Session, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    wanted = sorted(set(ids))
    linked: dict[int, tuple[str, str]] = {}
    for start in range(0, len(wanted), 500):  # stays under every driver's parameter limit
        rows = session.execute(
            select(Message.id, Edition.key, Contact.email)
            .join(Edition, Message.edition_id == Edition.id)
            .join(Contact, Message.contact_id == Contact.id)
            .where(Message.id.in_(wanted[start : start + 500]))
        )
        linked.update({mid: (key, email) for mid, key, email in rows})
    return linked


def apply_events(session: Session, events: list[Any], config: Config, now: datetime) -> EventOutcome:
    """Record and apply a verified post's events; one bad event does not stop the others."""
    parsed = [ProviderEvent.parse(raw, now) for raw in events]
    # In the order they happened (a stable sort): an unsubscribe and a resubscribe in one post.
    good = sorted((event for event in parsed if event is not None), key=lambda e: e.occurred_at)
    linked = _linked_messages(session, (e.message_id for e in good if e.message_id is not None))
    applier = _Applier(session, config, now, linked)
    applied = duplicates = ignored = 0
    for event in good:
        mid = applier.message_of(event)
        record = {
            "event_key": event.key,
            "event": event.name,
            "email": event.email,
            "message_id": mid,
            "occurred_at": event.occurred_at,
            "received_at": now,
            "detail": event.detail,
        }
        if insert_once(session, DeliveryEvent, record, ["event_key"]) is None:
            duplicates += 1
        elif applier.knows(event):
            applier.apply(event, mid)
            applied += 1
        else:
            ignored += 1
    outcome = EventOutcome(applied, duplicates, ignored, len(parsed) - len(good))
    log.info("SendGrid events: %s", " ".join(f"{k}={v}" for k, v in outcome.as_json().items()))
    return outcome
