"""Collect every configured source into the item ledger; a broken one is skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from comms.collect.items import SourceResult
from comms.collect.items import SourceState as Validators
from comms.collect.ledger import LedgerCounts, record_items
from comms.collect.source import collect_source
from comms.config import Config
from comms.problems import Problem
from comms.store.database import Database
from comms.store.models import SourceState


@dataclass
class CollectOutcome:
    per_source: dict[str, tuple[SourceResult, LedgerCounts]] = field(default_factory=dict)

    @property
    def problems(self) -> list[Problem]:
        return [p for result, _ in self.per_source.values() for p in result.problems]


def collect_all(config: Config, db: Database, now: datetime) -> CollectOutcome:
    outcome = CollectOutcome()
    for source in config.sources:
        with db.session() as session:
            state = session.get(SourceState, source.name) or SourceState(name=source.name)
            validators = Validators(etag=state.etag, last_modified=state.last_modified)
        result = collect_source(source, validators, config.base_dir)
        with db.session() as session:
            counts = record_items(session, result.items, now) if not result.is_broken else LedgerCounts()
            _save_state(session, source.name, result, now)
        outcome.per_source[source.name] = (result, counts)
    return outcome


def _save_state(session: Session, name: str, result: SourceResult, now: datetime) -> None:
    state = session.get(SourceState, name) or SourceState(name=name)
    if not result.is_broken:
        # Keep the old validators when the fetch failed, so the next one is still conditional.
        state.etag = result.state.etag
        state.last_modified = result.state.last_modified
    state.fetched_at = now
    state.outcome = "; ".join(str(p) for p in result.problems if p.is_error) or "ok"
    session.add(state)
