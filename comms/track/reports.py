"""Mail that comes back: what one message in the bounce mailbox is, read from its bytes.

- a DSN (RFC 3464: multipart/report; report-type=delivery-status), or a bounce in another
  shape that names an SMTP status in its text, sent to one of our VERP addresses;
- a complaint (RFC 5965 ARF: multipart/report; report-type=feedback-report);
- an unsubscribe request: mail to the List-Unsubscribe mailto, whose subject carries the
  signed unsubscribe token ("afmelden <token>", as render.message writes it);
- an automatic reply (RFC 3834) or a delay notice: read, nothing to do;
- anything else: unreadable, left in the mailbox for a person and reported.

Only signed things identify a recipient: our VERP address (track.verp), the Message-ID we
gave the message (edition key and the contact's random public id), or the unsubscribe
token. An address written in a report's text is never trusted.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from email.message import Message
from typing import Literal

from comms.track.bounces import SmtpReply
from comms.track.verp import ReturnPaths

ReportKind = Literal["bounce", "complaint", "unsubscribe", "ignored", "unreadable"]

# Where a delivered message says whom it was for (MTAs and MDAs differ).
_ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To", "Return-Path")
_IN_TEXT = re.compile(r"\b([45]\d\d)[ -]+([45]\.\d{1,3}\.\d{1,3})\b")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_MESSAGE_ID = re.compile(r"<([^<>@\s]+)\.([0-9a-f]{16})@([^<>\s]+)>")
_AUTO_SUBJECT = re.compile(
    r"^\s*(automatisch antwoord|automatic reply|out of office|afwezig|autoreply)", re.I
)


@dataclass(frozen=True, slots=True)
class OriginalMessage:
    """Whom a report is about, as far as our own signed identifiers say."""

    ledger_id: int | None = None  # from the VERP address
    message_ref: tuple[str, str] | None = None  # (edition key, contact public id) from the Message-ID

    @property
    def is_known(self) -> bool:
        return self.ledger_id is not None or self.message_ref is not None


@dataclass(frozen=True, slots=True)
class IncomingReport:
    kind: ReportKind
    key: str  # deduplication: the same mail read twice is acted on once
    original: OriginalMessage = field(default_factory=OriginalMessage)
    reply: SmtpReply | None = None  # bounce: the worst recipient status
    token: str | None = None  # unsubscribe: the signed token from the subject
    reason: str = ""  # ignored or unreadable: why (no addresses: this goes to the log)

    @property
    def is_readable(self) -> bool:
        return self.kind != "unreadable"


def read_report(raw: bytes, return_paths: ReturnPaths | None) -> IncomingReport:
    """What one message from the bounce mailbox is; never raises on odd input."""
    key = "mail:" + hashlib.sha256(raw).hexdigest()[:48]
    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        return _classify(message, key, return_paths)
    except Exception as exc:  # messy input from anywhere: report it, never crash the reader
        return IncomingReport("unreadable", key, reason=f"cannot parse: {type(exc).__name__}")


def _classify(message: Message, key: str, return_paths: ReturnPaths | None) -> IncomingReport:
    report_type = str(message.get_param("report-type", "", header="content-type")).lower()
    is_report = message.get_content_type() == "multipart/report"
    if is_report and report_type == "delivery-status":
        return _delivery_status(message, key, return_paths)
    if is_report and report_type == "feedback-report":
        original = _original(message, return_paths, embedded_first=True)
        if not original.is_known:
            return IncomingReport("unreadable", key, reason="complaint about a message that is not ours")
        return IncomingReport("complaint", key, original)
    token = _unsubscribe_token(message)
    if token is not None:
        return IncomingReport("unsubscribe", key, token=token)
    original = _original(message, return_paths)
    # A bounce in another shape (no RFC 3464 report) to our return path: its text names the status.
    found = _IN_TEXT.search(_text_of(message)) if original.is_known else None
    if found:
        return IncomingReport("bounce", key, original, reply=SmtpReply.parse(found.group(0)))
    if _is_auto_reply(message):
        return IncomingReport("ignored", key, reason="automatic reply")
    if original.is_known:
        return IncomingReport("unreadable", key, original, reason="mail to a return path without a status")
    return IncomingReport("unreadable", key, reason="not a DSN, complaint or unsubscribe request")


def _delivery_status(message: Message, key: str, return_paths: ReturnPaths | None) -> IncomingReport:
    original = _original(message, return_paths)
    failed, delayed = [], 0
    for fields in _recipient_fields(message):
        action = (fields.get("Action") or "").strip().lower()
        if action == "delayed":
            delayed += 1
        if action != "failed":
            continue
        diagnostic = str(fields.get("Diagnostic-Code") or "")
        status = str(fields.get("Status") or "").strip() or None
        failed.append(SmtpReply.parse(diagnostic, status=status))
    if not failed:
        why = "delay notice" if delayed else "report of a delivery"
        return IncomingReport("ignored", key, original, reason=why)
    if not original.is_known:
        return IncomingReport(
            "unreadable", key, reason="DSN for a message that is not ours (no VERP, no Message-ID)"
        )
    # One recipient per envelope (every message goes to one address), so one status counts;
    # a report naming several takes the permanent one.
    reply = max(failed, key=lambda r: r.is_permanent)
    return IncomingReport("bounce", key, original, reply=reply)


def _recipient_fields(message: Message) -> list[Message]:
    """The per-recipient blocks of the message/delivery-status part."""
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            blocks = part.get_payload()
            if isinstance(blocks, list):
                return [b for b in blocks[1:] if isinstance(b, Message)]
    return []


def _original(
    message: Message, return_paths: ReturnPaths | None, embedded_first: bool = False
) -> OriginalMessage:
    """Our identifiers: the VERP address this came to (or, for a complaint, the Return-Path
    of the message complained about), else our Message-ID in the embedded original."""
    embedded = _embedded_headers(message)
    own = [str(v) for name in _ENVELOPE_HEADERS for v in message.get_all(name, [])]
    inner = [str(v) for name in ("Return-Path", *_ENVELOPE_HEADERS) for v in embedded.get_all(name, [])]
    ledger_id = None
    if return_paths is not None:
        ledger_id = return_paths.find([*inner, *own] if embedded_first else [*own, *inner])
    found = _MESSAGE_ID.search(str(embedded.get("Message-ID", "")))
    reference = (found[1], found[2]) if found else None
    return OriginalMessage(ledger_id, reference)


def _embedded_headers(message: Message) -> Message:
    """The returned message's headers (message/rfc822 or text/rfc822-headers); empty if none."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return inner[0]
        if kind in ("text/rfc822-headers", "message/global-headers"):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return email.message_from_bytes(payload, policy=email.policy.compat32)
    return Message()


def _unsubscribe_token(message: Message) -> str | None:
    subject = _decoded(message.get("Subject", ""))
    if "afmelden" not in subject.lower():
        return None
    found = _TOKEN.search(subject)
    return found.group(0) if found else None


def _is_auto_reply(message: Message) -> bool:
    auto = (message.get("Auto-Submitted") or "no").strip().lower()
    if auto != "no" and not auto.startswith("auto-generated"):  # auto-replied: RFC 3834
        return True
    if message.get("X-Autoreply") or message.get("X-Autorespond"):
        return True
    return bool(_AUTO_SUBJECT.match(_decoded(message.get("Subject", ""))))


def _decoded(value: object) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(str(value))))
    except (ValueError, LookupError, UnicodeError):
        return str(value)


def _text_of(message: Message) -> str:
    texts = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                texts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(texts)[:100_000]
