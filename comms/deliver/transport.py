"""The one interface every transport implements; the queue never knows which runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from comms.errors import CommsError, Unavailable
from comms.render.message import OutgoingMessage


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What became of one message. Exactly one of: delivered, uncertain, or failed
    (transient with `retry_after`, else permanent)."""

    ledger_id: int
    delivered: bool
    reason: str | None = None
    retry_after: timedelta | None = None  # set for transient failures: try again later
    # Handed over, but no verdict came (no reply to SMTP's final dot): it may have been
    # delivered, so it is not sent again at once (the queue retries it once, much later).
    uncertain: bool = False
    # The server's own verdict on a refusal, for whoever reacts to it (bounce handling):
    # the reply code (550) and RFC 3463 enhanced status code ("5.1.1") when it gave one.
    reply_code: int | None = None
    enhanced_code: str | None = None

    @property
    def is_uncertain(self) -> bool:
        return self.uncertain and not self.delivered

    @property
    def is_permanent_failure(self) -> bool:
        return not self.delivered and not self.uncertain and self.retry_after is None

    @property
    def is_permanent_refusal(self) -> bool:
        """The server refused the recipient for good (5xx): what makes a hard bounce."""
        return self.is_permanent_failure and self.reply_code is not None and 500 <= self.reply_code < 600

    @classmethod
    def unbuildable(cls, ledger_id: int, error: Exception) -> DeliveryResult:
        """A message that could not be built or encoded: it fails alone, for good, with why."""
        reason = str(error) if isinstance(error, CommsError) else f"{type(error).__name__}: {error}"
        return cls(ledger_id, False, f"cannot be sent: {reason}")


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
