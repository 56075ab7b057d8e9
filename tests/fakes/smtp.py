"""A real SMTP server on loopback (aiosmtpd) that records what it accepts and injects faults.

Fixtures: ``smtp_server`` (plain), ``smtp_tls_server`` (offers STARTTLS with a self-signed
certificate), ``smtps_server`` (implicit TLS) and the session-wide ``smtp_certificate``.
Every fault attribute can be changed from the test while the server runs::

    smtp_server.transient_rate = 0.2          # share of RCPT TO answered 451, seeded
    smtp_server.reject = {"gone@example.org"}  # answered 550 at RCPT
    smtp_server.replies = {"full@example.org": "452 4.2.2 Mailbox full"}  # this reply at RCPT
    smtp_server.drop_connection_after = 5     # close each connection after 5 accepted messages
    smtp_server.hang_after_connect = True     # new connections get no greeting
    smtp_server.require_auth = ("user", "pw")  # MAIL FROM answered 530 until AUTH succeeds
    smtp_server.final_reply_delay = 2.0       # the 250 to the final dot comes 2 s late
    smtp_server.drop_before_final_reply = True  # message kept, connection closed without a reply
    smtp_server.offer_smtputf8 = False        # new connections do not offer SMTPUTF8 (RFC 6531)

A message counts as received (``messages``) once its final dot arrived, whatever the reply:
so a test sees what a recipient would get from a relay whose answer was lost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import functools
import ipaddress
import random
import ssl
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.fakes import Guarded

HOST = "127.0.0.1"
SERVER_NAME = "fake-smtp.test"
TRANSIENT_REPLY = "451 4.3.0 Try again later"
UNKNOWN_USER_REPLY = "550 5.1.1 User unknown"
AUTH_REQUIRED_REPLY = "530 5.7.0 Authentication required"


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    tls: bool
    auth_login: str | None
    mail_options: tuple[str, ...] = ()  # e.g. ("SMTPUTF8", "BODY=8BITMIME")

    @functools.cached_property
    def message(self) -> EmailMessage:
        # Parsed when a test looks, not in the server's thread: parsing every one of thousands of
        # messages there slowed each reply, and so the sender, by a few milliseconds.
        return cast(EmailMessage, email.message_from_bytes(self.raw, policy=email.policy.default))


@dataclass(frozen=True)
class Refusal:
    """An RCPT TO the fake refused on purpose (451 or 550)."""

    address: str
    reply: str


@dataclass(frozen=True)
class TLSFiles:
    cert_path: Path
    key_path: Path

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only this certificate, with hostname checks on."""
        return ssl.create_default_context(cafile=str(self.cert_path))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def make_self_signed_certificate(directory: Path) -> TLSFiles:
    """A one-day certificate for 127.0.0.1 and localhost, acting as its own CA.

    Key usage and key identifiers are included because newer Pythons verify with
    VERIFY_X509_STRICT, which rejects certificates without them.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "comms fake SMTP")])
    now = dt.datetime.now(dt.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    files = TLSFiles(directory / "smtp-cert.pem", directory / "smtp-key.pem")
    files.cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    files.key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


class _SilentProtocol(asyncio.Protocol):
    """Accepts the TCP connection and never greets: a stuck server, without blocking the loop."""

    def __init__(self) -> None:
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


class _FakeSMTP(SMTP):
    """aiosmtpd's server with the fake's live settings for AUTH and dropped connections."""

    def __init__(self, fake: FakeSMTPServer, handler: _Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.fake = fake
        self.accepted_here = 0

    async def check_auth_needed(self, caller_method: str) -> bool:
        # Read per command, so require_auth may change while a connection is open.
        assert self.session is not None
        if self.fake.require_auth is None or self.session.authenticated:
            return False
        await self.push(AUTH_REQUIRED_REPLY)
        return True

    async def smtp_DATA(self, arg: str) -> None:
        await super().smtp_DATA(arg)  # the 250 is sent before the connection is dropped
        limit = self.fake.drop_connection_after
        if limit is not None and self.accepted_here >= limit and self.transport is not None:
            self.transport.close()


class _Handler:
    """aiosmtpd hooks; kept apart from the fake because aiosmtpd scans handlers by name."""

    def __init__(self, fake: FakeSMTPServer) -> None:
        self._fake = fake

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self._fake._refusal_for(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self._fake._record(session, envelope)
        cast(_FakeSMTP, server).accepted_here += 1
        delay = self._fake.final_reply_delay
        if delay:
            await asyncio.sleep(delay)  # a client that stopped waiting has gone: this reply is lost
        if self._fake.drop_before_final_reply and server.transport is not None:
            server.transport.close()
        return "250 2.0.0 OK: queued"


class _Controller(Controller):
    def __init__(self, fake: FakeSMTPServer, ssl_context: ssl.SSLContext | None) -> None:
        super().__init__(_Handler(fake), hostname=HOST, port=0, ssl_context=ssl_context)
        self.fake = fake

    def factory(self) -> Any:
        return self.fake._protocol_for_new_connection(cast(_Handler, self.handler), self.loop)

    def _trigger_server(self) -> None:
        # aiosmtpd connects to self.port to finish starting; with port 0 it needs the real one.
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class FakeSMTPServer:
    """An SMTP server on 127.0.0.1 and a free port; use as a context manager or via the fixtures.

    ``drop_connection_after`` counts per connection: each connection is closed right after its
    Nth accepted message. ``require_auth=None`` accepts any credentials a client offers.
    ``reject`` compares addresses case-insensitively; assign a new set to change it.
    """

    transient_rate = Guarded[float]()
    hang_after_connect = Guarded[bool]()
    drop_connection_after = Guarded["int | None"]()
    require_auth = Guarded["tuple[str, str] | None"]()
    require_starttls = Guarded[bool]()
    final_reply_delay = Guarded[float]()
    drop_before_final_reply = Guarded[bool]()
    offer_smtputf8 = Guarded[bool]()

    def __init__(
        self,
        *,
        seed: int = 1,
        tls: TLSFiles | None = None,
        implicit_tls: bool = False,
        require_auth: tuple[str, str] | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._seed = seed
        self._rng = random.Random(seed)
        self._messages: list[ReceivedMessage] = []
        self._refusals: list[Refusal] = []
        self._reject: frozenset[str] = frozenset()
        self._replies: dict[str, str] = {}
        self._connections: weakref.WeakSet[asyncio.BaseProtocol] = weakref.WeakSet()
        self.tls = tls
        self.implicit_tls = implicit_tls
        self.transient_rate = 0.0
        self.hang_after_connect = False
        self.drop_connection_after = None
        self.require_auth = require_auth
        self.require_starttls = False
        self.final_reply_delay = 0.0
        self.drop_before_final_reply = False
        self.offer_smtputf8 = True
        self.host = HOST
        self.port = 0
        self._controller: _Controller | None = None
        self._waiters: list[tuple[int, threading.Event]] = []

    def when_received(self, count: int) -> threading.Event:
        """An Event set once `count` messages have arrived: lets a test act at that moment."""
        event = threading.Event()
        with self._lock:
            self._waiters.append((count, event))
            if len(self._messages) >= count:
                event.set()
        return event

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeSMTPServer:
        implicit = self.tls.server_context() if self.tls and self.implicit_tls else None
        self._controller = _Controller(self, implicit)
        self._controller.start()
        self.port = self._controller.port
        return self

    def stop(self) -> None:
        if self._controller is None:
            return
        self._close_connections(lambda _protocol: True)
        self._controller.stop()
        self._controller = None

    def release(self) -> None:
        """Close the connections held by ``hang_after_connect``; their clients see EOF."""
        self._close_connections(lambda protocol: isinstance(protocol, _SilentProtocol))

    def __enter__(self) -> FakeSMTPServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what the test reads ---------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    @property
    def refusals(self) -> list[Refusal]:
        with self._lock:
            return list(self._refusals)

    @property
    def reject(self) -> frozenset[str]:
        with self._lock:
            return self._reject

    @reject.setter
    def reject(self, addresses: Iterable[str]) -> None:
        with self._lock:
            self._reject = frozenset(address.lower() for address in addresses)

    @property
    def replies(self) -> dict[str, str]:
        with self._lock:
            return dict(self._replies)

    @replies.setter
    def replies(self, replies: dict[str, str]) -> None:
        """A fixed refusal per address (any 4xx or 5xx line), compared case-insensitively."""
        with self._lock:
            self._replies = {address.lower(): reply for address, reply in replies.items()}

    @property
    def cert_path(self) -> Path | None:
        return self.tls.cert_path if self.tls else None

    @property
    def key_path(self) -> Path | None:
        return self.tls.key_path if self.tls else None

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client SSL context that trusts this server's generated certificate."""
        assert self.tls is not None, "this server has no TLS; use smtp_tls_server or smtps_server"
        return self.tls.client_context()

    def count_by_recipient(self) -> Counter[str]:
        return Counter(rcpt for message in self.messages for rcpt in message.rcpt_tos)

    def reset(self) -> None:
        """Forget what was received and restart the seeded sequence; fault settings stay."""
        with self._lock:
            self._messages.clear()
            self._refusals.clear()
            self._rng.seed(self._seed)

    # -- called from the server thread -----------------------------------------------------

    def _protocol_for_new_connection(
        self, handler: _Handler, loop: asyncio.AbstractEventLoop
    ) -> asyncio.BaseProtocol:
        protocol: asyncio.BaseProtocol
        if self.hang_after_connect:
            protocol = _SilentProtocol()
        else:
            protocol = _FakeSMTP(
                self,
                handler,
                hostname=SERVER_NAME,
                loop=loop,
                enable_SMTPUTF8=self.offer_smtputf8,
                tls_context=self.tls.server_context() if self.tls and not self.implicit_tls else None,
                require_starttls=self.require_starttls,
                authenticator=self._authenticate,
                auth_require_tls=False,  # loopback only: lets tests use AUTH without STARTTLS
            )
        self._connections.add(protocol)
        return protocol

    def _refusal_for(self, address: str) -> str | None:
        with self._lock:
            if address.lower() in self._replies:
                reply = self._replies[address.lower()]
            elif address.lower() in self._reject:
                reply = UNKNOWN_USER_REPLY
            elif self._rng.random() < self.transient_rate:
                reply = TRANSIENT_REPLY
            else:
                return None
            self._refusals.append(Refusal(address, reply))
            return reply

    def _record(self, session: Session, envelope: Envelope) -> None:
        raw = cast(bytes, envelope.original_content)
        login = session.auth_data.login.decode() if session.authenticated else None
        received = ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=raw,
            tls=session.ssl is not None or self.implicit_tls,
            auth_login=login,
            mail_options=tuple(envelope.mail_options),
        )
        with self._lock:
            self._messages.append(received)
            for count, event in self._waiters:
                if len(self._messages) >= count:
                    event.set()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        expected = self.require_auth
        offered = (data.login.decode(), data.password.decode())
        return AuthResult(success=expected is None or offered == expected, handled=False, auth_data=data)

    def _close_connections(self, which: Callable[[asyncio.BaseProtocol], bool]) -> None:
        controller = self._controller
        if controller is None:
            return

        async def close() -> None:
            for protocol in list(self._connections):
                transport = getattr(protocol, "transport", None)
                if which(protocol) and transport is not None:
                    transport.close()
            await asyncio.sleep(0)  # one loop turn, so connection_lost runs before the loop stops

        asyncio.run_coroutine_threadsafe(close(), controller.loop).result(timeout=5)


@pytest.fixture(scope="session")
def smtp_certificate(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_self_signed_certificate(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def smtp_server() -> Iterator[FakeSMTPServer]:
    with FakeSMTPServer() as server:
        yield server


@pytest.fixture
def smtp_tls_server(smtp_certificate: TLSFiles) -> Iterator[FakeSMTPServer]:
    """Offers STARTTLS; set ``require_starttls = True`` to refuse mail before it."""
    with FakeSMTPServer(tls=smtp_certificate) as server:
        yield server


@pytest.fixture
def smtps_server(smtp_certificate: TLSFiles) -> Iterator[FakeSMTPServer]:
    """TLS from the first byte (port-465 style)."""
    with FakeSMTPServer(tls=smtp_certificate, implicit_tls=True) as server:
        yield server
