"""Test copies ("proofs") of an edition: one marked copy to a few named addresses.

The team checks an edition in real mailboxes before approving it (a draft is the usual
case) or after it went out. A test copy goes through the configured transport but never
through the message ledger, so the real send is unaffected. How a copy is marked:
render.proof.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from email_validator import EmailNotValidError, validate_email

from comms import kinds
from comms.clock import Clock
from comms.deliver.transport import Transport
from comms.deliver.transports import describe_destination, make_transport
from comms.problems import Problem, ValidationFailed
from comms.render.message import Mailing, Recipient
from comms.render.proof import ProofMailing, proof_identity, proof_key, proof_notice, proof_rendered
from comms.service import Service
from comms.store.editions import find_edition
from comms.store.models import Edition, EditionStatus

MAX_ADDRESSES = 10
# A test copy shows what is or will be sent: not of a held or discarded edition.
_SHOWABLE = (EditionStatus.DRAFT, EditionStatus.APPROVED, EditionStatus.SENDING, EditionStatus.SENT)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PLAIN = re.compile(r"^[^@\s<>\"(),;:\[\]\\]+@[^@\s<>\"(),;:\[\]\\]+$")


@dataclass(frozen=True, slots=True)
class ProofOutcome:
    edition_key: str
    destination: str  # the outbox folder, the SMTP relay, or the provider's name
    delivered: list[str]
    failed: list[tuple[str, str]]  # (address, reason)


def send_proofs(
    service: Service,
    key: str,
    addresses: Iterable[str],
    clock: Clock,
    transport: Transport | None = None,
) -> ProofOutcome:
    """Send one test copy of the edition to each address; raises ValidationFailed (nothing sent)
    for a bad address or an edition without content, TransportUnavailable from the transport."""
    recipients = check_addresses(addresses)
    with service.db.session() as session:
        edition = find_edition(session, key)
        mailing = proof_mailing(service, edition, clock.now())
    transport = transport or make_transport(service.config, proof_key(key), clock)
    batch = secrets.token_hex(4)  # a fresh Message-ID per test send: a second one is not dropped
    messages = [
        mailing.message(Recipient(number, f"{batch}-{number}", address, "", ""), mailing.blocks)
        for number, address in enumerate(recipients, start=1)
    ]
    transport.open()
    try:
        results = transport.send_batch(messages)
    finally:
        transport.close()
    address_of = {m.ledger_id: m.recipient.email for m in messages}
    return ProofOutcome(
        key,
        describe_destination(transport),
        [address_of[r.ledger_id] for r in results if r.delivered],
        [(address_of[r.ledger_id], r.reason or "unknown") for r in results if not r.delivered],
    )


def check_addresses(addresses: Iterable[str]) -> list[str]:
    """Plain addresses only (no names, brackets or line breaks: no header injection), at most
    MAX_ADDRESSES; every problem is reported at once. Returns them normalised, without repeats."""
    given = list(addresses)
    problems = []
    if not given:
        problems.append(Problem("--to", "name at least one address for the test copy"))
    if len(given) > MAX_ADDRESSES:
        problems.append(Problem("--to", f"at most {MAX_ADDRESSES} addresses, got {len(given)}"))
    checked: list[str] = []
    for raw in given:
        reason, address = _check_address(raw)
        if reason:
            problems.append(Problem("--to", f"{raw!r}: {reason}"))
        elif address.lower() not in {a.lower() for a in checked}:
            checked.append(address)
    if problems:
        raise ValidationFailed(problems)
    return checked


def _check_address(raw: str) -> tuple[str | None, str]:
    if _CONTROL.search(raw):
        return "contains a line break or another control character", ""
    if not raw.isascii() or not _PLAIN.match(raw):
        return "not a plain address like naam@provincie.nl (no name, brackets or spaces)", ""
    try:
        return None, validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        return str(exc), ""


def proof_mailing(service: Service, edition: Edition, now: datetime) -> Mailing:
    """The edition's own output with the test notice on top, under its own key and subject."""
    status = EditionStatus(edition.status)
    if status not in _SHOWABLE or not edition.html or not edition.text:
        why = f": {edition.status_reason}" if edition.status_reason else ""
        reason = f"no test copy: the edition is {edition.status}{why} (nothing to show)"
        raise ValidationFailed([Problem(edition.key, reason)])
    real = kinds.find(edition.kind).identity(service, edition)
    notice = proof_notice(edition.key, real.subject, status.label)
    rendered = proof_rendered(edition.html, edition.text, notice)
    return ProofMailing(proof_identity(real), rendered, service.signer(), now)
