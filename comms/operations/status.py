"""Editions with their ledger counts, for `comms status`, the scheduler's jobs and the console
(comms.operations.editions offers them too). A module of its own so that `comms status` loads
the ledger queries only, not the builders and transports that comms.operations.editions needs."""

from __future__ import annotations

from comms.editions.status import EditionStatusReport, StatusListing, listing, status

__all__ = ["EditionStatusReport", "StatusListing", "listing", "status"]
