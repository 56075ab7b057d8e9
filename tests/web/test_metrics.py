"""GET /metrics over a real loopback server, after a small SMTP send with failures, webhook
events and scheduled job runs: every series is there, with the ledger's own numbers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from comms.clock import FixedClock
from comms.deliver.transports import make_transport
from comms.editions import delivery
from comms.operations import recipients
from comms.store import job_runs
from comms.store.job_runs import RunKey
from comms.store.models import Contact, JobRunOutcome, Message
from comms.web import create_app
from tests.deliver.conftest import KEY, NOW, Edition, EditionFactory
from tests.deliver.conftest import approved_edition as approved_edition  # the fixture
from tests.deliver.test_smtp import smtp_config
from tests.fakes.smtp import FakeSMTPServer
from tests.web.support import check_response, serve

SCRAPED_AT = NOW + timedelta(minutes=2)
APPLIED_AT = NOW + timedelta(minutes=1)
REJECTED = "lid2@fryslan.example.org"  # 550: failed for good
FULL = "lid3@gelderland.example.org"  # 452: failed, retried later (still in the queue)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def sent(approved_edition: EditionFactory, smtp_server: FakeSMTPServer) -> Edition:
    """12 recipients, 10 delivered, 1 refused for good, 1 waiting for its retry; two webhook
    events; a build that ran and a send that was missed."""
    edition = approved_edition(12, smtp_config(smtp_server), 'transport = "smtp"')
    smtp_server.reject = {REJECTED}
    smtp_server.replies = {FULL: "452 4.2.2 Mailbox full"}
    service, clock = edition.service, edition.clock
    delivery.start_sending(service, KEY, clock)
    transport = make_transport(service.config, KEY, clock)
    delivery.deliver_edition(service, KEY, transport, clock, wait_for_retries=False)
    with service.db.session() as session:
        first = session.execute(
            select(Message.id, Contact.email).join(Contact).order_by(Message.id).limit(1)
        ).one()
    event = {"email": first.email, "comms_edition": KEY, "comms_message": str(first.id)}
    recipients.apply_sendgrid_events(
        service,
        [
            event | {"event": "delivered", "timestamp": int((NOW - timedelta(seconds=90)).timestamp())},
            event | {"event": "open", "timestamp": int((NOW - timedelta(seconds=30)).timestamp())},
        ],
        APPLIED_AT,
    )
    build = job_runs.begin(service.db, RunKey("nieuwsbrief", "build", NOW), NOW, timedelta(minutes=5))
    assert build is not None
    job_runs.finish(service.db, build, JobRunOutcome.DONE, "built", NOW + timedelta(seconds=40))
    job_runs.record_missed(service.db, RunKey("nieuwsbrief", "send", NOW), NOW, "too late")
    return edition


@pytest.fixture
def base_url(sent: Edition) -> Iterator[str]:
    app = create_app(sent.service, FixedClock(SCRAPED_AT))
    with serve(app) as url:
        yield url
    app.state.context.mail.close()


def scrape(base_url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    with httpx.Client(base_url=base_url, event_hooks={"response": [check_response]}) as client:
        return client.get("/metrics", headers=headers or {})


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


def test_every_series_is_scraped_with_the_ledgers_numbers(base_url: str) -> None:
    response = scrape(base_url)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    expected = {
        ("comms_messages", labels(kind="newsletter", state="sent")): 10,
        ("comms_messages", labels(kind="newsletter", state="failed")): 2,
        ("comms_messages", labels(kind="newsletter", state="pending")): 0,
        ("comms_messages", labels(kind="newsletter", state="claimed")): 0,
        ("comms_messages", labels(kind="survey", state="sent")): 0,  # a kind that sent nothing
        ("comms_messages_sent_total", labels(kind="newsletter")): 10,
        ("comms_messages_sent_total", labels(kind="agenda-notice")): 0,
        ("comms_messages_sent_per_second", labels(kind="newsletter")): 10 / 300,
        ("comms_queue_depth", labels(kind="newsletter")): 1,  # the retry waiting
        ("comms_queue_depth", labels(kind="survey")): 0,
        ("comms_webhook_lag_seconds", labels()): 150,  # applied at +60 s, oldest event at -90 s
        ("comms_webhook_last_batch_timestamp_seconds", labels()): APPLIED_AT.timestamp(),
        ("comms_job_runs_total", labels(job="nieuwsbrief", step="build", outcome="done")): 1,
        ("comms_job_runs_total", labels(job="nieuwsbrief", step="build", outcome="failed")): 0,
        ("comms_job_runs_total", labels(job="nieuwsbrief", step="send", outcome="missed")): 1,
        ("comms_job_last_run_timestamp_seconds", labels(job="nieuwsbrief", step="build")): NOW.timestamp(),
    }
    assert {key: found.get(key) for key in expected} == expected


def test_the_send_rate_counts_only_the_last_five_minutes(sent: Edition) -> None:
    app = create_app(sent.service, FixedClock(NOW + timedelta(minutes=6)))
    with serve(app) as url:
        found = samples(scrape(url).text)
    app.state.context.mail.close()

    assert found[("comms_messages_sent_per_second", labels(kind="newsletter"))] == 0
    assert found[("comms_messages_sent_total", labels(kind="newsletter"))] == 10


@pytest.mark.parametrize(
    ("authorization", "status"),
    [("Bearer s3cret-metrics", 200), ("Bearer wrong", 401), ("", 401), ("s3cret-metrics", 401)],
    ids=["right-token", "wrong-token", "no-token", "not-bearer"],
)
def test_with_a_token_configured_a_scrape_must_bear_it(
    base_url: str, monkeypatch: pytest.MonkeyPatch, authorization: str, status: int
) -> None:
    monkeypatch.setenv("COMMS_METRICS_TOKEN", "s3cret-metrics")

    response = scrape(base_url, {"Authorization": authorization} if authorization else {})

    assert response.status_code == status
    assert ("comms_queue_depth" in response.text) == (status == 200)


@pytest.mark.parametrize(("client", "status"), [("192.0.2.7", 403), ("::1", 200)])
def test_without_a_token_only_local_clients_may_scrape(sent: Edition, client: str, status: int) -> None:
    app = create_app(sent.service, FixedClock(SCRAPED_AT))

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app, client=(client, 40000))  # as a request from `client` reaches it
        async with httpx.AsyncClient(transport=transport, base_url="http://comms.example.org") as http:
            return await http.get("/metrics")

    response = asyncio.run(get())
    app.state.context.mail.close()

    assert response.status_code == status
    assert ("COMMS_METRICS_TOKEN" in response.text) == (status == 403)
