"""Fetching over real HTTP from a loopback server, and from local files."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from comms.collect.fetch import MAX_BODY_BYTES, fetch
from comms.collect.items import SourceState
from comms.collect.source import collect_source
from comms.config import ItemKind, SourceConfig

ETAG = '"nieuws-v1"'
LAST_MODIFIED = "Mon, 30 Nov 2026 09:00:00 GMT"
FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>IPO-nieuws</title>
<item><title>Provinciefonds</title><link>https://www.ipo.example.org/nieuws/1</link>
<guid>nieuws-1</guid><pubDate>Mon, 30 Nov 2026 10:00:00 +0100</pubDate></item>
</channel></rss>
"""
BIG = b"x" * 2000


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
        route = {
            "/feed.xml": self._feed,
            "/redirect": lambda: self._redirect("/feed.xml"),
            "/missing.xml": lambda: self.send_error(404),
            "/broken": lambda: self.send_error(500),
            "/hang": self._hang,
            "/big": lambda: self._body(BIG, with_length=True),
            "/big-stream": lambda: self._body(BIG, with_length=False),
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

    def _redirect(self, to: str) -> None:
        self.send_response(301)
        self.send_header("Location", to)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _hang(self) -> None:
        self.server.release.wait(timeout=30)  # released at teardown; the cap is a safety net
        self._body(FEED, with_length=True)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.release = threading.Event()
    httpd.log = FeedServer(url=f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd.log
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A port that is bound but not listening: connecting is refused, and nobody can take it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/feed.xml"


def source(url: str, timeout: float = 5.0) -> SourceConfig:
    return SourceConfig("ipo-nieuws", "IPO-nieuws", url, "feed", ItemKind.NEWS, timeout)


def test_first_fetch_returns_body_and_keeps_validators(server: FeedServer) -> None:
    fetched = fetch(source(server.url + "/feed.xml"), SourceState(), Path("."))

    assert (fetched.body, fetched.not_modified, fetched.problems) == (FEED, False, [])
    assert fetched.state == SourceState(etag=ETAG, last_modified=LAST_MODIFIED)
    assert "If-None-Match" not in server.headers_of_last()
    assert "If-Modified-Since" not in server.headers_of_last()


def test_second_fetch_sends_validators_and_is_not_modified(server: FeedServer) -> None:
    feed = source(server.url + "/feed.xml")
    first = fetch(feed, SourceState(), Path("."))

    second = fetch(feed, first.state, Path("."))

    assert server.headers_of_last()["If-None-Match"] == ETAG
    assert server.headers_of_last()["If-Modified-Since"] == LAST_MODIFIED
    assert (second.body, second.not_modified, second.problems) == (None, True, [])
    assert second.state.etag == ETAG


@pytest.mark.parametrize(
    "state",
    [SourceState(etag=ETAG), SourceState(last_modified=LAST_MODIFIED)],
    ids=["etag only", "last-modified only"],
)
def test_either_validator_is_enough(server: FeedServer, state: SourceState) -> None:
    assert fetch(source(server.url + "/feed.xml"), state, Path(".")).not_modified


def test_changed_feed_is_fetched_again(server: FeedServer) -> None:
    fetched = fetch(source(server.url + "/feed.xml"), SourceState(etag='"old"'), Path("."))

    assert server.headers_of_last()["If-None-Match"] == '"old"'
    assert fetched.body == FEED
    assert fetched.state.etag == ETAG


def test_redirect_is_followed(server: FeedServer) -> None:
    fetched = fetch(source(server.url + "/redirect"), SourceState(), Path("."))

    assert (fetched.body, fetched.problems) == (FEED, [])


@pytest.mark.parametrize(
    ("path", "timeout", "max_bytes", "reason"),
    [
        ("/missing.xml", 5.0, 5_000_000, "HTTP 404 Not Found"),
        ("/broken", 5.0, 5_000_000, "HTTP 500 Internal Server Error"),
        ("/hang", 0.5, 5_000_000, "timed out after 0.5 s"),
        ("/big", 5.0, 1000, "larger than 1000 bytes; not read"),
        ("/big-stream", 5.0, 1000, "larger than 1000 bytes; not read"),
    ],
    ids=["404", "500", "timeout", "too large", "too large without Content-Length"],
)
def test_http_failures_are_problems_not_exceptions(
    server: FeedServer, path: str, timeout: float, max_bytes: int, reason: str
) -> None:
    url = server.url + path
    old = SourceState(etag='"old"', last_modified=LAST_MODIFIED)

    fetched = fetch(source(url, timeout), old, Path("."), max_bytes=max_bytes)

    assert [str(p) for p in fetched.problems] == [f"ipo-nieuws: could not fetch {url}: {reason}"]
    assert fetched.problems[0].is_error
    assert (fetched.body, fetched.not_modified) == (None, False)
    assert fetched.state == old  # the next run still asks conditionally


def test_connection_refused(refused_url: str) -> None:
    fetched = fetch(source(refused_url), SourceState(), Path("."))

    [problem] = fetched.problems
    assert str(problem).startswith(f"ipo-nieuws: could not fetch {refused_url}: could not connect: ")
    assert "refused" in problem.reason.lower()
    assert fetched.body is None


def test_unsupported_scheme() -> None:
    fetched = fetch(source("ftp://ftp.ipo.example.org/feed.xml"), SourceState(), Path("."))

    assert [p.reason for p in fetched.problems] == [
        "could not fetch ftp://ftp.ipo.example.org/feed.xml: unsupported URL scheme 'ftp'"
    ]


@pytest.mark.parametrize(
    ("relative", "reason"),
    [
        ("feeds/nieuws.xml", None),
        ("feeds/ontbreekt.xml", "file not found"),
        ("feeds", "is a directory, not a file"),
    ],
)
def test_local_files_are_relative_to_base_dir(tmp_path: Path, relative: str, reason: str | None) -> None:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "nieuws.xml").write_bytes(FEED)

    fetched = fetch(source(relative), SourceState(), tmp_path)

    if reason is None:
        assert (fetched.body, fetched.problems) == (FEED, [])
    else:
        expected = f"ipo-nieuws: could not fetch {tmp_path / relative}: {reason}"
        assert [str(p) for p in fetched.problems] == [expected]
        assert fetched.body is None


@pytest.mark.parametrize(
    ("max_bytes", "reason"),
    [(1000, "larger than 1000 bytes; not read"), (MAX_BODY_BYTES, "larger than 5 MB; not read")],
)
def test_local_file_too_large(tmp_path: Path, max_bytes: int, reason: str) -> None:
    (tmp_path / "groot.xml").write_bytes(b"x" * (max_bytes + 1))

    fetched = fetch(source("groot.xml"), SourceState(), tmp_path, max_bytes=max_bytes)

    assert [p.reason for p in fetched.problems] == [f"could not fetch {tmp_path / 'groot.xml'}: {reason}"]


def test_collect_source_over_http(server: FeedServer) -> None:
    feed = source(server.url + "/feed.xml")

    first = collect_source(feed, SourceState(), Path("."))
    second = collect_source(feed, first.state, Path("."))

    assert [item.title for item in first.items] == ["Provinciefonds"]
    assert (first.problems, first.is_broken, first.not_modified) == ([], False, False)
    assert (second.items, second.problems, second.not_modified) == ([], [], True)


def test_collect_source_reports_a_dead_source_as_broken(refused_url: str) -> None:
    result = collect_source(source(refused_url), SourceState(etag='"old"'), Path("."))

    assert result.is_broken
    assert result.items == []
    assert result.state == SourceState(etag='"old"')
