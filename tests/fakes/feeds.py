"""A feed server on loopback, started by the tests: conditional GET, redirects anywhere,
errors, a hanging and a dripping (deliberately slow) answer.

Routes: /feed.xml (with validators), /redirect, /loop, /to?<quoted URL> (302 there),
/missing.xml (404), /broken (500), /hang, /big, /big-stream, /drip (headers, then one byte
at a time forever), /drip-headers (the headers themselves one byte at a time).
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ETAG = '"nieuws-v1"'
LAST_MODIFIED = "Mon, 30 Nov 2026 09:00:00 GMT"
FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>IPO-nieuws</title>
<item><title>Provinciefonds</title><link>https://www.ipo.example.org/nieuws/1</link>
<guid>nieuws-1</guid><pubDate>Mon, 30 Nov 2026 10:00:00 +0100</pubDate></item>
</channel></rss>
"""
BIG = b"x" * 2000
DRIP_SECONDS = 0.2  # a deliberately slow server: far below the read timeout, never done


@dataclass
class FeedServer:
    url: str
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def headers_of_last(self) -> dict[str, str]:
        return self.requests[-1][1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    release: threading.Event
    log: FeedServer

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client gave up on /hang: a broken pipe is the point


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.log.requests.append((self.path, dict(self.headers)))
        if self.path.startswith("/to?"):  # a redirect to the (unquoted) query
            self._redirect(unquote(self.path[4:]), status=302)
            return
        route = {
            "/feed.xml": self._feed,
            "/redirect": lambda: self._redirect("/feed.xml"),
            "/loop": lambda: self._redirect("/loop"),
            "/missing.xml": lambda: self.send_error(404),
            "/broken": lambda: self.send_error(500),
            "/hang": self._hang,
            "/big": lambda: self._body(BIG, with_length=True),
            "/big-stream": lambda: self._body(BIG, with_length=False),
            "/drip": self._drip,
            "/drip-headers": self._drip_headers,
        }.get(self.path, lambda: self.send_error(404))
        route()

    def _feed(self) -> None:
        if (
            self.headers.get("If-None-Match") == ETAG
            or self.headers.get("If-Modified-Since") == LAST_MODIFIED
        ):
            self.send_response(304)
            self.send_header("ETag", ETAG)
            self.end_headers()
            return
        self._body(FEED, with_length=True, validators=True)

    def _body(self, body: bytes, *, with_length: bool, validators: bool = False) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        if with_length:
            self.send_header("Content-Length", str(len(body)))
        if validators:
            self.send_header("ETag", ETAG)
            self.send_header("Last-Modified", LAST_MODIFIED)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, to: str, status: int = 301) -> None:
        self.send_response(status)
        self.send_header("Location", to)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _drip(self) -> None:
        """A feed that never ends: one byte at a time, each well within the read timeout."""
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        self._slowly(FEED * 1000)

    def _drip_headers(self) -> None:
        self._slowly(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n" + b"X-Pad: y\r\n" * 1000)

    def _slowly(self, data: bytes) -> None:
        try:
            for byte in data:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                if self.server.release.wait(DRIP_SECONDS):
                    return
        except OSError:
            return  # the client gave up: that is what is tested

    def _hang(self) -> None:
        self.server.release.wait(timeout=30)  # released at teardown; the cap is a safety net
        self._body(FEED, with_length=True)


@contextmanager
def _serving(context: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> Iterator[FeedServer]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    if context is not None:
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    httpd.release = threading.Event()
    scheme = "https" if context else "http"
    httpd.log = FeedServer(url=f"{scheme}://{host}:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd.log
    finally:
        httpd.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """The server's base URL and the requests it got."""
    with _serving() as server:
        yield server


@dataclass
class TlsFeedServer:
    """The same server over TLS, its certificate for `localhost` only, signed by `ca`."""

    server: FeedServer
    ca: ssl.SSLContext  # a client context that trusts the server's CA


@pytest.fixture
def tls_feed_server(tmp_path: Path) -> Iterator[TlsFeedServer]:
    ca_pem, chain_pem, key_pem = _certificates("localhost")
    (tmp_path / "chain.pem").write_bytes(chain_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "chain.pem", tmp_path / "key.pem")
    client = ssl.create_default_context(cadata=ca_pem.decode())
    with _serving(context, host="localhost") as server:
        yield TlsFeedServer(server, client)


def _certificates(name: str) -> tuple[bytes, bytes, bytes]:
    """A throwaway CA and a server certificate for `name` (DNS only): PEM CA, chain, key."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "comms test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca.public_bytes(pem), leaf.public_bytes(pem), key_pem
