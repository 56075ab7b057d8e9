"""A local stand-in for SendGrid's v3 Mail Send API (``POST /v3/mail/send``).

Every request body is validated against SendGrid's own OpenAPI description
(``tests/fakes/sendgrid_openapi/tsg_mail_v3.json``) plus the rules SendGrid's error
reference documents and the schema leaves out: 1 to 1000 personalizations, a non-empty ``to``
in each, at most 1000 recipients (to + cc + bcc) in all, and no address twice (ignoring case)
across the request, at most 10,000 bytes of substitutions per personalization, and ``sections``
(which the current description leaves out) as SendGrid's section-tag docs describe them. A failure,
like a non-JSON body or Content-Type, is answered 400 and kept in ``schema_violations``.
``rendered(body, personalization)`` gives each content part as SendGrid would write it for that
recipient: substitutions, then sections. Faults are plain attributes the test sets at any time::

    sendgrid_server.fail_every = 3            # requests 3, 6, 9 … answered 500
    sendgrid_server.rate_limit_next = 2       # the next 2 requests answered 429
    sendgrid_server.hang_next = 1             # the next request held until release()/teardown
    sendgrid_server.status_override = 413     # every request answered 413 until set to None

``wait_until_held()`` lets a test act while a request is held, without sleeping.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import re
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from jsonschema import Draft4Validator, Draft202012Validator
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.jsonschema import specification_with

from tests.fakes import Guarded

# SendGrid's public OpenAPI description (MIT licence), kept in the repository: see its README.
SPEC_PATH = Path(__file__).resolve().parent / "sendgrid_openapi" / "tsg_mail_v3.json"
SPEC_URI = "urn:sendgrid:tsg_mail_v3"
MAIL_SEND = "/v3/mail/send"
DEFAULT_API_KEY = "SG.test-key"
MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_SUBSTITUTION_BYTES = 10_000
MAX_MESSAGE_CHARS = 500  # jsonschema quotes whole instances; keep error bodies readable
BAD_KEY_MESSAGE = "The provided authorization grant is invalid, expired, or revoked"
# Messages of the spec's example error responses, for status_override without a status_body.
STATUS_MESSAGES = {
    400: "invalid request",
    401: "authorization required",
    403: "access forbidden",
    404: "not found",
    405: "method not allowed",
    413: "content too large",
    500: "internal server error",
}


def _pointer_token(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


def mail_send_body_pointer(spec: dict[str, Any]) -> str:
    """JSON pointer to the request-body schema of ``POST /v3/mail/send``, following its $ref."""
    body = spec["paths"][MAIL_SEND]["post"]["requestBody"]
    if "$ref" in body:
        base = body["$ref"].removeprefix("#")  # '#/components/requestBodies/PostMailSend'
    else:
        base = f"/paths/{_pointer_token(MAIL_SEND)}/post/requestBody"
    return f"{base}/content/{_pointer_token('application/json')}/schema"


@functools.cache
def mail_send_validator(spec_path: Path = SPEC_PATH) -> Validator:
    """A validator for the Mail Send body, with every ``#/components/...`` $ref resolvable.

    The whole OpenAPI document is one resource in a ``referencing`` registry under SPEC_URI;
    the root schema is a single $ref into it, so the inner ``#/components/schemas/MailTo`` refs
    resolve against the whole document. OpenAPI 3.1 schemas are JSON Schema 2020-12; 3.0 ones
    are a Draft 4 dialect. Unknown keywords (``nullable``, ``example``) are ignored by both.
    """
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    cls = Draft202012Validator if str(spec["openapi"]).startswith("3.1") else Draft4Validator
    dialect = specification_with(cls.META_SCHEMA["$schema"])
    registry: Registry = Registry().with_resource(SPEC_URI, Resource(contents=spec, specification=dialect))
    root = {"$ref": f"{SPEC_URI}#{mail_send_body_pointer(spec)}"}
    # format: email is asserted: SendGrid refuses addresses it cannot parse.
    return cls(root, registry=registry, format_checker=cls.FORMAT_CHECKER)


@dataclass(frozen=True)
class Problem:
    message: str
    field: str | None


@dataclass(frozen=True)
class SchemaViolation:
    request_number: int
    message: str
    field: str | None
    body: Any


@dataclass(frozen=True)
class RecordedRequest:
    request_number: int
    body: dict[str, Any]
    headers: Message
    message_id: str


class Exchange(NamedTuple):
    """One request as answered; ``status`` is None for a held request that was dropped."""

    request_number: int
    status: int | None


class AcceptedPersonalization(NamedTuple):
    request_index: int  # index into FakeSendGrid.requests
    personalization: dict[str, Any]


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _status_message(status: int) -> str:
    return STATUS_MESSAGES.get(status) or HTTPStatus(status).phrase.lower()


def error_body(message: str, field: str | None = None) -> dict[str, Any]:
    return {"errors": [{"message": message, "field": field, "help": None}]}


def _recipients(body: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(json path, address) for every to/cc/bcc entry of every personalization."""
    for p, personalization in enumerate(body["personalizations"]):
        for kind in ("to", "cc", "bcc"):
            for r, recipient in enumerate(personalization.get(kind, [])):
                yield f"$.personalizations[{p}].{kind}[{r}]", recipient["email"]


def personalization_count_problem(body: Any) -> Problem | None:
    """Checked before the schema: its maxItems error would quote all 1001 personalizations."""
    personalizations = body.get("personalizations") if isinstance(body, dict) else None
    if not isinstance(personalizations, list):
        return None  # the schema reports it
    if not personalizations:
        return Problem("You must have at least one personalization.", "$.personalizations")
    if len(personalizations) > MAX_PERSONALIZATIONS:
        return Problem(
            f"The personalization block is limited to {MAX_PERSONALIZATIONS} personalizations "
            f"per API request. You have provided {len(personalizations)} personalizations.",
            "$.personalizations",
        )
    return None


def recipient_problem(body: dict[str, Any]) -> Problem | None:
    """SendGrid's documented recipient rules; runs on a schema-valid body only."""
    for p, personalization in enumerate(body["personalizations"]):
        if not personalization["to"]:
            return Problem("Each personalization needs a to address.", f"$.personalizations[{p}].to")
    recipients = list(_recipients(body))
    if len(recipients) > MAX_RECIPIENTS:
        return Problem(
            f"There is a limit of {MAX_RECIPIENTS} total recipients (to + cc + bcc) per request; "
            f"this request has {len(recipients)}.",
            "$.personalizations",
        )
    seen: set[str] = set()
    for path, address in recipients:
        if address.casefold() in seen:  # SendGrid compares case-insensitively
            return Problem(
                f"Each unique email address in the personalizations array should only be included "
                f"once. You have included {address} more than once.",
                path,
            )
        seen.add(address.casefold())
    return None


def substitution_problem(body: dict[str, Any]) -> Problem | None:
    """The limit the schema's description states but cannot express: 10,000 bytes (tags and
    values) of substitutions per personalization."""
    for p, personalization in enumerate(body["personalizations"]):
        substitutions = personalization.get("substitutions") or {}
        size = sum(len(k.encode()) + len(v.encode()) for k, v in substitutions.items())
        if size > MAX_SUBSTITUTION_BYTES:
            return Problem(
                f"The total size of your substitutions may not exceed {MAX_SUBSTITUTION_BYTES} bytes per "
                f"personalization object; this one has {size}.",
                f"$.personalizations[{p}].substitutions",
            )
    return None


def sections_problem(body: dict[str, Any]) -> Problem | None:
    """`sections` is not in the current description (which lets unknown keys through); checked
    as SendGrid's section-tag docs describe it: string values only, no section inside another."""
    sections = body.get("sections")
    if sections is None:
        return None
    if not isinstance(sections, dict) or not all(isinstance(v, str) for v in sections.values()):
        return Problem("sections must be an object whose values are strings.", "$.sections")
    for key, text in sections.items():
        if any(other in text for other in sections):
            return Problem("A section may not contain another section tag.", f"$.sections[{key!r}]")
    return None


def _replacer(table: dict[str, str]) -> re.Pattern[str] | None:
    """One pattern for every key, longest first, so each place is replaced once."""
    if not table:
        return None
    return re.compile("|".join(re.escape(key) for key in sorted(table, key=len, reverse=True)))


def rendered(body: dict[str, Any], personalization: dict[str, Any]) -> dict[str, str]:
    """Each content part ("text/plain", "text/html") as this personalization's recipient gets it.

    As SendGrid does it: every substitution tag is replaced in one pass (a value is never scanned
    again); then each section key in the result is replaced by its section, and the section's
    own substitution tags by their values.
    """
    substitutions: dict[str, str] = personalization.get("substitutions") or {}
    sections: dict[str, str] = body.get("sections") or {}
    tags, keys = _replacer(substitutions), _replacer(sections)

    def substitute(text: str) -> str:
        return tags.sub(lambda m: substitutions[m[0]], text) if tags else text

    def expand(text: str) -> str:
        return keys.sub(lambda m: substitute(sections[m[0]]), text) if keys else text

    return {part["type"]: expand(substitute(part["value"])) for part in body["content"]}


def schema_problem(body: Any, validator: Validator | None = None) -> Problem | None:
    error = best_match((validator or mail_send_validator()).iter_errors(body))
    if error is None:
        return None
    message = error.message
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    return Problem(message, error.json_path)


def body_problem(body: Any) -> Problem | None:
    return (
        personalization_count_problem(body)
        or schema_problem(body)
        or recipient_problem(body)
        or substitution_problem(body)
        or sections_problem(body)
    )


class FakeSendGrid:
    """A threaded HTTP server on 127.0.0.1 and a free port; use as a context manager or fixture.

    ``fail_every`` counts every request to the endpoint (1-based ``request_number``), whatever
    it was answered. A held request (``hang_next``) is dropped without an answer when released,
    and never recorded as accepted.
    """

    fail_every = Guarded["int | None"]()
    rate_limit_next = Guarded[int]()
    rate_limit_reset = Guarded["int | None"]()  # unix time; None means now + 1 s
    rate_limit_limit = Guarded[int]()
    hang_next = Guarded[int]()
    status_override = Guarded["int | None"]()
    status_body = Guarded["dict[str, Any] | None"]()  # None: a SendGrid-shaped body for the status

    def __init__(self, api_key: str = DEFAULT_API_KEY) -> None:
        self._lock = threading.RLock()
        self.api_key = api_key
        self.fail_every = None
        self.rate_limit_next = 0
        self.rate_limit_reset = None
        self.rate_limit_limit = 600
        self.hang_next = 0
        self.status_override = None
        self.status_body = None
        self._count = 0
        self._requests: list[RecordedRequest] = []
        self._violations: list[SchemaViolation] = []
        self._exchanges: list[Exchange] = []
        self._gate = threading.Event()
        self._held = 0
        self._held_changed = threading.Condition(self._lock)
        self._closing = False
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        mail_send_validator()  # load the spec now: a missing file fails the fixture, not a request

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeSendGrid:
        self._httpd = _HTTPServer(self)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        # A short poll interval: shutdown() waits up to one interval, at every teardown.
        serve = functools.partial(self._httpd.serve_forever, poll_interval=0.02)
        self._thread = threading.Thread(target=serve, name="fake-sendgrid", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        with self._lock:
            self._closing = True
            self._gate.set()  # no replacement gate: nothing is held from now on
        self._httpd.shutdown()
        self._httpd.drop_open_connections()
        self._httpd.server_close()  # joins the handler threads
        assert self._thread is not None
        self._thread.join(timeout=5)
        self._httpd = None

    def release(self) -> None:
        """Let go of every held request (each is dropped without an answer)."""
        with self._lock:
            gate = self._gate
            if not self._closing:
                self._gate = threading.Event()
        gate.set()

    def wait_until_held(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Block until `count` requests are being held (False on timeout): sync without sleeping."""
        with self._held_changed:
            return self._held_changed.wait_for(lambda: self._held >= count, timeout)

    def __enter__(self) -> FakeSendGrid:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what the test reads ---------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Requests answered 202, in the order they were accepted."""
        with self._lock:
            return list(self._requests)

    @property
    def received(self) -> int:
        """Requests received, answered or not (a held one counts once it arrived)."""
        with self._lock:
            return self._count

    @property
    def schema_violations(self) -> list[SchemaViolation]:
        with self._lock:
            return list(self._violations)

    @property
    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return sorted(self._exchanges)

    def accepted_personalizations(self) -> list[AcceptedPersonalization]:
        return [
            AcceptedPersonalization(index, personalization)
            for index, request in enumerate(self.requests)
            for personalization in request.body["personalizations"]
        ]

    def count_by_recipient(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for request in self.requests:
            counts.update(address for _path, address in _recipients(request.body))
        return counts

    def reset(self) -> None:
        """Forget what was received (and the request count); fault settings stay."""
        with self._lock:
            self._count = 0
            self._requests.clear()
            self._violations.clear()
            self._exchanges.clear()

    # -- called from handler threads -------------------------------------------------------

    def handle(self, headers: Message, raw: bytes) -> Reply | None:
        """The reply to one ``POST /v3/mail/send``; None means drop the connection unanswered."""
        with self._lock:
            self._count += 1
            number = self._count
        reply = None if self._hold() else self._answer(number, headers, raw)
        with self._lock:
            self._exchanges.append(Exchange(number, reply.status if reply else None))
        return reply

    def _hold(self) -> bool:
        with self._lock:
            if self.hang_next <= 0 or self._closing:
                return False
            self.hang_next -= 1
            gate = self._gate
            self._held += 1
            self._held_changed.notify_all()
        gate.wait()  # released by release() or teardown; never a sleep
        with self._lock:
            self._held -= 1
        return True

    def _answer(self, number: int, headers: Message, raw: bytes) -> Reply:
        fault = self._injected_fault(number)
        if fault is not None:
            return fault
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return Reply(401, error_body(BAD_KEY_MESSAGE))
        body, problem = self._parse(headers, raw)
        problem = problem or body_problem(body)
        if problem is not None:
            with self._lock:
                self._violations.append(SchemaViolation(number, problem.message, problem.field, body))
            return Reply(400, error_body(problem.message, problem.field))
        message_id = secrets.token_urlsafe(16)
        with self._lock:
            self._requests.append(RecordedRequest(number, body, headers, message_id))
        return Reply(202, None, {"X-Message-Id": message_id})

    def _injected_fault(self, number: int) -> Reply | None:
        with self._lock:
            if self.rate_limit_next > 0:
                self.rate_limit_next -= 1
                return self._rate_limited()
            if self.fail_every and number % self.fail_every == 0:
                return Reply(500, {"errors": [{"message": "Internal server error"}]})
            if self.status_override is not None:
                status = self.status_override
                return Reply(status, self.status_body or error_body(_status_message(status)))
        return None

    def _rate_limited(self) -> Reply:
        reset = self.rate_limit_reset
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit_limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset if reset is not None else int(time.time()) + 1),
        }
        return Reply(429, error_body("too many requests"), headers)

    @staticmethod
    def _parse(headers: Message, raw: bytes) -> tuple[Any, Problem | None]:
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return None, Problem("Content-Type should be application/json.", None)
        try:
            if (headers.get("Content-Encoding") or "").lower() == "gzip":
                raw = gzip.decompress(raw)
            return json.loads(raw), None
        except (OSError, EOFError, ValueError) as exc:
            return None, Problem(f"The request body is not valid JSON: {exc}", None)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients reuse connections to SendGrid
    timeout = 30  # an idle kept-alive connection cannot hold teardown forever
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?")[0] != MAIL_SEND:
            self._send(Reply(404, error_body(_status_message(404))))
            return
        reply = self.server.fake.handle(self.headers, raw)
        if reply is None:
            self.close_connection = True
            return
        self._send(reply)

    def do_GET(self) -> None:
        status = 405 if self.path.split("?")[0] == MAIL_SEND else 404
        self._send(Reply(status, error_body(_status_message(status))))

    do_PUT = do_PATCH = do_DELETE = do_GET

    def _send(self, reply: Reply) -> None:
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        if reply.body is not None:
            self.send_header("Content-Type", "application/json")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() then joins handler threads: nothing outlives the test
    block_on_close = True

    def __init__(self, fake: FakeSendGrid) -> None:
        self.fake = fake
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_open_connections(self) -> None:
        """Wake handlers waiting on idle kept-alive connections so they can be joined."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def sendgrid_server() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server
