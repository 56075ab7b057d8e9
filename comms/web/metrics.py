"""GET /metrics: the service's figures in Prometheus' text format, for a scraper.

Who may scrape: with COMMS_METRICS_TOKEN set, a request bearing `Authorization: Bearer <token>`
(compared in constant time); without it, only clients on this machine (127.0.0.1, ::1). Behind
a reverse proxy on the same machine every client looks local: set the token there, or do not
proxy /metrics. The figures hold no personal data, but they say how large and busy the
service is, which is nobody else's business.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from comms.operations import metrics
from comms.web.context import Context

TOKEN_VARIABLE = "COMMS_METRICS_TOKEN"
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})

router = APIRouter()


@router.get("/metrics")
async def scrape(request: Request, web: Context) -> Response:
    refused = _refusal(request)
    if refused is not None:
        return refused
    snapshot = await run_in_threadpool(metrics.snapshot, web.service, web.clock.now())
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(snapshot))
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def _refusal(request: Request) -> Response | None:
    token = os.environ.get(TOKEN_VARIABLE, "")
    if token:
        given = request.headers.get("authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return None
        return Response("unauthorised\n", 401, {"WWW-Authenticate": "Bearer"}, media_type="text/plain")
    client = request.client.host if request.client else ""
    if client in _LOOPBACK:
        return None
    return Response(
        f"forbidden: only local clients, unless {TOKEN_VARIABLE} is set\n", 403, media_type="text/plain"
    )


class SnapshotCollector(Collector):
    """One scrape's snapshot as metric families (every series present, 0 where nothing counts)."""

    def __init__(self, snapshot: metrics.Snapshot):
        self.snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        s = self.snapshot
        messages = GaugeMetricFamily(
            "comms_messages", "Messages in the ledger by mailing kind and state", labels=["kind", "state"]
        )
        for (kind, state), count in sorted(s.messages.items()):
            messages.add_metric([kind, state], count)
        yield messages
        sent = CounterMetricFamily("comms_messages_sent", "Messages sent, by mailing kind", labels=["kind"])
        rate = GaugeMetricFamily(
            "comms_messages_sent_per_second",
            f"Messages sent per second over the last {metrics.RATE_WINDOW.total_seconds() / 60:g} minutes",
            labels=["kind"],
        )
        queue = GaugeMetricFamily(
            "comms_queue_depth",
            "Messages waiting: pending, claimed, or failed with a retry planned",
            labels=["kind"],
        )
        for kind in s.kinds:
            sent.add_metric([kind], s.sent_total(kind))
            rate.add_metric([kind], s.send_rate(kind))
            queue.add_metric([kind], s.queue_depth.get(kind, 0))
        yield from (sent, rate, queue)
        yield GaugeMetricFamily(
            "comms_webhook_lag_seconds",
            "Age of the oldest event in the latest SendGrid webhook post when it was applied",
            value=s.webhook_lag_seconds,
        )
        yield GaugeMetricFamily(
            "comms_webhook_last_batch_timestamp_seconds",
            "When the latest SendGrid webhook post was applied (0: never)",
            value=s.webhook_last_batch_at or 0.0,
        )
        runs = CounterMetricFamily(
            "comms_job_runs",
            "Scheduled job runs by schedule, step and outcome",
            labels=["job", "step", "outcome"],
        )
        for (job, step, outcome), count in sorted(s.job_runs.items()):
            runs.add_metric([job, step, outcome], count)
        yield runs
        last = GaugeMetricFamily(
            "comms_job_last_run_timestamp_seconds",
            "When each job's latest run started",
            labels=["job", "step"],
        )
        for (job, step), started in sorted(s.job_last_run.items()):
            last.add_metric([job, step], started)
        yield last
