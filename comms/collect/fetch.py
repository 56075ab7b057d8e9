"""Get a source's bytes: conditional GET over http(s), or a local file.

Every failure comes back as a Problem naming the source, the address and the
reason in plain words; nothing here raises for a bad network or a missing file.

Sources are fetched concurrently (at most `max_concurrent_fetches` at a time), each within
an overall deadline: a server that sends one byte every few seconds never trips the
per-read timeout, so only a deadline for the whole fetch stops it. Redirects are followed
here, one hop at a time, so every hop is checked (http(s) only) and an error names the
address it concerns; the address policy itself is checked at connect time
(`comms.collect.addresses`).

One run shares one HTTP client (its connection pool and TLS context) among the sources with
the same address policy, which is nearly always all of them: a connection is only ever reused
by a source held to the policy it was checked against.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import ssl
import stat
import threading
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpcore
import httpx

from comms import __version__
from comms.collect.addresses import AddressPolicy, ForbiddenAddress, GuardedBackend
from comms.collect.items import SourceState
from comms.config import CollectConfig, SourceConfig
from comms.errors import CommsError
from comms.problems import Problem

MAX_BODY_BYTES = 5 * 1024 * 1024  # far above any real feed; stops a runaway download
MAX_REDIRECTS = 10
USER_AGENT = f"comms/{__version__} (IPO communicatie)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, text/calendar, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
T = TypeVar("T")


@dataclass(slots=True)
class Fetched:
    """What a fetch produced: a body, or 'not modified', or problems (then body is None)."""

    body: bytes | None
    state: SourceState
    not_modified: bool = False
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Request:
    """One source to fetch, with the validators of its last good fetch."""

    source: SourceConfig
    state: SourceState


class _Gave(CommsError):
    """A fetch gave up, for the reason given, at the last hop tried (caught in this module)."""


def fetch(
    source: SourceConfig,
    state: SourceState,
    base_dir: Path,
    *,
    max_bytes: int = MAX_BODY_BYTES,
    settings: CollectConfig | None = None,
) -> Fetched:
    """Read one source's URL or file; `state` holds the validators of the last good fetch."""
    [fetched] = fetch_many(
        [Request(source, state)], base_dir, settings or CollectConfig(), max_bytes=max_bytes
    )
    return fetched


def fetch_many(
    requests: Sequence[Request],
    base_dir: Path,
    settings: CollectConfig,
    *,
    max_bytes: int = MAX_BODY_BYTES,
) -> list[Fetched]:
    """Fetch every request, at most `settings.max_concurrent_fetches` at once, each within its
    deadline; the results in the order asked."""

    async def everything() -> list[Fetched]:
        limit = asyncio.Semaphore(settings.max_concurrent_fetches)

        async def one(request: Request, clients: _Clients) -> Fetched:
            async with limit:  # the deadline starts once the fetch does, not while it waits
                try:
                    return await _fetch_within_deadline(request, base_dir, settings, max_bytes, clients)
                except Exception as exc:  # a bug must not take the other sources down with it
                    reason = f"could not fetch: {str(exc) or type(exc).__name__}"
                    return Fetched(None, request.state, problems=[Problem(request.source.name, reason)])

        async with _Clients(settings.max_concurrent_fetches) as clients:
            return list(await asyncio.gather(*(one(request, clients) for request in requests)))

    return _run(everything())


def deadline_of(source: SourceConfig, settings: CollectConfig) -> float:
    return source.deadline_seconds or settings.deadline_seconds


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, also from a thread whose event loop is running (then in a thread of its own)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    result: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=target, name="comms-fetch")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


class _Clients:
    """The run's HTTP clients: one per address policy, made when a source first needs it."""

    def __init__(self, max_connections: int) -> None:
        self._max_connections = max_connections
        self._clients: dict[AddressPolicy, httpx.AsyncClient] = {}

    def of(self, source: SourceConfig) -> httpx.AsyncClient:
        policy = AddressPolicy.of(source)
        if policy not in self._clients:
            self._clients[policy] = httpx.AsyncClient(
                transport=_GuardedTransport(policy, self._max_connections),
                follow_redirects=False,  # followed below, each hop checked and named
                trust_env=False,  # no proxy from the environment: it connects where the policy cannot see
                headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
            )
        return self._clients[policy]

    async def __aenter__(self) -> _Clients:
        return self

    async def __aexit__(self, *_: object) -> None:
        for client in self._clients.values():
            await client.aclose()


async def _fetch_within_deadline(
    request: Request, base_dir: Path, settings: CollectConfig, max_bytes: int, clients: _Clients
) -> Fetched:
    source, state = request.source, request.state
    scheme = urlsplit(source.url).scheme.lower() if "://" in source.url else ""
    if not scheme:
        return _read_file(source, state, base_dir, max_bytes)
    if scheme not in ("http", "https"):
        return _failed(source, state, source.url, f"unsupported URL scheme '{scheme}'")
    hops = [source.url]  # where the fetch is now: the last one
    deadline = deadline_of(source, settings)
    try:
        async with asyncio.timeout(deadline):
            return await _fetch_http(clients.of(source), source, state, max_bytes, hops)
    except TimeoutError:
        return _failed_at(source, state, hops, f"no complete answer within the deadline of {deadline:g} s")
    except _Gave as gave:
        return _failed_at(source, state, hops, str(gave))


async def _fetch_http(
    client: httpx.AsyncClient, source: SourceConfig, state: SourceState, max_bytes: int, hops: list[str]
) -> Fetched:
    timeout = source.timeout_seconds
    while True:
        url = hops[-1]
        try:
            conditional = _conditional_headers(state)
            async with client.stream("GET", url, headers=conditional, timeout=timeout) as response:
                target = _redirect_target(response, url)
                if target is None:
                    return await _read_response(state, response, max_bytes)
        except httpx.TimeoutException as exc:
            raise _Gave(f"timed out after {timeout:g} s") from exc
        except ForbiddenAddress as exc:
            raise _Gave(str(exc)) from exc
        except httpx.ConnectError as exc:
            raise _Gave(f"could not connect: {_plain(_root(exc))}") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _Gave(f"download failed: {_plain(exc)}") from exc
        if len(hops) > MAX_REDIRECTS:
            raise _Gave(f"more than {MAX_REDIRECTS} redirects")
        hops.append(target)
        scheme = urlsplit(target).scheme.lower()
        if scheme not in ("http", "https"):
            raise _Gave(f"redirected to a {scheme}: URL; only http and https are followed")


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a pool whose connections pass the address policy."""

    def __init__(self, policy: AddressPolicy, max_connections: int):
        super().__init__(verify=_ssl_context(), trust_env=False)
        # httpx offers no public way to hand its pool a network backend; httpcore does. The
        # check must be made at connect time, so the address checked is the address used.
        # A fetch holds one connection at a time (redirects are followed one after the other),
        # so as many connections as fetches at once: none waits for the pool.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_ssl_context(),
            network_backend=GuardedBackend(policy),
            max_connections=max_connections,
        )


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying context (certifi's CAs) for every fetch: loading them takes a while."""
    return httpx.create_ssl_context(trust_env=False)


def _redirect_target(response: httpx.Response, url: str) -> str | None:
    """The next hop of a redirect (made absolute), or None when this is the answer."""
    if response.status_code not in _REDIRECTS or "Location" not in response.headers:
        return None
    try:
        return str(httpx.URL(url).join(response.headers["Location"].strip()))
    except (httpx.InvalidURL, ValueError) as exc:
        raise _Gave(f"redirected to an invalid address: {_plain(exc)}") from exc


def _conditional_headers(state: SourceState) -> dict[str, str]:
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


async def _read_response(state: SourceState, response: httpx.Response, max_bytes: int) -> Fetched:
    if response.status_code == HTTPStatus.NOT_MODIFIED:
        # A 304 has no body, but the pool reuses a connection only once the response is read to
        # its end: without this, every unchanged feed costs a new connection (and TLS handshake).
        await response.aread()
        return Fetched(None, _validators(response, fallback=state), not_modified=True)
    if response.status_code >= 400:
        raise _Gave(_status_text(response))
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _Gave(_too_large(max_bytes))
    body = bytearray()
    async for chunk in response.aiter_bytes():  # decoded, so a gzip bomb hits the cap too
        body += chunk
        if len(body) > max_bytes:
            raise _Gave(_too_large(max_bytes))
    return Fetched(bytes(body), _validators(response, fallback=SourceState()))


def _validators(response: httpx.Response, fallback: SourceState) -> SourceState:
    etag = response.headers.get("ETag")
    last_modified = response.headers.get("Last-Modified")
    if etag is None and last_modified is None:
        return fallback
    return SourceState(etag=etag, last_modified=last_modified)


def _status_text(response: httpx.Response) -> str:
    phrase = response.reason_phrase
    if not phrase:
        try:
            phrase = HTTPStatus(response.status_code).phrase
        except ValueError:
            phrase = ""
    return f"HTTP {response.status_code} {phrase}".rstrip()


def _read_file(source: SourceConfig, state: SourceState, base_dir: Path, max_bytes: int) -> Fetched:
    path = base_dir / source.url
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            return _failed(source, state, str(path), "is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
            return _failed(source, state, str(path), "not a regular file")
        if info.st_size > max_bytes:
            return _failed(source, state, str(path), _too_large(max_bytes))
        with path.open("rb") as file:
            body = file.read(max_bytes + 1)
        if len(body) > max_bytes:  # grew since stat
            return _failed(source, state, str(path), _too_large(max_bytes))
        return Fetched(body, state)
    except FileNotFoundError:
        reason = "file not found"
    except OSError as exc:
        reason = f"could not read the file: {exc.strerror or exc}"
    return _failed(source, state, str(path), reason)


def _too_large(max_bytes: int) -> str:
    megabytes = max_bytes / 1024 / 1024
    size = f"{megabytes:.3g} MB" if megabytes >= 1 else f"{max_bytes} bytes"
    return f"larger than {size}; not read"


def _failed_at(source: SourceConfig, state: SourceState, hops: list[str], reason: str) -> Fetched:
    """A failure named by the address it happened at, and the address asked for if redirected."""
    chain = hops[:-1] if len(hops) <= 4 else [*hops[:2], "…", hops[-2]]
    address = f"{hops[-1]} (redirected from {' → '.join(chain)})" if chain else hops[-1]
    return _failed(source, state, address, reason)


def _failed(source: SourceConfig, state: SourceState, address: str, reason: str) -> Fetched:
    # The old validators stay, so the next run asks for the whole feed again.
    problem = Problem(source.name, f"could not fetch {address}: {reason}")
    return Fetched(None, state, problems=[problem])


def _root(exc: BaseException) -> BaseException:
    """The OS's own error under httpx's and anyio's ('connection refused'), where there is one.
    httpcore wraps it as an argument rather than as the cause."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.append(current)
        if isinstance(current, OSError) and (current.errno or isinstance(current, ssl.SSLError)):
            return current
        todo += [
            e for e in (*current.args, current.__context__, current.__cause__) if isinstance(e, BaseException)
        ]
    return exc


def _plain(exc: BaseException) -> str:
    """An exception's message without the '[Errno 111]' noise, or its class name if empty."""
    if isinstance(exc, ssl.SSLCertVerificationError):  # its errno (1) is not what went wrong
        detail = f"certificate verify failed: {exc.verify_message}"
    elif isinstance(exc, ssl.SSLError):
        detail = f"TLS: {exc.reason or exc}"
    elif isinstance(exc, OSError) and exc.errno:
        detail = os.strerror(exc.errno)
    else:
        detail = str(exc)
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", detail).strip()
    return text[:1].lower() + text[1:] if text else type(exc).__name__
