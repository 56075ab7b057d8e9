"""SMTP transport: one connection reused for many messages, reopened when it drops.

Reply codes decide a message's fate: 4xx is transient (retried later), 5xx is
permanent for that recipient (the reason, reply code and enhanced status code are
kept). A server that cannot be reached, refuses the login, or hangs before its
greeting makes the transport unavailable: the batch goes back to the queue and the
run stops with the reason.

Timeouts are RFC 5321's (§4.5.3.2): `command_timeout_seconds` (5 minutes) for the
greeting and each command, `data_timeout_seconds` (10 minutes) for the reply to the
final dot. Once the final dot is sent the relay has the whole message; if its reply
does not come (timeout, dropped connection) the message may well have been accepted,
so it is *uncertain*: not sent again now (the queue tries it once more, much later).

Addresses: see render.address. An IDN domain goes as punycode; an address whose
local part is not ASCII needs a relay that offers SMTPUTF8 (asked in EHLO), and
fails alone, with that reason, at one that does not.
"""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import ssl
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

from comms.config import SmtpConfig
from comms.deliver.transport import DeliveryResult, TransportUnavailable
from comms.errors import Unavailable
from comms.render.address import SMTPUTF8_NEEDED
from comms.render.message import OutgoingMessage

RETRY_SOON = timedelta(minutes=1)
ENHANCED_CODE = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})\b")
log = logging.getLogger(__name__)
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


class _NotHandedOver(Unavailable):
    """The connection failed before the final dot went out: the relay cannot have the message."""


class _NoVerdict(Unavailable):
    """The final dot went out, but no reply came: the relay may have accepted the message."""


class SmtpTransport:
    name = "smtp"
    writes_files = False
    batch_size = 20  # small: a batch is also the crash window (accepted, not yet acknowledged)

    def __init__(
        self,
        settings: SmtpConfig,
        password: str | None = None,
        dkim: DkimSigner | None = None,
        return_path: Callable[[int], str] | None = None,
    ):
        self.settings = settings
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
                if not any(r.delivered or r.is_uncertain for r in results):
                    raise  # nothing went out: the whole batch goes back untouched
                # Some went out: keep their results; the rest waits for a retry.
                results += [
                    DeliveryResult(m.ledger_id, False, "SMTP server unavailable", RETRY_SOON)
                    for m in messages[len(results) :]
                ]
                break
        return results

    def _send_one(self, message: OutgoingMessage) -> DeliveryResult:
        try:
            recipient = message.address.wire
            data = self.dkim.sign(message.data) if self.dkim else message.data
        except Exception as exc:  # a message that cannot be written fails alone
            return DeliveryResult.unbuildable(message.ledger_id, exc)
        for attempt in (1, 2):
            connection = self._connect()
            if message.needs_smtputf8 and not connection.has_extn("smtputf8"):
                reason = f"the address {SMTPUTF8_NEEDED}; {self.address} does not offer SMTPUTF8"
                return DeliveryResult(message.ledger_id, False, reason)
            try:
                return self._transaction(connection, message, recipient, data)
            except _NotHandedOver as exc:
                # Dropped before the end of the message: not accepted. Reconnect once, then retry later.
                self._connection = None
                if attempt == 2:
                    return DeliveryResult(message.ledger_id, False, f"connection lost: {exc}", RETRY_SOON)
            except _NoVerdict as exc:
                self._connection = None
                log.warning(
                    "no reply to the end of message %d from %s: %s", message.ledger_id, self.address, exc
                )
                return DeliveryResult(message.ledger_id, False, str(exc), uncertain=True)
        raise AssertionError("unreachable")

    def _transaction(
        self, connection: smtplib.SMTP, message: OutgoingMessage, recipient: str, data: bytes
    ) -> DeliveryResult:
        """MAIL, RCPT, DATA for one message; the reply decides its fate."""
        options = ["SMTPUTF8", "BODY=8BITMIME"] if message.needs_smtputf8 else []
        # VERP, else the message's own From address: a bounce reaches the desk that sent it.
        identity = message.mailing.identity
        envelope_from = self.return_path(message.ledger_id) if self.return_path else identity.sender.address
        try:
            code, reply = connection.mail(envelope_from, options)
            if code != 250:
                self._reset(connection)
                if 500 <= code < 600:
                    raise TransportUnavailable(
                        f"{self.address} refuses the sender {envelope_from}: {code} {_text(reply)}"
                    )
                return _by_code(message.ledger_id, code, reply)
            code, reply = connection.rcpt(recipient)
            if code not in (250, 251):
                self._reset(connection)
                return _by_code(message.ledger_id, code, reply)
            code, reply = connection.docmd("DATA")
            if code != 354:
                self._reset(connection)
                return _by_code(message.ledger_id, code, reply)
            connection.send(_dot_stuffed(data))
        except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            raise _NotHandedOver(_lost(exc)) from exc
        code, reply = self._final_reply(connection)
        if code != 250:
            return _by_code(message.ledger_id, code, reply)
        return DeliveryResult(message.ledger_id, True)

    def _final_reply(self, connection: smtplib.SMTP) -> tuple[int, bytes]:
        """The reply to the final dot, waited for `data_timeout_seconds` (RFC 5321: 10 minutes)."""
        settings = self.settings
        assert connection.sock is not None
        connection.sock.settimeout(settings.data_timeout_seconds)
        try:
            return connection.getreply()
        except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
                raise _NoVerdict(
                    f"uncertain: the message was sent, but {self.address} did not confirm it within "
                    f"{settings.data_timeout_seconds:g} s"
                ) from exc
            raise _NoVerdict(
                f"uncertain: the message was sent, but the connection to {self.address} was lost "
                f"before it confirmed it ({_lost(exc)})"
            ) from exc
        finally:
            if connection.sock is not None:
                connection.sock.settimeout(settings.command_timeout_seconds)

    def _reset(self, connection: smtplib.SMTP) -> None:
        """RSET after a refusal, so the connection can carry the next message."""
        try:
            connection.rset()
        except (smtplib.SMTPException, OSError):
            self._connection = None  # reconnect for the next one

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        settings = self.settings
        try:
            self._connection = self._open_connection()
            if settings.username:
                self._connection.login(settings.username, self.password or "")
            self._connection.ehlo_or_helo_if_needed()  # its extensions say whether SMTPUTF8 is offered
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
                reason = f"{self.address} did not answer within {settings.command_timeout_seconds:g} s"
                raise TransportUnavailable(reason) from exc
            raise TransportUnavailable(f"cannot connect to SMTP server {self.address}: {exc}") from exc
        return self._connection

    def _open_connection(self) -> smtplib.SMTP:
        settings = self.settings
        timeout = settings.command_timeout_seconds
        context = ssl.create_default_context(cafile=settings.ca_file) if settings.security != "none" else None
        if settings.security == "tls":
            return smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=context)
        connection = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        if settings.security == "starttls":
            connection.starttls(context=context)
        return connection


def _dot_stuffed(data: bytes) -> bytes:
    """The DATA payload: a line starting with "." gets another (RFC 5321 §4.5.2), then CRLF.CRLF."""
    stuffed = re.sub(rb"(?m)^\.", b"..", data)
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


def _by_code(ledger_id: int, code: int, reply: bytes | str) -> DeliveryResult:
    text = _text(reply)
    reason = f"{code} {text}"
    enhanced = ENHANCED_CODE.match(text)
    retry = RETRY_SOON if 400 <= code < 500 else None
    code_text = enhanced.group(1) if enhanced else None
    return DeliveryResult(ledger_id, False, reason, retry, reply_code=code, enhanced_code=code_text)


def _lost(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
