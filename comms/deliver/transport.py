"""The one interface every transport implements; the queue never knows which runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from comms.errors import Unavailable
from comms.render.message import OutgoingMessage


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    ledger_id: int
    delivered: bool
    reason: str | None = None
    retry_after: timedelta | None = None  # set for transient failures: try again later
    # What an SMTP server answered for the recipient (the bounce policy reads them).
    smtp_code: int | None = None
    enhanced_status: str | None = None  # "5.1.1"

    @property
    def is_permanent_failure(self) -> bool:
        return not self.delivered and self.retry_after is None


class TransportUnavailable(Unavailable):
    """Nothing can be delivered now (wrong credentials, server unreachable): stop the run.

    The batch goes back to the queue as it was, so a fixed configuration resumes cleanly.
    """


class Transport(Protocol):
    name: str
    batch_size: int  # what suits it when [delivery] batch_size is not set
    # It keeps the messages as files (the outbox): the edition's index and previews go beside them.
    writes_files: bool

    def open(self) -> None: ...

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        """Hand a batch over; one result per message, in any order. Never raises for one bad message."""
        ...

    def close(self) -> None: ...
