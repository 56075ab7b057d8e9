"""Where the answers of an anonymous round wait, and how they reach the responses table.

Whoever can read the database must not be able to tell whose answers a response holds. So the
submission is split. Completion is marked on the invitation in one transaction (the respondent
can send only once, reminders stop). The answers go to the pool in a transaction of their own:
sealed (AES-GCM, a key derived from COMMS_SECRET_KEY for this use only), under a random id, with
no time and no link. Once the pool holds 2k entries (k = the round's `min_group_size`), all but
k of them, chosen at random, are written to the responses table in one transaction:

- in the order of fresh random ids, so neither physical order (PostgreSQL ctid, SQLite rowid)
  nor the ids follow the order of submission; all of them share the batch's xmin, which no
  completion has;
- with role and province only where at least k responses of the batch share them (else
  "overig"), so even someone who knows who completed between two batches finds at least k
  people behind every label;
- and then, in a transaction of its own, the invitations answered so far are counted in the
  published results (`counted`), so the results page moves in steps of at least k.

The k kept back are sealed again under new ids. They make sure the round's close, which writes
everything left, also adds at least k responses at once, never the last one or two alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from comms.store.database import Database
from comms.store.models import Survey, SurveyInvitation, SurveyPoolEntry, SurveyResponse
from comms.survey.definitions import Answer, SurveyDefinition

log = logging.getLogger(__name__)

OTHER = "overig"  # a role or province shared by fewer than k responses of the batch
Label = tuple[str, str]
_NONCE = 12


class Seal:
    """Seals pool entries so they can be read by this service only, bound to their round."""

    def __init__(self, secret_key: str):
        key = hmac.new(secret_key.encode(), b"comms-survey-pool", hashlib.sha256).digest()
        self._aead = AESGCM(key)

    def seal(self, data: bytes, round_: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, data, round_.encode())

    def open(self, sealed: bytes, round_: str) -> bytes | None:
        """None when the entry was sealed under another key (COMMS_SECRET_KEY changed) or round."""
        try:
            return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], round_.encode())
        except (InvalidTag, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class Pooled:
    """What waits in the pool: the answers and the invitee's group (both sealed)."""

    answers: dict[str, Answer]
    role: str | None
    province: str | None

    def to_bytes(self) -> bytes:
        data = {"answers": self.answers, "role": self.role, "province": self.province}
        return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Pooled:
        value = json.loads(data)
        return cls(value["answers"], value["role"], value["province"])


def add(session: Session, seal: Seal, survey: Survey, pooled: Pooled) -> None:
    """Put a response in the pool. Must not share a transaction with the completion mark: the
    entry would then carry the same xmin as the invitation (PostgreSQL)."""
    entry = {"id": uuid4().hex, "survey_id": survey.id, "sealed": seal.seal(pooled.to_bytes(), survey.round)}
    session.execute(insert(SurveyPoolEntry), [entry])


def write_batch(session: Session, seal: Seal, survey: Survey, minimum: int, closing: bool = False) -> int:
    """Write a batch if the pool holds 2k entries (everything when `closing`); how many were written."""
    minimum = max(minimum, 1)
    needed = 1 if closing else 2 * minimum
    if _waiting(session, survey.id) < needed:
        return 0
    # One writer per round: the no-op update locks the round's row (PostgreSQL) or the database
    # (SQLite); a second writer then finds the pool emptied and writes nothing.
    session.execute(update(Survey).where(Survey.id == survey.id).values(round=Survey.round))
    entries = session.scalars(select(SurveyPoolEntry).where(SurveyPoolEntry.survey_id == survey.id)).all()
    if len(entries) < needed:
        return 0
    readable = []
    for entry in entries:
        data = seal.open(entry.sealed, survey.round)
        if data is not None:
            readable.append((entry.id, Pooled.from_bytes(data)))
    if len(readable) < len(entries):  # no content, no names: just that some cannot be opened
        log.warning(
            "survey %s: %d pooled response(s) cannot be opened (was COMMS_SECRET_KEY changed?)",
            survey.round,
            len(entries) - len(readable),
        )
    if not readable:
        return 0
    random.SystemRandom().shuffle(readable)
    keep = 0 if closing else minimum
    kept, written = [p for _, p in readable[:keep]], [p for _, p in readable[keep:]]
    session.execute(delete(SurveyPoolEntry).where(SurveyPoolEntry.id.in_([i for i, _ in readable])))
    if kept:  # under new ids and nonces: nothing ties them to the entries they were
        rows = [
            {"id": uuid4().hex, "survey_id": survey.id, "sealed": seal.seal(p.to_bytes(), survey.round)}
            for p in kept
        ]
        session.execute(insert(SurveyPoolEntry), rows)
    _insert_responses(session, survey.id, written, minimum)
    return len(written)


def count_answered(session: Session, survey_id: int) -> None:
    """Count the invitations answered so far in the published results. A transaction of its own
    after a batch (so no invitation shares the batch's xmin), and every invitation of the round is
    rewritten, answered or not: their xmin then tells nothing of when each one answered."""
    session.execute(
        update(SurveyInvitation)
        .where(SurveyInvitation.survey_id == survey_id)
        .values(counted=SurveyInvitation.submitted)
        .execution_options(synchronize_session=False)
    )


def _insert_responses(session: Session, survey_id: int, batch: Sequence[Pooled], minimum: int) -> None:
    if not batch:
        return
    labels = batch_labels([(p.role, p.province) for p in batch], minimum)
    rows = sorted(
        (
            {
                "id": uuid4().hex,
                "survey_id": survey_id,
                "role": role,
                "province": province,
                "invitation_id": None,
                "submitted_at": None,
                "answers": json.dumps(p.answers, ensure_ascii=False, sort_keys=True),
            }
            for p, (role, province) in zip(batch, labels, strict=True)
        ),
        key=lambda row: str(row["id"]),
    )
    # One statement in this order: rows lie on disk in the order of their random ids.
    session.execute(insert(SurveyResponse), rows)


def _waiting(session: Session, survey_id: int) -> int:
    count = select(func.count()).select_from(SurveyPoolEntry).where(SurveyPoolEntry.survey_id == survey_id)
    return session.scalar(count) or 0


def batch_labels(groups: Sequence[tuple[str | None, str | None]], minimum: int) -> list[Label]:
    """The (role, province) stored with each response of a batch: the pair where at least
    `minimum` of the batch share it; else the role alone, else the province alone, where
    `minimum` of the rest share that; else ("overig", "overig"). That last group must hold
    `minimum` or none, or it would be told apart: the smallest other groups join it until it does.
    """
    plain = [(role or OTHER, province or OTHER) for role, province in groups]
    labels: list[Label | None] = [None] * len(plain)
    for level in (lambda r, p: (r, p), lambda r, _: (r, OTHER), lambda _, p: (OTHER, p)):
        pending = [i for i, label in enumerate(labels) if label is None]
        sizes = Counter(level(*plain[i]) for i in pending)
        for i in pending:
            if sizes[level(*plain[i])] >= minimum:
                labels[i] = level(*plain[i])
    rest = (OTHER, OTHER)

    def residue() -> int:
        return sum(1 for label in labels if label is None or label == rest)

    while 0 < residue() < minimum:
        sizes = Counter(label for label in labels if label is not None and label != rest)
        if not sizes:
            break
        smallest = min(sizes, key=lambda label: (sizes[label], label))
        labels = [None if label == smallest else label for label in labels]
    return [label or rest for label in labels]


# -- the close -------------------------------------------------------------------------------------


def write_closed(db: Database, seal: Seal, now: datetime) -> int:
    """Every anonymous round that closed: whatever its pool still holds is written, and the
    answers counted; how many responses were written."""
    with db.session() as session:
        closed = session.scalars(
            select(Survey).where(Survey.closes_at <= now, Survey.id.in_(select(SurveyPoolEntry.survey_id)))
        ).all()
    written = 0
    for survey in closed:
        minimum = SurveyDefinition.from_json(survey.definition).min_group_size
        with db.session() as session:
            written += write_batch(session, seal, survey, minimum, closing=True)
        with db.session() as session:
            count_answered(session, survey.id)
    return written
