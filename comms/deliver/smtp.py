"""SMTP transport: one connection reused for many messages, reopened when it drops.

Reply codes decide a message's fate: 4xx is transient (retried later), 5xx is
permanent for that recipient (the reason is kept). A server that cannot be
reached, refuses the login, or hangs before its greeting makes the transport
unavailable: the batch goes back to the queue and the run stops with the reason.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

from comms.config import SmtpConfig
from comms.deliver.transport import DeliveryResult, TransportUnavailable
from comms.render.message import OutgoingMessage

RETRY_SOON = timedelta(minutes=1)
_ENHANCED = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")  # RFC 3463, at the start of the reply text
# Signed, so a relay or list software cannot change them unnoticed.
DKIM_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"List-Id",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
    b"MIME-Version",
    b"Content-Type",
    b"Reply-To",
)


class DkimSigner:
    def __init__(self, selector: str, domain: str, key_pem: bytes):
        self.selector, self.domain, self.key = selector.encode(), domain.encode(), key_pem

    @classmethod
    def from_file(cls, selector: str, domain: str, path: Path) -> DkimSigner:
        return cls(selector, domain, path.read_bytes())

    def sign(self, data: bytes) -> bytes:
        import dkim  # dkimpy; imported here so SMTP without DKIM needs no key material

        signature = dkim.sign(data, self.selector, self.domain, self.key, include_headers=list(DKIM_HEADERS))
        return signature + data


class SmtpTransport:
    name = "smtp"
    writes_files = False
    batch_size = 20  # small: a batch is also the crash window (accepted, not yet acknowledged)

    def __init__(
        self,
        settings: SmtpConfig,
        envelope_from: str,
        password: str | None = None,
        dkim: DkimSigner | None = None,
        return_path: Callable[[int], str] | None = None,
    ):
        self.settings = settings
        self.envelope_from = envelope_from
        self.return_path = return_path  # VERP: the envelope sender per ledger row
        self.password = password
        self.dkim = dkim
        self._connection: smtplib.SMTP | None = None

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def open(self) -> None:
        """Connections are opened on first use, so an idle run never touches the server."""

    def close(self) -> None:
        if self._connection is not None:
            # The server may have gone away first: nothing left to close politely.
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._connection.quit()
            self._connection = None

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        results: list[DeliveryResult] = []
        for message in messages:
            try:
                results.append(self._send_one(message))
            except TransportUnavailable:
                if not any(r.delivered for r in results):
                    raise  # nothing went out: the whole batch goes back untouched
                # Some went out: keep their results; the rest waits for a retry.
                results += [
                    DeliveryResult(m.ledger_id, False, "SMTP server unavailable", RETRY_SOON)
                    for m in messages[len(results) :]
                ]
                break
        return results

    def _send_one(self, message: OutgoingMessage) -> DeliveryResult:
        data = self.dkim.sign(message.data) if self.dkim else message.data
        for attempt in (1, 2):
            connection = self._connect()
            envelope_from = self.return_path(message.ledger_id) if self.return_path else self.envelope_from
            try:
                refused = connection.sendmail(envelope_from, [message.recipient.email], data)
            except smtplib.SMTPRecipientsRefused as exc:
                code, reply = next(iter(exc.recipients.values()))
                return _by_code(message, code, reply)
            except smtplib.SMTPSenderRefused as exc:
                if 500 <= exc.smtp_code < 600:
                    raise TransportUnavailable(
                        f"{self.address} refuses the sender {envelope_from}: {_text(exc.smtp_error)}"
                    ) from exc
                return _by_code(message, exc.smtp_code, exc.smtp_error)
            except smtplib.SMTPDataError as exc:
                return _by_code(message, exc.smtp_code, exc.smtp_error)
            except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
                # Dropped mid-message: not accepted. Reconnect once, then leave it to a retry.
                self._connection = None
                if attempt == 2:
                    return DeliveryResult(message.ledger_id, False, f"connection lost: {exc}", RETRY_SOON)
                continue
            if refused:
                code, reply = next(iter(refused.values()))
                return _by_code(message, code, reply)
            return DeliveryResult(message.ledger_id, True)
        raise AssertionError("unreachable")

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        settings = self.settings
        try:
            self._connection = self._open_connection()
            if settings.username:
                self._connection.login(settings.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            self._connection = None
            raise TransportUnavailable(
                f"{self.address} refused the login of {settings.username!r}: {_text(exc.smtp_error)}"
                " (check COMMS_SMTP_PASSWORD)"
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._connection = None
            # smtplib reports a greeting that never comes as "unexpectedly closed: timed out".
            if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
                reason = f"{self.address} did not answer within {settings.timeout_seconds:g} s"
                raise TransportUnavailable(reason) from exc
            raise TransportUnavailable(f"cannot connect to SMTP server {self.address}: {exc}") from exc
        return self._connection

    def _open_connection(self) -> smtplib.SMTP:
        settings = self.settings
        context = ssl.create_default_context(cafile=settings.ca_file) if settings.security != "none" else None
        if settings.security == "tls":
            return smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout_seconds, context=context
            )
        connection = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        if settings.security == "starttls":
            connection.starttls(context=context)
        return connection


def _by_code(message: OutgoingMessage, code: int, reply: bytes | str) -> DeliveryResult:
    reason = f"{code} {_text(reply)}"
    found = _ENHANCED.match(_text(reply))
    status = found[1] if found else None
    retry = RETRY_SOON if 400 <= code < 500 else None
    return DeliveryResult(message.ledger_id, False, reason, retry, smtp_code=code, enhanced_status=status)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
