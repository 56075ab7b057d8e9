"""The team's operations on editions of any kind: build, preview, test-send, approve, hold,
discard, schedule the send, send now, status, and start what is due."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from comms import kinds
from comms.clock import Clock, SystemClock
from comms.deliver.run import Progress
from comms.deliver.transport import Transport
from comms.deliver.transports import make_transport
from comms.editions import delivery, lifecycle, proofs
from comms.editions.delivery import DryRunOutcome, SendOutcome, has_due_work, sending
from comms.editions.delivery import deliver_edition as deliver
from comms.editions.lifecycle import approve, discard, hold, schedule_send, start_sending
from comms.editions.proofs import ProofOutcome
from comms.editions.views import EditionStatusReport, planned_for, preview, status
from comms.errors import Refused
from comms.kinds import BuildOutcome, BuildRequest, DueBuild, PeriodicKind, TriggeredKind
from comms.service import Service

# Several operations are the editions package's own functions: approve, hold, discard,
# schedule_send, start_sending (lifecycle), deliver, sending, has_due_work (delivery), planned_for,
# preview and status (views).
__all__ = [
    "BuildOutcome",
    "DryRunOutcome",
    "DueBuild",
    "EditionStatusReport",
    "ProofOutcome",
    "SendOutcome",
    "approve",
    "build",
    "build_due",
    "check_period",
    "deliver",
    "discard",
    "dry_run",
    "has_due_work",
    "hold",
    "planned_for",
    "preview",
    "schedule_send",
    "send_now",
    "send_test_copy",
    "sending",
    "start_due",
    "start_sending",
    "status",
]


def build(service: Service, kind: str, request: BuildRequest) -> BuildOutcome:
    """Compose and render the edition of a periodic kind (the newsletter, the digest) as a draft."""
    found = kinds.find(kind)
    if not isinstance(found, PeriodicKind):
        raise Refused(f"{kind} editions are built as they become due, not one at a time")
    return found.build(service, request)


def check_period(kind: str, period: str) -> None:
    """ValueError, saying what is expected, when `period` names no edition of the kind
    ("2026-12" for a month's newsletter)."""
    found = kinds.find(kind)
    if not isinstance(found, PeriodicKind):
        raise ValueError(f"{kind} editions are not built for a period")
    found.check_period(period)


def build_due(service: Service, kind: str, now: datetime, template: str | None = None) -> DueBuild:
    """Make every edition of a triggered kind (agenda notices, survey reminders) due to exist now."""
    return _triggered(kind).build_due(service, now, template)


def start_due(service: Service, kind: str, clock: Clock) -> list[str]:
    """Start every approved edition of the kind whose planned time has come; their keys."""
    return lifecycle.start_due(service, _triggered(kind), clock)


def _triggered(kind: str) -> TriggeredKind:
    found = kinds.find(kind)
    if not isinstance(found, TriggeredKind):
        raise Refused(f"{kind} has one edition per planned send: build it for its send")
    return found


def send_test_copy(service: Service, key: str, addresses: Iterable[str], clock: Clock) -> ProofOutcome:
    """A marked test copy to each address (at most 10); the message ledger is not touched."""
    return proofs.send_proofs(service, key, addresses, clock)


def send_now(
    service: Service,
    key: str,
    clock: Clock | None = None,
    progress: Progress | None = None,
    transport: Transport | None = None,
) -> SendOutcome:
    """Start an approved edition and deliver it in this process; resumes one that was interrupted,
    and a sent edition sends nothing."""
    clock = clock or SystemClock()
    transport = transport or make_transport(service.config, key, clock, ledger=True)
    return delivery.send(service, key, transport, clock, progress)


def dry_run(service: Service, key: str, clock: Clock | None = None) -> tuple[str, DryRunOutcome]:
    """Every message through the transport's sandbox (SendGrid); (transport name, outcome)."""
    clock = clock or SystemClock()
    transport = make_transport(service.config, key, clock, dry_run=True)
    return transport.name, delivery.dry_run(service, key, transport, clock)
