"""Helpers for the web tests: the app served by uvicorn on 127.0.0.1, signed tokens and webhook
posts, seeded contacts and a sent edition's ledger.

Every response a test gets through `Site.client` is checked for the security headers and for the
absence of cookies (`check_response`), so each test also guards those rules for its pages.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, cast

import httpx
import uvicorn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from sqlalchemy import select

from comms.clock import FixedClock
from comms.config import Config
from comms.service import Service
from comms.store.models import Contact, Edition, EditionStatus, Message, MessageStatus
from comms.tokens import Purpose
from comms.web.context import WebContext

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
LINK_LIFETIME = timedelta(days=400)
ASM_GROUPS = {"newsletter": 101, "survey": 104}
EDITION_KEY = "nieuwsbrief-2026-12"
# (email, public id) of the seeded contacts
ANNA = ("anna.devries@utrecht.example.org", "a1a1a1a1a1a1a1a1")
BRAM = ("bram.jansen@zeeland.example.org", "b2b2b2b2b2b2b2b2")
CONTACTS = (ANNA, BRAM)


def public_key_b64(private_key: ec.EllipticCurvePrivateKey) -> str:
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def webhook_signature(private_key: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    """What SendGrid sends: base64 of the DER ECDSA P-256/SHA-256 signature of timestamp + body."""
    return base64.b64encode(private_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()


def check_response(response: httpx.Response) -> None:
    headers = response.headers
    path = response.request.url.path
    assert "set-cookie" not in headers, path
    assert headers["x-content-type-options"] == "nosniff", path
    assert headers["referrer-policy"] == "no-referrer", path
    assert headers["x-frame-options"] == "DENY", path
    csp = headers["content-security-policy"]
    for directive in (
        "default-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ):
        assert directive in csp, (path, csp)
    assert "script-src" not in csp, path
    assert headers["strict-transport-security"] == "max-age=31536000", path  # base_url is https
    if not path.startswith(("/nieuwsbrief/", "/static/")) or response.status_code != 200:
        assert headers["cache-control"] == "no-store", path


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run `app` with uvicorn in a thread on 127.0.0.1; its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # a bounded wait for the socket to be bound
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test web server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Site:
    service: Service
    clock: FixedClock
    client: httpx.Client
    webhook_key: ec.EllipticCurvePrivateKey
    web: WebContext  # the app's own: its mail queue and rate limits

    @property
    def config(self) -> Config:
        return self.service.config

    def drain(self) -> None:
        """Wait for the mail the pages queued after their responses."""
        assert self.web.mail.drain(), "mail still queued after 30 s"

    def token(
        self,
        purpose: Purpose,
        contact: tuple[str, str] = ANNA,
        scope: str = "newsletter",
        expires_at: datetime | None = None,
    ) -> str:
        return self.service.signer().sign(purpose, contact[1], scope, expires_at or NOW + LINK_LIFETIME)

    def post_events(
        self,
        events: Any,
        timestamp: str | None = None,
        headers: dict[str, str | None] | None = None,
        key: ec.EllipticCurvePrivateKey | None = None,
        signed_body: bytes | None = None,
    ) -> httpx.Response:
        """Post `events` (a JSON value, or raw bytes) signed as SendGrid signs them: `signed_body`
        is what the signature covers (default: the body sent); a header given as None is left out."""
        body = events if isinstance(events, bytes) else json.dumps(events).encode()
        timestamp = timestamp or str(int(self.clock.now().timestamp()))
        signature = webhook_signature(
            key or self.webhook_key, timestamp, body if signed_body is None else signed_body
        )
        sent = {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
            "X-Twilio-Email-Event-Webhook-Signature": signature,
        } | (headers or {})
        return self.client.post(
            "/webhooks/sendgrid", content=body, headers={k: v for k, v in sent.items() if v is not None}
        )


def seed_contacts(service: Service, contacts: tuple[tuple[str, str], ...] = CONTACTS) -> None:
    with service.db.session() as session:
        for email, public_id in contacts:
            session.add(
                Contact(
                    public_id=public_id,
                    email=email,
                    first_name=email.split(".")[0].title(),
                    infix="",
                    last_name="Test",
                    province="Utrecht",
                    party=None,
                    roles=",statenlid,",
                    themes=",",
                    active=True,
                    source_file="seed",
                    updated_at=NOW,
                )
            )


def seed_ledger(service: Service, key: str = EDITION_KEY, html: str | None = None) -> dict[str, int]:
    """A sent newsletter edition with one ledger message per seeded contact; email → message id."""
    with service.db.session() as session:
        edition = Edition(
            key=key,
            kind="newsletter",
            subject="IPO-nieuwsbrief voor Statenleden – december 2026",
            audience="statenleden",
            status=EditionStatus.SENT,
            built_at=NOW - timedelta(hours=2),
            sent_at=NOW - timedelta(hours=1),
            html=html,
        )
        session.add(edition)
        session.flush()
        ids = {}
        for contact in session.scalars(select(Contact).order_by(Contact.id)):
            message = Message(edition_id=edition.id, contact_id=contact.id, status=MessageStatus.SENT)
            session.add(message)
            session.flush()
            ids[contact.email] = message.id
        return ids


SiteFactory = Callable[..., Site]


def notices(site: Site) -> list[EmailMessage]:
    """The service mails (preference links, notices) the outbox holds, oldest first."""
    folder = site.config.resolve(site.config.delivery.outbox_dir) / "meldingen" / "messages"
    files = sorted(folder.glob("*.eml"), key=lambda f: f.stat().st_mtime_ns) if folder.is_dir() else []
    return [
        cast(EmailMessage, email.message_from_bytes(f.read_bytes(), policy=email.policy.default))
        for f in files
    ]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())
