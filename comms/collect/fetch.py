"""Get a source's bytes: conditional GET over http(s), or a local file.

Every failure comes back as a Problem naming the source, the address and the
reason in plain words; nothing here raises for a bad network or a missing file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from comms import __version__
from comms.collect.items import SourceState
from comms.config import SourceConfig
from comms.problems import Problem

MAX_BODY_BYTES = 5 * 1024 * 1024  # far above any real feed; stops a runaway download
USER_AGENT = f"comms/{__version__} (IPO communicatie)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, text/calendar, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


@dataclass(slots=True)
class Fetched:
    """What a fetch produced: a body, or 'not modified', or problems (then body is None)."""

    body: bytes | None
    state: SourceState
    not_modified: bool = False
    problems: list[Problem] = field(default_factory=list)


def fetch(
    source: SourceConfig, state: SourceState, base_dir: Path, *, max_bytes: int = MAX_BODY_BYTES
) -> Fetched:
    """Read the source's URL or file; `state` holds the validators of the last good fetch."""
    scheme = urlsplit(source.url).scheme.lower() if "://" in source.url else ""
    if scheme in ("http", "https"):
        return _fetch_http(source, state, max_bytes)
    if scheme:
        return _failed(source, state, source.url, f"unsupported URL scheme '{scheme}'")
    return _read_file(source, state, base_dir, max_bytes)


def _fetch_http(source: SourceConfig, state: SourceState, max_bytes: int) -> Fetched:
    try:
        with (
            httpx.Client(
                timeout=source.timeout_seconds,
                follow_redirects=True,
                headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
            ) as client,
            client.stream("GET", source.url, headers=_conditional_headers(state)) as response,
        ):
            return _read_response(source, state, response, max_bytes)
    except httpx.TimeoutException:
        reason = f"timed out after {source.timeout_seconds:g} s"
    except httpx.ConnectError as exc:
        reason = f"could not connect: {_plain(exc)}"
    except httpx.TooManyRedirects:
        reason = "too many redirects"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        reason = f"download failed: {_plain(exc)}"
    return _failed(source, state, source.url, reason)


def _conditional_headers(state: SourceState) -> dict[str, str]:
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def _read_response(
    source: SourceConfig, state: SourceState, response: httpx.Response, max_bytes: int
) -> Fetched:
    if response.status_code == HTTPStatus.NOT_MODIFIED:
        return Fetched(None, _validators(response, fallback=state), not_modified=True)
    if response.status_code >= 400:
        return _failed(source, state, source.url, _status_text(response))
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        return _failed(source, state, source.url, _too_large(max_bytes))
    body = bytearray()
    for chunk in response.iter_bytes():  # decoded, so a gzip bomb hits the cap too
        body += chunk
        if len(body) > max_bytes:
            return _failed(source, state, source.url, _too_large(max_bytes))
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
        if path.stat().st_size > max_bytes:
            return _failed(source, state, str(path), _too_large(max_bytes))
        return Fetched(path.read_bytes(), state)
    except FileNotFoundError:
        reason = "file not found"
    except IsADirectoryError:
        reason = "is a directory, not a file"
    except OSError as exc:
        reason = f"could not read the file: {exc.strerror or exc}"
    return _failed(source, state, str(path), reason)


def _too_large(max_bytes: int) -> str:
    megabytes = max_bytes / 1024 / 1024
    size = f"{megabytes:.3g} MB" if megabytes >= 1 else f"{max_bytes} bytes"
    return f"larger than {size}; not read"


def _failed(source: SourceConfig, state: SourceState, address: str, reason: str) -> Fetched:
    # The old validators stay, so the next run asks for the whole feed again.
    problem = Problem(source.name, f"could not fetch {address}: {reason}")
    return Fetched(None, state, problems=[problem])


def _plain(exc: Exception) -> str:
    """An exception's message without the '[Errno 111]' noise, or its class name if empty."""
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", str(exc)).strip()
    return text[:1].lower() + text[1:] if text else type(exc).__name__
