"""Fetching over real HTTP from a loopback server, and from local files."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from comms.collect import fetch as fetch_module
from comms.collect.fetch import MAX_BODY_BYTES, Request, fetch, fetch_many
from comms.collect.items import SourceState
from comms.collect.source import collect_source
from comms.config import CollectConfig, ItemKind, SourceConfig
from tests.fakes.feeds import ETAG, FEED, LAST_MODIFIED, FeedServer, TlsFeedServer


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A port that is bound but not listening: connecting is refused, and nobody can take it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/feed.xml"


# The test servers listen on loopback: these sources may reach exactly that address.
LOOPBACK_SERVER = ("127.0.0.1/32",)


def source(
    url: str, timeout: float = 5.0, *, allow: bool | tuple[str, ...] = LOOPBACK_SERVER
) -> SourceConfig:
    return SourceConfig(
        "ipo-nieuws", "IPO-nieuws", url, "feed", ItemKind.NEWS, timeout, allow_private_addresses=allow
    )


def test_first_fetch_returns_body_and_keeps_validators(feed_server: FeedServer) -> None:
    fetched = fetch(source(feed_server.url + "/feed.xml"), SourceState(), Path("."))

    assert (fetched.body, fetched.not_modified, fetched.problems) == (FEED, False, [])
    assert fetched.state == SourceState(etag=ETAG, last_modified=LAST_MODIFIED)
    assert "If-None-Match" not in feed_server.headers_of_last()
    assert "If-Modified-Since" not in feed_server.headers_of_last()


def test_second_fetch_sends_validators_and_is_not_modified(feed_server: FeedServer) -> None:
    feed = source(feed_server.url + "/feed.xml")
    first = fetch(feed, SourceState(), Path("."))

    second = fetch(feed, first.state, Path("."))

    assert feed_server.headers_of_last()["If-None-Match"] == ETAG
    assert feed_server.headers_of_last()["If-Modified-Since"] == LAST_MODIFIED
    assert (second.body, second.not_modified, second.problems) == (None, True, [])
    assert second.state.etag == ETAG


@pytest.mark.parametrize(
    "state",
    [SourceState(etag=ETAG), SourceState(last_modified=LAST_MODIFIED)],
    ids=["etag only", "last-modified only"],
)
def test_either_validator_is_enough(feed_server: FeedServer, state: SourceState) -> None:
    assert fetch(source(feed_server.url + "/feed.xml"), state, Path(".")).not_modified


def test_changed_feed_is_fetched_again(feed_server: FeedServer) -> None:
    fetched = fetch(source(feed_server.url + "/feed.xml"), SourceState(etag='"old"'), Path("."))

    assert feed_server.headers_of_last()["If-None-Match"] == '"old"'
    assert fetched.body == FEED
    assert fetched.state.etag == ETAG


def test_redirect_is_followed(feed_server: FeedServer) -> None:
    fetched = fetch(source(feed_server.url + "/redirect"), SourceState(), Path("."))

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
    feed_server: FeedServer, path: str, timeout: float, max_bytes: int, reason: str
) -> None:
    url = feed_server.url + path
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


def test_collect_source_over_http(feed_server: FeedServer) -> None:
    feed = source(feed_server.url + "/feed.xml")

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


# --- the deadline and concurrency ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/drip", "/drip-headers"], ids=["body", "headers"])
def test_a_dripping_server_is_given_up_at_the_deadline(feed_server: FeedServer, path: str) -> None:
    url = feed_server.url + path
    settings = CollectConfig(deadline_seconds=0.6)
    started = time.monotonic()

    fetched = fetch(source(url), SourceState(), Path("."), settings=settings)

    assert time.monotonic() - started < 0.6 + 1.0  # the server would go on for hours
    assert [str(p) for p in fetched.problems] == [
        f"ipo-nieuws: could not fetch {url}: no complete answer within the deadline of 0.6 s"
    ]


def test_a_source_may_set_its_own_deadline(feed_server: FeedServer) -> None:
    own = dataclasses.replace(source(feed_server.url + "/drip"), deadline_seconds=0.3)

    fetched = fetch(own, SourceState(), Path("."), settings=CollectConfig(deadline_seconds=30))

    assert fetched.problems[0].reason.endswith("within the deadline of 0.3 s")


def test_slow_sources_do_not_hold_up_the_others(feed_server: FeedServer) -> None:
    slow = [dataclasses.replace(source(feed_server.url + "/drip"), name=f"traag-{n}") for n in range(3)]
    quick = source(feed_server.url + "/feed.xml")
    settings = CollectConfig(deadline_seconds=1.0, max_concurrent_fetches=4)
    started = time.monotonic()

    results = fetch_many([Request(s, SourceState()) for s in [*slow, quick]], Path("."), settings)

    assert time.monotonic() - started < 1.8  # together: not one deadline after the other (3 s)
    assert [bool(r.problems) for r in results] == [True, True, True, False]
    assert results[-1].body == FEED


def test_a_stalled_source_is_given_up_while_the_others_are_fetched_in_order(feed_server: FeedServer) -> None:
    """/hang answers nothing until the server is shut down (an Event, no sleep): it holds one of
    the two places, and the six other sources go through the other one, in their order."""
    stalled = dataclasses.replace(source(feed_server.url + "/hang"), name="stil")
    quick = [dataclasses.replace(source(feed_server.url + "/feed.xml"), name=f"snel-{n}") for n in range(6)]
    settings = CollectConfig(deadline_seconds=0.5, max_concurrent_fetches=2)

    results = fetch_many(
        [Request(s, SourceState()) for s in [*quick[:3], stalled, *quick[3:]]], Path("."), settings
    )

    assert [str(p) for r in results for p in r.problems] == [
        f"stil: could not fetch {feed_server.url}/hang: no complete answer within the deadline of 0.5 s"
    ]
    assert [r.body for r in results] == [FEED, FEED, FEED, None, FEED, FEED, FEED]
    assert [r.state.etag for r in results] == [ETAG] * 3 + [None] + [ETAG] * 3


def test_at_most_max_concurrent_fetches_at_once(feed_server: FeedServer) -> None:
    slow = [dataclasses.replace(source(feed_server.url + "/drip"), name=f"traag-{n}") for n in range(2)]
    settings = CollectConfig(deadline_seconds=0.5, max_concurrent_fetches=1)
    started = time.monotonic()

    fetch_many([Request(s, SourceState()) for s in slow], Path("."), settings)

    assert time.monotonic() - started >= 2 * 0.5  # one after the other; each its own deadline


# --- redirects and the address policy -----------------------------------------------------


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://127.0.0.2/feed.xml", "127.0.0.2, a loopback address"),
        ("http://[::1]/feed.xml", "::1, a loopback address"),
        ("http://10.255.255.1/feed.xml", "10.255.255.1, a private address"),
        ("http://172.16.0.1/feed.xml", "172.16.0.1, a private address"),
        ("http://192.168.1.1/feed.xml", "192.168.1.1, a private address"),
        ("http://[fd12:3456::1]/feed.xml", "fd12:3456::1, a private (unique-local) address"),
        ("http://169.254.1.1/feed.xml", "169.254.1.1, a link-local address"),
        ("http://[fe80::1]/feed.xml", "fe80::1, a link-local address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254, a cloud metadata address"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254, a cloud metadata address"),
        ("http://0.0.0.0/feed.xml", "0.0.0.0, an unspecified address"),
        ("http://100.64.0.1/feed.xml", "100.64.0.1, a shared (carrier-grade NAT) address"),
        ("http://[::ffff:10.0.0.1]/feed.xml", "::ffff:a00:1, a private address (as IPv6)"),
        ("http://[::ffff:127.0.0.1]/feed.xml", "::ffff:7f00:1, a loopback address (as IPv6)"),
        ("file:///etc/passwd", "redirected to a file: URL; only http and https are followed"),
        ("ftp://ftp.ipo.example.org/feed.xml", "redirected to a ftp: URL; only http and https are followed"),
    ],
    ids=[
        "loopback v4",
        "loopback v6",
        "private 10/8",
        "private 172.16/12",
        "private 192.168/16",
        "unique-local fc00::/7",
        "link-local v4",
        "link-local v6",
        "metadata v4",
        "metadata v6",
        "unspecified",
        "carrier-grade NAT",
        "IPv4-mapped private",
        "IPv4-mapped loopback",
        "file scheme",
        "ftp scheme",
    ],
)
def test_a_redirect_to_a_forbidden_address_is_refused_and_named(
    feed_server: FeedServer, target: str, reason: str
) -> None:
    start = f"{feed_server.url}/to?{quote(target, safe='')}"

    fetched = fetch(source(start), SourceState(), Path("."))

    [problem] = fetched.problems
    assert problem.is_error and fetched.body is None
    final = str(httpx.URL(target))
    assert problem.reason.startswith(f"could not fetch {final} (redirected from {start}): ")
    assert reason in problem.reason
    assert [path for path, _ in feed_server.requests] == [start.removeprefix(feed_server.url)]  # nothing more


def test_a_source_allowed_private_addresses_follows_such_a_redirect(feed_server: FeedServer) -> None:
    # localhost: the name is resolved and every address it has is checked (and tried).
    port = feed_server.url.rsplit(":", 1)[1]
    start = f"{feed_server.url}/to?{quote(f'http://localhost:{port}/feed.xml', safe='')}"

    fetched = fetch(source(start, allow=True), SourceState(), Path("."))

    assert (fetched.body, fetched.problems) == (FEED, [])


def test_the_configured_address_is_held_to_the_policy_too(feed_server: FeedServer) -> None:
    url = feed_server.url + "/feed.xml"

    fetched = fetch(source(url, allow=False), SourceState(), Path("."))

    assert [p.reason for p in fetched.problems] == [
        f"could not fetch {url}: 127.0.0.1, a loopback address; "
        "not fetched (allow_private_addresses on the source allows it)"
    ]
    assert feed_server.requests == []


def test_a_redirect_loop_ends_and_names_the_chain(feed_server: FeedServer) -> None:
    fetched = fetch(source(feed_server.url + "/loop"), SourceState(), Path("."))

    loop = feed_server.url + "/loop"
    assert [p.reason for p in fetched.problems] == [
        f"could not fetch {loop} (redirected from {loop} → {loop} → … → {loop}): more than 10 redirects"
    ]
    assert len(feed_server.requests) == 11


# --- https: connecting to a checked address still verifies the certificate's name ----------


def test_https_is_verified_against_the_host_name(
    tls_feed_server: TlsFeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The connection goes to the address the policy checked (127.0.0.1), while TLS checks the
    # certificate against 'localhost': the test's CA is trusted, nothing else is changed.
    monkeypatch.setattr(fetch_module, "_ssl_context", lambda: tls_feed_server.ca)
    url = tls_feed_server.server.url + "/feed.xml"

    fetched = fetch(source(url, allow=True), SourceState(), Path("."))

    assert (fetched.body, fetched.problems) == (FEED, [])


def test_https_with_a_certificate_for_another_name_is_refused(
    tls_feed_server: TlsFeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch_module, "_ssl_context", lambda: tls_feed_server.ca)
    url = tls_feed_server.server.url.replace("localhost", "127.0.0.1") + "/feed.xml"  # not in it

    fetched = fetch(source(url, allow=True), SourceState(), Path("."))

    [problem] = fetched.problems
    assert problem.reason == (
        f"could not fetch {url}: could not connect: "
        "certificate verify failed: IP address mismatch, certificate is not valid for '127.0.0.1'."
    )


def test_https_with_an_unknown_ca_is_refused(tls_feed_server: TlsFeedServer) -> None:
    fetched = fetch(source(tls_feed_server.server.url + "/feed.xml", allow=True), SourceState(), Path("."))

    [problem] = fetched.problems
    assert problem.reason.endswith("certificate verify failed: unable to get local issuer certificate")


def test_a_bug_in_one_fetch_does_not_take_the_others_down(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(*args: object) -> None:
        raise KeyError("oeps")

    monkeypatch.setattr(fetch_module, "_read_file", broken)
    local = dataclasses.replace(source("feeds/nieuws.xml"), name="lokaal")

    results = fetch_many(
        [Request(local, SourceState()), Request(source(feed_server.url + "/feed.xml"), SourceState())],
        tmp_path,
        CollectConfig(),
    )

    assert [str(p) for p in results[0].problems] == ["lokaal: could not fetch: 'oeps'"]
    assert results[1].body == FEED


def test_a_resolver_that_hangs_does_not_outlast_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    # A DNS server that does not answer: the lookup (a thread) is left behind at the deadline.
    real = socket.getaddrinfo
    released = threading.Event()

    def hanging(host: str, *args: object, **kwargs: object) -> object:
        if host == "traag.example.org":
            released.wait(timeout=10)
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    url = "http://traag.example.org/feed.xml"
    started = time.monotonic()

    fetched = fetch(source(url), SourceState(), Path("."), settings=CollectConfig(deadline_seconds=0.5))

    assert time.monotonic() - started < 0.5 + 1.0
    released.set()
    assert [p.reason for p in fetched.problems] == [
        f"could not fetch {url}: no complete answer within the deadline of 0.5 s"
    ]
