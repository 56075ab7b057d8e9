"""Collecting every configured source into the item and meeting ledgers."""

from __future__ import annotations

from datetime import datetime

from comms.clock import Clock, SystemClock
from comms.collect.run import CollectOutcome, collect_all
from comms.service import Service

__all__ = ["CollectOutcome", "collect"]


def collect(service: Service, now: datetime, clock: Clock | None = None) -> CollectOutcome:
    """Fetch every source; a broken source is reported in the outcome and skipped. Meetings that
    left their feed (or came back) are settled and the team is told (operations.agenda)."""
    outcome = collect_all(service.config, service.db, now)
    if outcome.missing.gone or outcome.missing.back:
        # The agenda's notices, the team's mail and its transports (~0.5 s to load) are needed
        # only when a meeting left or returned to its feed, not on every collect.
        from comms.operations.agenda import settle_missing

        settle_missing(service, outcome.missing, clock or SystemClock())
    return outcome
