"""`comms worker`: delivery only, for scale-out.

Any number of workers, on any number of machines, deliver the editions that are
sending (the scheduler or `comms send` started them); the message ledger hands
each batch to one of them (`FOR UPDATE SKIP LOCKED` on PostgreSQL). A worker never
waits for a transient failure's retry time inside a round: it comes back for it
on a later round, so one slow edition does not hold up the others.

Faults do not end the loop: an unavailable transport leaves its batch in the
queue and is tried again after `[serve] worker_poll_seconds`; a database that
went away (restart, failover, terminated backends) is logged in one line and
tried again after the same interval. Results the transport already accepted are
kept and acknowledged once the database is back (deliver.run); only when it stays
away past the claim timeout does `AcknowledgementFailed` end the run.

Signals belong to the caller (the CLI command, or `comms serve` running this in a
thread): it sets `stop`, the batch in hand is finished and acknowledged, and
nothing more is claimed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError

from comms.clock import Clock
from comms.deliver.transport import Transport, TransportUnavailable
from comms.deliver.transports import make_transport
from comms.operations import editions
from comms.problems import ValidationFailed
from comms.service import Service
from comms.store.database import database_away, database_reason

log = logging.getLogger(__name__)
TransportFor = Callable[[str], Transport]  # edition key → a fresh transport for one round


@dataclass(frozen=True, slots=True)
class EditionRound:
    """What one round did for one edition: counts only, never addresses."""

    key: str
    delivered: int
    counts: dict[str, int]


class Worker:
    """Delivers every sending edition, oldest first, until stopped (or idle, if asked)."""

    def __init__(
        self,
        service: Service,
        clock: Clock,
        stop: threading.Event,
        transport_for: TransportFor | None = None,
        on_round: Callable[[EditionRound], None] | None = None,
    ):
        self.service = service
        self.clock = clock
        self.stop = stop
        self.transport_for = transport_for or (
            lambda key: make_transport(service.config, key, clock, ledger=True)
        )
        self.on_round = on_round
        self.delivered = 0  # over the worker's whole life

    def run(self, exit_when_idle: bool = False) -> int:
        """Rounds until `stop` is set; returns how many messages this worker delivered.

        With `exit_when_idle` it returns once nothing is due: no sending edition has a
        pending message or a failed one whose retry time has come. Messages claimed by
        other live workers are theirs to finish, and transient failures waiting for a
        later retry time are left for a long-running worker (or the next run).
        Raises AcknowledgementFailed (deliver.run): the caller should exit non-zero.
        """
        poll = self.service.config.serve.worker_poll_seconds
        while not self.stop.is_set():
            try:
                if self.run_once():
                    continue
                if exit_when_idle and not self._has_due_work():
                    break
            except DBAPIError as exc:
                if not database_away(exc):
                    raise
                log.warning("database unavailable (%s); trying again in %g s", database_reason(exc), poll)
            self.stop.wait(poll)  # the stop event, so SIGTERM ends the wait at once
        return self.delivered

    def run_once(self) -> int:
        """One round over the sending editions; returns the messages delivered in it."""
        delivered = 0
        for key in self._sending():
            if self.stop.is_set():
                break
            delivered += self._deliver(key)
        return delivered

    def _deliver(self, key: str) -> int:
        transport = self.transport_for(key)  # a configuration problem ends the worker: not caught
        before = self.delivered
        try:
            outcome = editions.deliver(
                self.service,
                key,
                transport,
                self.clock,
                progress=self._count,
                should_stop=self.stop.is_set,
                wait_for_retries=False,
            )
        except TransportUnavailable as exc:
            # deliver has put the batch back untouched; the next round tries again.
            log.warning(
                "edition %s: transport unavailable, nothing lost, trying again later: %s",
                key,
                exc,
                extra={"edition": key},
            )
            return self.delivered - before
        except ValidationFailed as exc:  # held or cancelled since it was listed
            log.warning("edition %s: not delivered: %s", key, exc, extra={"edition": key})
            return self.delivered - before
        done = self.delivered - before
        if done:
            log.info(
                "edition %s: %d message(s) delivered this round",
                key,
                done,
                extra={"edition": key, "delivered": done, "counts": dict(outcome.counts)},
            )
        if self.on_round and done:
            self.on_round(EditionRound(key, done, outcome.counts))
        return done

    def _count(self, done: int, total: int) -> None:
        # Per acknowledged batch, so a round cut short by a fault still counts what it sent.
        self.delivered += done

    def _sending(self) -> list[str]:
        return editions.sending(self.service)

    def _has_due_work(self) -> bool:
        return editions.has_due_work(self.service, self.clock.now())
