"""Test copies ("proofs") of an edition: one marked copy to a few named addresses.

The team checks an edition in real mailboxes before approving it (a draft is the
usual case) or after it went out. A test copy goes through the configured
transport but never through the message ledger, so the real send is unaffected.
It is marked in the subject ("[TEST] ") and by a notice at the top of both
bodies, shows every optional block (every variant visible), carries placeholder
personal values, and its unsubscribe links do not unsubscribe anyone. Its
edition key is the edition's with "-test" appended: the outbox folder and the
Message-IDs are its own, so a mail system never takes the real message for a
copy it already has.
"""

from __future__ import annotations

import dataclasses
import html
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from email_validator import EmailNotValidError, validate_email

from comms import editions
from comms.clock import Clock
from comms.deliver.outbox import OutboxTransport
from comms.deliver.smtp import SmtpTransport
from comms.deliver.transport import Transport
from comms.deliver.transports import make_transport
from comms.problems import Problem, ValidationFailed
from comms.render.message import Mailing, MailingIdentity, Recipient
from comms.render.templates import Rendered
from comms.service import Service
from comms.store.models import Edition, EditionStatus
from comms.tokens import Signer

MAX_ADDRESSES = 10
SUBJECT_PREFIX = "[TEST] "
KEY_SUFFIX = "-test"
STATUS_NL = {
    EditionStatus.DRAFT: "concept",
    EditionStatus.APPROVED: "goedgekeurd",
    EditionStatus.SENDING: "wordt verzonden",
    EditionStatus.SENT: "verzonden",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PLAIN = re.compile(r"^[^@\s<>\"(),;:\[\]\\]+@[^@\s<>\"(),;:\[\]\\]+$")
_BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ProofOutcome:
    edition_key: str
    destination: str  # the outbox folder, the SMTP relay, or the provider's name
    delivered: list[str]
    failed: list[tuple[str, str]]  # (address, reason)


def proof_key(key: str) -> str:
    return key + KEY_SUFFIX


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
        edition = editions.find_edition(session, key)
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
        _destination(transport),
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
    if status not in STATUS_NL or not edition.html or not edition.text:
        why = f": {edition.status_reason}" if edition.status_reason else ""
        problem = Problem(
            edition.key, f"no test copy: the edition is {edition.status}{why} (nothing to show)"
        )
        raise ValidationFailed([problem])
    real = editions.identity(service, edition)
    identity = dataclasses.replace(
        real, edition_key=proof_key(edition.key), subject=SUBJECT_PREFIX + real.subject
    )
    notice = _notice(edition.key, real.subject, STATUS_NL[status])
    rendered = Rendered(_into_html(edition.html, notice), f"{notice}\n\n{edition.text}")
    return ProofMailing(identity, rendered, service.signer(), now)


def _notice(key: str, subject: str, status: str) -> str:
    # "@@" would read as a personalisation marker in the compiled output.
    subject = subject.replace("@@", "@")
    return (
        f"TESTVERSIE – Dit is een testversie van „{subject}” (editie {key}, status: {status}) "
        "en is niet verstuurd aan de ontvangers. Alle optionele blokken staan erin; naam, "
        "e-mailadres en links zijn voorbeelden."
    )


def _into_html(page: str, notice: str) -> str:
    box = (
        '<div role="note" style="background:#fff3cd;border:2px solid #b38600;color:#1a1a1a;'
        "padding:12px 16px;margin:0 0 16px;font-family:Arial,sans-serif;font-size:15px;"
        f'line-height:1.4"><strong>{html.escape(notice)}</strong></div>'
    )
    tag = _BODY_TAG.search(page)
    at = tag.end() if tag else 0
    return page[:at] + box + page[at:]


class ProofMailing(Mailing):
    """A Mailing whose personal values are placeholders and whose links act for nobody."""

    def __init__(self, identity: MailingIdentity, rendered: Rendered, signer: Signer, now: datetime):
        super().__init__(identity, rendered, signer, now)
        base, domain = identity.base_url, identity.sender.domain
        # Not signed tokens: the web app refuses them, so nobody is unsubscribed by a click.
        self._proof_links = {
            "unsubscribe_url": f"{base}/afmelden/testversie",
            "preferences_url": f"{base}/voorkeuren/testversie",
            "unsubscribe_mailto": f"mailto:afmelden@{domain}?subject=afmelden%20testversie",
        }

    def links(self, recipient: Recipient) -> dict[str, str]:
        return dict(self._proof_links)

    def values(self, recipient: Recipient, links: dict[str, str] | None = None) -> dict[str, str]:
        return dict(editions.PREVIEW_VALUES)


def _destination(transport: Transport) -> str:
    if isinstance(transport, OutboxTransport):
        return f"outbox {transport.messages_dir}"
    if isinstance(transport, SmtpTransport):
        return f"SMTP server {transport.address}"
    return transport.name
