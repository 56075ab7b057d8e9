"""Collecting every configured source into the item and meeting ledgers."""

from __future__ import annotations

from datetime import datetime

from comms.collect.run import CollectOutcome, collect_all
from comms.service import Service

__all__ = ["CollectOutcome", "collect"]


def collect(service: Service, now: datetime) -> CollectOutcome:
    """Fetch every source; a broken source is reported in the outcome and skipped."""
    return collect_all(service.config, service.db, now)
