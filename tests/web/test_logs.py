"""No token in any log: the redaction itself, and a whole survey round served by `comms web` over
real HTTP, whose captured output (uvicorn's access log as `comms web` configures it, the app's
own logs) and this process's logs are searched for every token that was issued."""

from __future__ import annotations

import email
import email.policy
import logging
import os
import re
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from comms.dates import utcnow
from comms.editions import lifecycle
from comms.kinds.survey import KIND as SURVEYS
from comms.operations import surveys
from comms.service import Service
from comms.web.logs import REDACTED, RedactTokens, log_config, redact
from tests.survey.test_pool import ORDER, service  # noqa: F401  (the round's fixture)
from tests.survey.test_rounds import send_due

REPO = Path(__file__).resolve().parents[2]
TOKEN = "c3VydmV5LmExYTFhMWExYTFhMWExYTEuMjAyNi1IMi42OTc4ZGZjMA.q7b1Zt0mWc3YHn2nUyJrLs9P"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            f'127.0.0.1:5 - "GET /enquete/{TOKEN} HTTP/1.1" 200',
            f'127.0.0.1:5 - "GET /enquete/{REDACTED} HTTP/1.1" 200',
            id="access-log",
        ),
        pytest.param(f"POST /afmelden/{TOKEN}", f"POST /afmelden/{REDACTED}", id="unsubscribe"),
        pytest.param(
            "GET /voorkeuren/whatever-it-is", f"GET /voorkeuren/{REDACTED}", id="any-segment-after-a-route"
        ),
        pytest.param(
            "GET /nieuwsbrief/2026-12?t=abc", f"GET /nieuwsbrief/2026-12?{REDACTED}", id="query-string"
        ),
        pytest.param(
            f"ValueError: bad token {TOKEN}!", f"ValueError: bad token {REDACTED}!", id="token-anywhere"
        ),
        pytest.param("GET /nieuwsbrief/2026-12 HTTP/1.1", "GET /nieuwsbrief/2026-12 HTTP/1.1", id="no-token"),
        pytest.param("read comms.toml and survey.toml", "read comms.toml and survey.toml", id="dotted-words"),
    ],
)
def test_redact(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_the_filter_redacts_arguments_and_exceptions() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, "%s %s %d", ("x", f"/enquete/{TOKEN}", 200), None
    )
    try:
        raise RuntimeError(f"failed for /resultaten/{TOKEN}")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    RedactTokens().filter(record)
    assert record.args == ("x", f"/enquete/{REDACTED}", 200)  # the access formatter reads these
    assert TOKEN not in (record.exc_text or "") and "RuntimeError" in (record.exc_text or "")
    assert all("tokens" in handler["filters"] for handler in log_config()["handlers"].values())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def issued_tokens(outbox: Path) -> set[str]:
    """Every token in every mail sent: links in the text and HTML parts and in the headers."""
    found: set[str] = set()
    for path in outbox.rglob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        texts = [f"{name}: {value}" for name, value in message.items()]
        texts += [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
        for text in texts:
            found |= set(
                re.findall(r"/(?:enquete|afmelden|voorkeuren)/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)", text)
            )
    return found


# `comms serve` logs uvicorn at warning level (no access lines), through the same configuration.
COMMANDS = {"web": ["web"], "serve": ["serve", "--no-worker"]}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_whole_round_over_http_leaves_no_token_in_any_log(
    service: Service,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    command: str,
) -> None:
    # `comms web` runs on the real clock: a round open now, for a long time.
    definition = service.config.resolve(service.config.templates_dir) / "surveys" / "pamflet.toml"
    text = definition.read_text(encoding="utf-8")
    definition.write_text(
        text.replace("2026-12-01T09:00:00", "2020-01-01T09:00:00").replace(
            "2026-12-22T17:00:00", "2099-12-22T17:00:00"
        ),
        encoding="utf-8",
    )
    caplog.set_level(logging.DEBUG)
    now = utcnow()
    started = SURVEYS.start_round(service, "2026-H2", now - timedelta(minutes=5))
    lifecycle.approve(service, started.edition_key, "redacteur", now)
    send_due(service, now)
    tokens = issued_tokens(service.outbox_dir)
    survey_links = {}
    for path in (service.outbox_dir / "enquete-2026-h2-uitnodiging" / "messages").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found = re.search(r"/enquete/(\S+)", message.get_body(("plain",)).get_content())
        assert found
        survey_links[message["To"].addresses[0].addr_spec.split("@")[0]] = found[1]
    results_token = surveys.results_link(service, "2026-H2", now).rsplit("/", 1)[1]
    tokens |= {results_token, *survey_links.values()}
    assert len(tokens) >= 2 * len(survey_links)  # survey links and unsubscribe links

    port = free_port()
    log_file = tmp_path / "comms-web.log"
    with log_file.open("wb") as output:
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "comms.cli",
                "--config",
                str(service.config.path),
                "web",
                "--port",
                str(port),
            ],
            cwd=service.config.path.parent,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=os.environ | {"PYTHONPATH": str(REPO)},
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:  # bounded wait for the server to listen
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline and web.poll() is None, log_file.read_text()
                    time.sleep(0.1)
            with httpx.Client(base_url=base, timeout=10) as client:
                for name in ORDER:
                    link = f"/enquete/{survey_links[name]}"
                    assert client.get(link).status_code == 200
                    client.post(link, data={"action": "opslaan", "bekendheid": "2"})
                    done = client.post(
                        link, data={"action": "versturen", "bekendheid": "3", "toelichting": "Prima"}
                    )
                    assert "Dank u wel" in done.text
                    assert client.get(link).status_code == 409
                assert client.get(f"/resultaten/{results_token}").status_code == 200
                assert client.get(f"/enquete/{survey_links[ORDER[0]]}x").status_code == 400
                for token in sorted(tokens - set(survey_links.values()) - {results_token})[:3]:
                    client.get(f"/afmelden/{token}")
        finally:
            web.terminate()
            web.wait(timeout=30)
    surveys.results(service, "2026-H2")
    # This process's records, except the test's own HTTP client (httpx logs the URLs it requests).
    ours = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    own = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in ours)
    logged = log_file.read_text(encoding="utf-8") + "\n" + own

    if command == "web":
        assert f'"GET /enquete/{REDACTED} HTTP/1.1" 200' in logged  # the access log is there …
        assert f'"POST /enquete/{REDACTED} HTTP/1.1" 200' in logged
        assert f'"GET /resultaten/{REDACTED} HTTP/1.1" 200' in logged
    leaked = [t for t in tokens if t in logged or t.split(".")[0] in logged or t.split(".")[1] in logged]
    assert leaked == []  # … without a single token, or half of one
