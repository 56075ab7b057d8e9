"""Bodies are capped per route and refused with 413 before anything reads them, over real HTTP."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from comms.tokens import Purpose
from comms.track.suppressions import list_suppressions
from comms.web.bodies import FORM_LIMIT, body_limit
from tests.web.support import NOW, Site, notices

MB = 1024 * 1024
BOUNDARY = "grens"


def routes(site: Site) -> dict[str, str]:
    """Every form a recipient posts, with a link that works."""
    return {
        "ask-a-link": "/voorkeuren",
        "preferences": f"/voorkeuren/{site.token(Purpose.PREFERENCES)}",
        "unsubscribe": f"/afmelden/{site.token(Purpose.UNSUBSCRIBE)}",
        "unsubscribe-asks-a-link": f"/afmelden/{site.token(Purpose.UNSUBSCRIBE)}/voorkeuren",
        "undo": f"/afmelding-ongedaan/{site.token(Purpose.RESTORE, scope='agenda-digest')}",
    }


def nothing_changed(site: Site) -> None:
    with site.service.db.session() as session:
        assert list_suppressions(session) == []
    site.drain()
    assert notices(site) == []


def chunks(total: int, size: int = 1024) -> Iterator[bytes]:
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


@pytest.mark.parametrize(
    "route", ["ask-a-link", "preferences", "unsubscribe", "unsubscribe-asks-a-link", "undo"]
)
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_form_one_byte_over_its_cap_gets_a_dutch_413_and_changes_nothing(
    site: Site, route: str, framing: str
) -> None:
    body = b"List-Unsubscribe=One-Click&formulier=voorkeuren&email=a%40example.org&x="
    body += b"x" * (FORM_LIMIT + 1 - len(body))
    content = body if framing == "content-length" else chunks(len(body))

    response = site.client.post(
        routes(site)[route], content=content, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )

    assert response.status_code == 413
    assert "<h1>Het formulier is te groot</h1>" in response.text
    assert '<html lang="nl">' in response.text
    nothing_changed(site)


def test_a_form_at_its_cap_is_read(site: Site) -> None:
    body = b"List-Unsubscribe=One-Click&x="
    body += b"x" * (FORM_LIMIT - len(body))

    response = site.client.post(
        routes(site)["unsubscribe"],
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 200 and "U bent afgemeld" in response.text


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/voorkeuren", 4 * 1024),
        ("/afmelden/x", 4 * 1024),
        ("/enquete/x", 256 * 1024),
        ("/webhooks/sendgrid", 8 * MB),
        ("/bestaat-niet", 4 * 1024),
    ],
)
def test_caps_per_route(path: str, limit: int) -> None:
    assert body_limit(path) == limit


def test_the_survey_form_takes_long_answers_but_refuses_more(site: Site) -> None:
    path = "/enquete/kapot"  # a link that does not work: refused before its body is read
    below = site.client.post(path, data={"antwoord": "é" * 20_000})
    declared = site.client.post(path, content=b"x" * 300 * 1024)
    unread = site.client.post(path, content=chunks(300 * 1024))  # never read, so never counted

    assert below.status_code == 400 and "te groot" not in below.text
    assert declared.status_code == 413
    assert unread.status_code == 400 and "te groot" not in unread.text


def test_the_webhook_refuses_more_than_8_mb_with_json(site: Site) -> None:
    response = site.client.post(
        "/webhooks/sendgrid", content=chunks(8 * MB + 1, MB), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert response.json() == {"error": f"body larger than {8 * MB} bytes"}


@dataclass
class RawAnswer:
    status: int
    sent: int  # bytes of the body sent before the answer came
    seconds: float


def raw_post(base_url: str, path: str, declared: int | None, total: int) -> RawAnswer:
    """Post `total` bytes of a multipart body, 99 fields of ~1 MB, as a client that goes on
    sending until it sees an answer; `declared` None sends it chunked."""
    address = urlsplit(base_url)
    started = time.perf_counter()
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        framing = f"Content-Length: {declared}" if declared is not None else "Transfer-Encoding: chunked"
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{framing}\r\n\r\n".encode()
        )
        field = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f"\r\n\r\n'.encode() + b"x" * MB
        sent = 0
        sock.setblocking(False)
        while sent < total and not select.select([sock], [], [], 0)[0]:
            piece = field if declared is not None else b"%x\r\n%s\r\n" % (len(field), field)
            try:
                sent += sock.send(piece)
            except (BlockingIOError, InterruptedError):
                select.select([sock], [sock], [], 1)
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.setblocking(True)
        answer = sock.recv(65536)
    return RawAnswer(int(answer.split(b" ", 2)[1]), sent, time.perf_counter() - started)


@pytest.mark.parametrize(
    ("expires_in", "declared", "status"),
    [
        pytest.param(None, 100 * MB, 413, id="declared-length"),
        pytest.param(None, None, 413, id="chunked-counted-while-read"),
        pytest.param(timedelta(0), None, 410, id="chunked-bad-link-never-read"),
    ],
)
def test_a_100_mb_body_is_refused_long_before_it_has_arrived(
    site: Site, expires_in: timedelta | None, declared: int | None, status: int
) -> None:
    expires = NOW + expires_in if expires_in is not None else None
    path = f"/voorkeuren/{site.token(Purpose.PREFERENCES, expires_at=expires)}"

    answer = raw_post(str(site.client.base_url), path, declared, 100 * MB)

    assert answer.status == status
    assert answer.sent < 20 * MB, answer  # the answer came while the client was still sending
    assert answer.seconds < 5, answer
    nothing_changed(site)
