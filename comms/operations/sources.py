"""Collecting every configured source into the item and meeting ledgers."""

from __future__ import annotations

from datetime import datetime

from comms.clock import Clock, SystemClock
from comms.collect.run import CollectOutcome, collect_all
from comms.operations.agenda import settle_missing
from comms.service import Service

__all__ = ["CollectOutcome", "collect"]


def collect(service: Service, now: datetime, clock: Clock | None = None) -> CollectOutcome:
    """Fetch every source; a broken source is reported in the outcome and skipped. Meetings that
    left their feed (or came back) are settled and the team is told (operations.agenda)."""
    outcome = collect_all(service.config, service.db, now)
    settle_missing(service, outcome.missing, clock or SystemClock())
    return outcome
