"""SMTP transport: a few connections in parallel, each reused for many messages (up to
`messages_per_connection`), pipelined where the relay offers it, reopened when they drop.

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

The relay's limits: a 421 closes that connection (its message is transient, the messages
behind it go to a fresh connection); a 4.7.x reply (throttling, greylisting) makes that
message transient with a longer retry hint and halves the connections used from then on.
"""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from comms.config import SmtpConfig
from comms.deliver.transport import DeliveryResult, TransportUnavailable
from comms.render.address import SMTPUTF8_NEEDED
from comms.render.message import OutgoingMessage

RETRY_SOON = timedelta(minutes=1)
RETRY_THROTTLED = timedelta(minutes=5)  # a relay that asked us to slow down gets some rest
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


class _Broken(Exception):
    """A write failed; `done` leading parts went out whole."""

    def __init__(self, done: int, error: OSError):
        super().__init__(str(error))
        self.done, self.error = done, error


# A reply that does not come: timeouts, resets, EOF (smtplib's SMTPServerDisconnected).
LOST = (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError, OSError)
BROKEN_OR_LOST = (_Broken, *LOST)
RSET = b"RSET\r\n"
UNSAFE_IN_ENVELOPE = re.compile(r"[\r\n<> ]")
MAX_LINE = 8192  # smtplib's _MAXLINE
LINE_STARTING_WITH_A_DOT = re.compile(rb"\n\.")
SEND_BUFFER = 256 * 1024  # bytes: a whole newsletter fits, so one write takes it
Buffer = bytes | memoryview
DATA = b"DATA\r\n"
# What each envelope command must get for the transaction to go on: MAIL, RCPT, DATA.
ACCEPTED = ((250,), (250, 251), (354,))


@dataclass(slots=True)
class _Item:
    message: OutgoingMessage
    attempt: int = 1  # a connection lost before the message was handed over makes it 2


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A message ready for the wire: its envelope commands and its DATA content."""

    item: _Item
    commands: tuple[bytes, bytes, bytes]  # MAIL FROM, RCPT TO, DATA
    content: tuple[Buffer, ...]  # the message (slices of it when dot-stuffed), then the end of data

    @property
    def ledger_id(self) -> int:
        return self.item.message.ledger_id

    @property
    def sender(self) -> str:
        return self.commands[0].split(b"<", 1)[1].split(b">", 1)[0].decode("utf-8", "replace")


class _Batch:
    """What the connections share while they send one batch: the messages left, the results.

    deque.popleft/appendleft and list.append are atomic in CPython: no lock is needed.
    """

    def __init__(self, messages: Sequence[OutgoingMessage]):
        self.left = deque(_Item(m) for m in messages)
        self.results: list[DeliveryResult] = []
        self.stopped: TransportUnavailable | None = None  # the relay refuses the sender: stop
        self.unavailable: TransportUnavailable | None = None  # a connection could not be opened

    def take(self) -> _Item | None:
        if self.stopped is not None:
            return None
        try:
            return self.left.popleft()
        except IndexError:
            return None

    def put_back(self, item: _Item) -> None:
        """First in line again: it was not handed over, through no fault of its own or once."""
        self.left.appendleft(item)

    @property
    def anything_went_out(self) -> bool:
        return any(r.delivered or r.is_uncertain for r in self.results)


class SmtpTransport:
    """Up to `connections` connections to one relay, each carrying a share of every batch.

    Each connection pipelines (RFC 2920) where the relay offers it: MAIL FROM, RCPT TO and
    DATA go out in one write, and each message's content goes out together with the next
    message's envelope (the RFC allows content as the first "command" of a group), so a
    message costs one round trip instead of four. Without PIPELINING each command waits for
    its reply, as before.
    """

    name = "smtp"
    writes_files = False
    # Per connection: a batch is also the crash window (accepted, not yet acknowledged).
    batch_per_connection = 20

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
        self.batch_size = self.batch_per_connection * settings.connections
        self.connection_limit = settings.connections  # lowered when the relay throttles
        self._lanes = [_Lane(self, slot) for slot in range(settings.connections)]
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def open(self) -> None:
        """Connections are opened on first use, so an idle run never touches the server."""

    def close(self) -> None:
        for lane in self._lanes:
            lane.quit()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        batch = _Batch(messages)
        for lane in self._lanes[self.connection_limit :]:
            lane.quit()  # the relay asked for fewer connections
        lanes = self._lanes[: max(1, min(self.connection_limit, len(messages)))]
        futures = [self._executor().submit(lane.run, batch) for lane in lanes[1:]]
        try:
            lanes[0].run(batch)
        finally:
            for future in futures:
                future.result()
        if batch.left and batch.stopped is None and lanes[0].connection is not None:
            lanes[0].run(batch)  # put back, after lane 0 had finished, by a lane that could not connect
        # In the batch's order, as the one-connection path gives them: the lanes finish in any order.
        place = {message.ledger_id: n for n, message in enumerate(messages)}
        return sorted(batch.results + self._left_over(batch), key=lambda r: place.get(r.ledger_id, 0))

    def _left_over(self, batch: _Batch) -> list[DeliveryResult]:
        """Messages no connection could take: the batch goes back, or they wait for a retry."""
        if not batch.left:
            return []
        error = batch.stopped or batch.unavailable
        if error is not None and not batch.anything_went_out:
            raise error  # nothing went out: the whole batch goes back untouched
        # Some went out: keep their results; the rest waits for a retry.
        return [
            DeliveryResult(item.message.ledger_id, False, "SMTP server unavailable", RETRY_SOON)
            for item in batch.left
        ]

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            workers = max(1, self.settings.connections - 1)
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="smtp")
        return self._pool

    def throttled(self, why: str) -> None:
        """A 4.7.x reply (or a refused extra connection): half the connections from now on."""
        with self._lock:
            before = self.connection_limit
            self.connection_limit = max(1, before // 2)
        if self.connection_limit < before:
            log.warning("%s %s: %d connection(s) from now on", self.address, why, self.connection_limit)

    def prepare(self, item: _Item, connection: smtplib.SMTP) -> _Prepared | DeliveryResult:
        """The message's bytes for this connection; a result instead when it fails alone."""
        message = item.message
        try:
            recipient = message.address.wire
            data = self.dkim.sign(message.data) if self.dkim else message.data
        except Exception as exc:  # a message that cannot be written fails alone
            return DeliveryResult.unbuildable(message.ledger_id, exc)
        if message.needs_smtputf8 and not connection.has_extn("smtputf8"):
            reason = f"the address {SMTPUTF8_NEEDED}; {self.address} does not offer SMTPUTF8"
            return DeliveryResult(message.ledger_id, False, reason)
        # VERP, else the message's own From address: a bounce reaches the desk that sent it.
        identity = message.mailing.identity
        envelope_from = self.return_path(message.ledger_id) if self.return_path else identity.sender.address
        try:
            commands = _envelope(envelope_from, recipient, message.needs_smtputf8)
        except ValueError as exc:
            return DeliveryResult.unbuildable(message.ledger_id, exc)
        return _Prepared(item, commands, _content(data, whole=isinstance(connection.sock, ssl.SSLSocket)))

    def connect(self) -> smtplib.SMTP:
        settings = self.settings
        connection: smtplib.SMTP | None = None
        try:
            connection = self._open_connection()
            if settings.username:
                connection.login(settings.username, self.password or "")
            connection.ehlo_or_helo_if_needed()  # its extensions say whether SMTPUTF8 is offered
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportUnavailable(
                f"{self.address} refused the login of {settings.username!r}: {_text(exc.smtp_error)}"
                " (check COMMS_SMTP_PASSWORD)"
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            if connection is not None:
                connection.close()
            # smtplib reports a greeting that never comes as "unexpectedly closed: timed out".
            if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
                reason = f"{self.address} did not answer within {settings.command_timeout_seconds:g} s"
                raise TransportUnavailable(reason) from exc
            raise TransportUnavailable(f"cannot connect to SMTP server {self.address}: {exc}") from exc
        assert connection.sock is not None
        # Commands are written together, in as few writes as possible: Nagle would only delay them.
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        return connection

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


class _Lane:
    """One connection and its share of each batch, pipelined or in lock-step.

    Fates, exactly as one message at a time over one connection gives them: a reply decides
    (250 delivered, 4xx transient, 5xx permanent); the connection lost before the final dot
    went out: not handed over, tried once more on a fresh connection, then transient; lost
    after it: uncertain. A message whose envelope only rode along with another message's
    content when the connection broke goes back to the batch as if never tried.
    """

    def __init__(self, transport: SmtpTransport, slot: int):
        self.transport, self.slot = transport, slot
        self.connection: smtplib.SMTP | None = None
        self.carried = 0  # transactions started on this connection
        self.needs_reset = False  # the last transaction was refused: RSET before the next
        self.pipelines = False  # RFC 2920: the relay offers PIPELINING (and it is not turned off)

    def run(self, batch: _Batch) -> None:
        self.batch = batch
        pending: _Prepared | None = None  # its DATA got 354: its content goes out next
        while True:
            following = self._next(pending)
            if pending is None and following is None:
                break
            pending = self._round(pending, following)
        if self.slot >= self.transport.connection_limit:
            self.quit()

    def quit(self) -> None:
        if self.connection is not None:
            # The server may have gone away first: nothing left to close politely.
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.connection.quit()
            self._drop()

    def _next(self, pending: _Prepared | None) -> _Prepared | None:
        if self.slot >= self.transport.connection_limit:
            return None
        limit = self.transport.settings.messages_per_connection
        if limit and self.carried >= limit:
            if pending is not None:
                return None  # the message in hand first, then a fresh connection
            self.quit()
        while (item := self.batch.take()) is not None:
            connection = self.connection or self._connect(item)
            if connection is None:
                return None
            prepared = self.transport.prepare(item, connection)
            if isinstance(prepared, _Prepared):
                return prepared
            self.batch.results.append(prepared)
        return None

    def _connect(self, item: _Item) -> smtplib.SMTP | None:
        try:
            self.connection = self.transport.connect()
        except TransportUnavailable as exc:
            self.batch.put_back(item)
            self.batch.unavailable = self.batch.unavailable or exc
            if self.slot > 0:  # a relay that takes fewer connections than configured
                self.transport.throttled("refused another connection")
            return None
        self.carried, self.needs_reset = 0, False
        self.pipelines = self.transport.settings.pipelining and self.connection.has_extn("pipelining")
        return self.connection

    def _drop(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection = None

    # -- one exchange ------------------------------------------------------------------------

    def _round(self, pending: _Prepared | None, following: _Prepared | None) -> _Prepared | None:
        """The content of `pending` and its verdict, then the envelope of `following`; returns
        `following` when its DATA was accepted."""
        if following is not None:
            self.carried += 1
        if self.pipelines:
            return self._pipelined(pending, following)
        return self._lock_step(pending, following)

    def _pipelined(self, pending: _Prepared | None, following: _Prepared | None) -> _Prepared | None:
        parts: list[Buffer] = list(pending.content) if pending else []
        reset, self.needs_reset = self.needs_reset, False
        if reset:
            parts.append(RSET)
        if following is not None:
            parts.append(b"".join(following.commands))
        try:
            self._write(parts)
        except _Broken as broken:
            if pending is None or broken.done < len(pending.content):
                self._drop()
                self._not_handed_over(pending or following, broken.error)
                self._aside(following if pending else None)
                return None
            self._verdict(pending)  # the final dot went out: a verdict may still be read
            self._drop()
            self._aside(following)
            return None
        if not self._settled(pending, reset, following) or following is None:
            return None
        replies: list[tuple[int, bytes]] = []
        lost: BaseException | None = None
        for _ in ACCEPTED:
            try:
                replies.append(self._reply())
            except LOST as exc:
                lost = exc
                break
            if replies[-1][0] == 421:
                break  # the relay closes the connection: no more replies come
        return self._decide(following, replies, lost)

    def _lock_step(self, pending: _Prepared | None, following: _Prepared | None) -> _Prepared | None:
        reset, self.needs_reset = self.needs_reset, False  # only after a refusal: never with `pending`
        try:
            self._write(list(pending.content) if pending else [RSET] if reset else [])
        except _Broken as broken:
            if pending is None:
                self._drop()  # RSET did not go out: a fresh connection for `following`
            elif broken.done < len(pending.content):
                self._drop()
                self._not_handed_over(pending, broken.error)
                self._aside(following)
                return None
        if not self._settled(pending, reset, following) or following is None:
            return None
        replies: list[tuple[int, bytes]] = []
        lost: BaseException | None = None
        for command, accepted in zip(following.commands, ACCEPTED, strict=True):
            try:
                self._write([command])
                replies.append(self._reply())
            except BROKEN_OR_LOST as exc:
                lost = exc.error if isinstance(exc, _Broken) else exc
                break
            if replies[-1][0] not in accepted:
                break
        return self._decide(following, replies, lost)

    def _settled(self, pending: _Prepared | None, reset: bool, following: _Prepared | None) -> bool:
        """The verdict on `pending`, or RSET's reply; False, with `following` set aside, when the
        connection went."""
        if (pending is not None and not self._verdict(pending)) or (reset and not self._reset_read()):
            self._aside(following)
            return False
        return True

    def _decide(
        self, prepared: _Prepared, replies: list[tuple[int, bytes]], lost: BaseException | None
    ) -> _Prepared | None:
        """The envelope's replies: the first refusal decides; all accepted, its content goes next."""
        for (code, reply), accepted in zip(replies, ACCEPTED, strict=False):
            if code in accepted:
                continue
            self.needs_reset = True
            if accepted == ACCEPTED[0] and 500 <= code < 600:
                self.batch.stopped = TransportUnavailable(
                    f"{self.transport.address} refuses the sender {prepared.sender}: {code} {_text(reply)}"
                )
                self.batch.put_back(prepared.item)
            else:
                self._refused(prepared, code, reply)
            if len(replies) == len(ACCEPTED) and replies[-1][0] == 354:
                self._abort_data()  # a relay that says 354 to a refused envelope: send nothing
            if lost is not None:
                self._drop()
            return None
        if lost is not None or len(replies) < len(ACCEPTED):
            self._drop()
            self._not_handed_over(prepared, lost)
            return None
        return prepared

    def _verdict(self, prepared: _Prepared) -> bool:
        """The reply to the final dot, waited for `data_timeout_seconds` (RFC 5321: 10 minutes).
        False when the connection is gone."""
        connection = self.connection
        settings = self.transport.settings
        assert connection is not None and connection.sock is not None
        connection.sock.settimeout(settings.data_timeout_seconds)
        try:
            code, reply = connection.getreply()
        except LOST as exc:
            self._drop()
            log.warning(
                "no reply to the end of message %d from %s: %s",
                prepared.ledger_id,
                self.transport.address,
                _lost(exc),
            )
            reason = _no_verdict(exc, self.transport.address, settings.data_timeout_seconds)
            self.batch.results.append(DeliveryResult(prepared.ledger_id, False, reason, uncertain=True))
            return False
        finally:
            if connection.sock is not None:
                connection.sock.settimeout(settings.command_timeout_seconds)
        if code == 250:
            self.batch.results.append(DeliveryResult(prepared.ledger_id, True))
        else:
            self._refused(prepared, code, reply)
        return self.connection is not None

    def _refused(self, prepared: _Prepared, code: int, reply: bytes) -> None:
        result = _by_code(prepared.ledger_id, code, reply)
        self.batch.results.append(result)
        if _throttles(result):
            # The codes only: the reply's text may name the recipient.
            self.transport.throttled(f"throttles ({code} {result.enhanced_code})")
        if code == 421:
            self._drop()  # RFC 5321 §3.8: the relay closes the connection after a 421

    def _reset_read(self) -> bool:
        """RSET's reply; False (and a fresh connection next) when it does not come."""
        if self.connection is None:
            return False
        try:
            code, _ = self._reply()
        except LOST:
            code = 0
        if code != 250:
            self._drop()
        return self.connection is not None

    def _abort_data(self) -> None:
        try:
            self._write([b".\r\n"])
            self._reply()
        except BROKEN_OR_LOST:
            self._drop()

    def _not_handed_over(self, prepared: _Prepared | None, error: BaseException | None) -> None:
        """Lost before the final dot: the relay cannot have it. Once more, then later."""
        if prepared is None:
            return
        if prepared.item.attempt >= 2:
            reason = f"connection lost: {_lost(error) if error else 'closed'}"
            self.batch.results.append(DeliveryResult(prepared.ledger_id, False, reason, RETRY_SOON))
            return
        prepared.item.attempt += 1
        self.batch.put_back(prepared.item)

    def _aside(self, prepared: _Prepared | None) -> None:
        """Its envelope rode along with a message whose connection broke: not its fault."""
        if prepared is not None:
            self.batch.put_back(prepared.item)

    # -- the wire --------------------------------------------------------------------------

    def _reply(self) -> tuple[int, bytes]:
        """smtplib's getreply, leaner (it is read four times per message): the same errors."""
        connection = self.connection
        assert connection is not None
        if connection.file is None:
            return connection.getreply()
        lines = []
        while True:
            try:
                line = connection.file.readline(MAX_LINE + 1)
            except OSError as exc:
                connection.close()
                raise smtplib.SMTPServerDisconnected(f"Connection unexpectedly closed: {exc}") from exc
            if not line:
                connection.close()
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            lines.append(line[4:].strip(b" \t\r\n"))
            if line[3:4] != b"-" or len(lines) > 100:
                break
        code = int(line[:3]) if line[:3].isdigit() else -1
        return code, lines[0] if len(lines) == 1 else b"\n".join(lines)

    def _write(self, parts: Sequence[Buffer]) -> None:
        """All parts, without joining them into one copy; `_Broken` says how many went out."""
        assert self.connection is not None
        sock = self.connection.sock
        if sock is None:
            raise _Broken(0, ConnectionError("not connected"))
        if isinstance(sock, ssl.SSLSocket):  # no sendmsg over TLS: one record stream per part
            for done, part in enumerate(parts):
                try:
                    sock.sendall(part)
                except OSError as exc:
                    raise _Broken(done, exc) from exc
            return
        _send_parts(sock, parts)


def _send_parts(sock: socket.socket, parts: Sequence[Buffer]) -> None:
    """One sendmsg (scatter-gather) for the lot, repeated for what the kernel did not take."""
    views, done, left = list(parts), 0, sum(map(len, parts))
    while True:
        try:
            sent = sock.sendmsg(views[done:])
        except OSError as exc:
            raise _Broken(done, exc) from exc
        left -= sent
        if not left:
            return  # usually at once: a message fits in the send buffer
        while sent >= len(views[done]):
            sent -= len(views[done])
            done += 1
        views[done] = memoryview(views[done])[sent:]


def _envelope(sender: str, recipient: str, smtputf8: bool) -> tuple[bytes, bytes, bytes]:
    for address in (sender, recipient):
        if UNSAFE_IN_ENVELOPE.search(address):
            raise ValueError(f"an envelope address may not hold spaces, <, > or line breaks: {address!r}")
    options = " SMTPUTF8 BODY=8BITMIME" if smtputf8 else ""
    encoding = "utf-8" if smtputf8 else "ascii"
    mail = f"MAIL FROM:<{sender}>{options}\r\n".encode(encoding)
    return mail, f"RCPT TO:<{recipient}>\r\n".encode(encoding), DATA


def _content(data: bytes, whole: bool = False) -> tuple[Buffer, ...]:
    """The DATA payload in parts, the last one the end of data. A line starting with "." gets
    another (RFC 5321 §4.5.2): the parts are slices of the message's own bytes with the extra
    dots between them, so nothing is copied (`whole`: one copy, for TLS, which copies anyway).
    Found with a regular expression: on 80 KB of short lines it is faster than bytes.find."""
    end = b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"
    dots = [found.end() - 1 for found in LINE_STARTING_WITH_A_DOT.finditer(data)]
    if data.startswith(b"."):
        dots.insert(0, 0)
    if not dots:
        return data, end
    if whole:
        return (b"." if dots[0] == 0 else b"") + data.replace(b"\n.", b"\n.."), end
    view = memoryview(data)
    parts: list[Buffer] = []
    for before, at in zip([0, *dots], dots, strict=False):
        parts += (view[before:at], b".")
    return (*parts, view[dots[-1] :], end)


def _no_verdict(exc: BaseException, address: str, waited: float) -> str:
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return f"uncertain: the message was sent, but {address} did not confirm it within {waited:g} s"
    return (
        f"uncertain: the message was sent, but the connection to {address} was lost "
        f"before it confirmed it ({_lost(exc)})"
    )


def _by_code(ledger_id: int, code: int, reply: bytes | str) -> DeliveryResult:
    text = _text(reply)
    reason = f"{code} {text}"
    enhanced = ENHANCED_CODE.match(text)
    code_text = enhanced.group(1) if enhanced else None
    retry = None
    if 400 <= code < 500:
        retry = RETRY_THROTTLED if code_text and code_text.startswith("4.7.") else RETRY_SOON
    return DeliveryResult(ledger_id, False, reason, retry, reply_code=code, enhanced_code=code_text)


def _throttles(result: DeliveryResult) -> bool:
    """4.7.x, transient: the relay's policy asks us to slow down (rate, connections, greylisting)."""
    return result.retry_after is not None and (result.enhanced_code or "").startswith("4.7.")


def _lost(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
