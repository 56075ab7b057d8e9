"""POST /webhooks/sendgrid: SendGrid's signed Event Webhook (bounces, spam reports, unsubscribes).

Old timestamps, bad signatures and replays change nothing; a broken key of ours is a 503 (ours
to fix), not a 401. Answers are JSON, and a 5xx makes SendGrid retry.
"""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from comms.operations import recipients
from comms.track.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookKeyInvalid,
    WebhookRejected,
    load_public_key,
    verify_signature,
)
from comms.web.context import Context
from comms.web.forms import read_limited

log = logging.getLogger(__name__)
MAX_WEBHOOK_BYTES = 8 * 1024 * 1024  # read before the signature is checked, so bounded

router = APIRouter()


@router.post("/webhooks/sendgrid")
async def sendgrid_events(request: Request, web: Context) -> Response:
    settings = web.service.config.sendgrid
    if not settings.webhook_public_key:
        log.warning("SendGrid webhook post refused: [sendgrid] webhook_public_key is not configured")
        return json_error(503, "webhook not configured: set [sendgrid] webhook_public_key in comms.toml")
    payload = await read_limited(request, MAX_WEBHOOK_BYTES)
    if payload is None:
        return json_error(413, f"body larger than {MAX_WEBHOOK_BYTES} bytes")
    now = web.clock.now()
    try:
        load_public_key(settings.webhook_public_key)  # a broken key is ours to fix: 503, not 401
        verify_signature(
            settings.webhook_public_key,
            payload,
            request.headers.get(SIGNATURE_HEADER),
            request.headers.get(TIMESTAMP_HEADER),
            now,
            settings.webhook_max_age_seconds,
        )
    except WebhookKeyInvalid as exc:
        log.warning("SendGrid webhook post refused: %s", exc)
        return json_error(503, str(exc))
    except WebhookRejected as rejected:
        log.warning("SendGrid webhook post rejected: %s", rejected.reason)
        return json_error(rejected.status, rejected.reason)
    try:
        events = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        return json_error(400, "body is not JSON")
    if not isinstance(events, list):
        return json_error(400, "body is not a JSON array of events")
    outcome = await run_in_threadpool(recipients.apply_sendgrid_events, web.service, events, now)
    return JSONResponse(outcome)


def json_error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)
