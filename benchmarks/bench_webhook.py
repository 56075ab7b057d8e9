"""SendGrid's event webhook at scale: one signed post of 10,000 events, and the one-click
unsubscribes recipients make meanwhile.

    .venv/bin/python benchmarks/bench_webhook.py [--events 10000] [--recipients 10000] [--postgresql]

A ledger of N recipients (one sent newsletter edition) on SQLite (default) or a scratch
PostgreSQL database; the real app served by uvicorn on 127.0.0.1 in a thread. One post of
signed events (delivered, open, click, processed, deferred, bounce, spamreport, unsubscribe,
mixed as SendGrid sends them) is timed from request to answer; meanwhile another thread
issues one-click unsubscribes (POST /afmelden/{token}) and records their latency, which must
stay short: a recipient's page never waits on the webhook. The issue's row names no
baseline, so the floor is printed instead: events/s of verifying the post's signature and
parsing its JSON alone, in the same run. Process CPU time covers client and server (one process).
"""

from __future__ import annotations

import argparse
import base64
import json
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from harness import NOW, Figure, at_most, exit_code, report, scratch_postgres, scratch_project, timed
from sqlalchemy import func, insert, select

# What SendGrid sends, by share: mostly delivery and engagement, a few bounces and complaints.
MIX = ["processed", "delivered", "delivered", "open", "open", "click", "deferred"] * 4 + [
    "bounce",
    "spamreport",
    "unsubscribe",
    "dropped",
]
POLL = 0.02  # seconds between two unsubscribes (a recipient clicking, not a flood)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--postgresql", action="store_true", help="a scratch PostgreSQL database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="comms-bench-webhook-") as work:
        if args.postgresql:
            with scratch_postgres() as url:
                return run(Path(work), args.events, args.recipients, url)
        return run(Path(work), args.events, args.recipients, None)


def run(work: Path, events: int, recipients: int, url: str | None) -> int:
    from comms.clock import FixedClock
    from comms.service import Service
    from comms.tokens import Purpose
    from comms.track.webhook import verify_signature
    from comms.web import create_app
    from tests.web.support import serve

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    config = scratch_project(
        work, url, f'[sendgrid]\nwebhook_public_key = "{base64.b64encode(public).decode()}"\n'
    )
    service = Service.open(config)
    public_ids = seed(service, recipients)
    body = json.dumps(make_events(events, recipients)).encode()
    stamp = str(int(NOW.timestamp()))
    signature = base64.b64encode(key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        "X-Twilio-Email-Event-Webhook-Signature": signature,
    }
    key_b64 = config.sendgrid.webhook_public_key or ""
    with timed() as floor:  # the floor: what any implementation must do before applying anything
        verify_signature(key_b64, body, signature, stamp, NOW, 600)
        json.loads(body)

    app = create_app(service, FixedClock(NOW))
    signer = service.signer()
    tokens = [
        signer.sign(Purpose.UNSUBSCRIBE, pid, "newsletter", NOW + timedelta(days=30))
        for pid in public_ids[:500]
    ]
    with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=120) as client:
        latencies: list[float] = []
        statuses: list[int] = []
        done = threading.Event()
        clicker = threading.Thread(
            target=_unsubscribe_until, args=(base_url, tokens, done, latencies, statuses)
        )
        clicker.start()
        with timed() as post:
            answer = client.post("/webhooks/sendgrid", content=body, headers=headers)
        done.set()
        clicker.join()
    app.state.context.mail.close()
    applied = answer.json() if answer.status_code == 200 else {"error": answer.text[:200]}
    recorded = _recorded(service)
    service.db.dispose()
    database = "PostgreSQL" if url else "SQLite"
    figures = [
        Figure(
            f"{events:,} events, one post ({database})",
            post.wall,
            "s",
            at_most(2, "s"),
            notes=f"CPU {post.cpu:.2f} s",
        ),
        Figure(
            "events applied per second",
            events / post.wall,
            "events/s",
            baseline=events / floor.wall,
            notes="baseline: verify the signature and parse the JSON only",
        ),
        Figure(
            "one-click unsubscribe during the post, max",
            max(latencies, default=0.0),
            "s",
            at_most(1, "s"),
            notes=f"{len(latencies)} unsubscribes, statuses {sorted(set(statuses))}",
        ),
    ]
    result = report(
        f"SendGrid event webhook: {events:,} events for a ledger of {recipients:,} recipients",
        figures,
        answer=applied,
        events_recorded=recorded,
    )
    ok = answer.status_code == 200 and recorded == events and set(statuses) <= {200}
    if not ok:
        print("  FAILED: the post was not applied whole, or an unsubscribe did not answer 200")
    return exit_code(result) if ok else 1


def _unsubscribe_until(
    base_url: str, tokens: list[str], done: threading.Event, latencies: list[float], statuses: list[int]
) -> None:
    """One-click unsubscribes, one after another, until the post is answered (at least one)."""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for token in tokens:
            started = time.perf_counter()
            response = client.post(f"/afmelden/{token}", data={"List-Unsubscribe": "One-Click"})
            latencies.append(time.perf_counter() - started)
            statuses.append(response.status_code)
            if done.wait(POLL):
                return


def seed(service, recipients: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Contacts and one sent newsletter edition with a ledger message each; their public ids."""
    from comms.store.models import Contact, Edition, EditionStatus, Message, MessageStatus

    public_ids = [f"{n:016x}" for n in range(1, recipients + 1)]
    with service.db.session() as session:
        session.execute(
            insert(Contact),
            [
                {
                    "public_id": pid,
                    "email": f"statenlid{n}@provincie.example.org",
                    "first_name": f"Voornaam{n}",
                    "infix": "",
                    "last_name": f"Achternaam{n}",
                    "province": "Utrecht",
                    "party": None,
                    "roles": ",statenlid,",
                    "themes": ",",
                    "active": True,
                    "source_file": "synthetic",
                    "updated_at": NOW,
                }
                for n, pid in enumerate(public_ids, start=1)
            ],
        )
        edition = Edition(
            key="nieuwsbrief-2026-12",
            kind="newsletter",
            subject="IPO-nieuwsbrief",
            audience="statenleden",
            status=EditionStatus.SENT,
            built_at=NOW - timedelta(hours=2),
            sent_at=NOW - timedelta(hours=1),
        )
        session.add(edition)
        session.flush()
        ids = {pid: cid for pid, cid in session.execute(select(Contact.public_id, Contact.id))}
        session.execute(
            insert(Message),
            [
                {"edition_id": edition.id, "contact_id": ids[pid], "status": MessageStatus.SENT}
                for pid in public_ids
            ],
        )
    return public_ids


def make_events(count: int, recipients: int) -> list[dict[str, object]]:
    """Events as SendGrid posts them (custom args as top-level keys), for messages 1..recipients
    (the seeded ledger's ids), spread over the hour after the send."""
    sent = int((NOW - timedelta(hours=1)).timestamp())
    events = []
    for i in range(count):
        n = i % recipients + 1
        name = MIX[i % len(MIX)]
        event: dict[str, object] = {
            "email": f"statenlid{n}@provincie.example.org",
            "timestamp": sent + i * 3600 // count,
            "event": name,
            "sg_event_id": f"YmVuY2gtZXZlbnQt{i:08d}",
            "sg_message_id": f"14c5d75ce93.dfd.64b469.filter0001.{i}.0",
            "category": ["newsletter"],
            "comms_edition": "nieuwsbrief-2026-12",
            "comms_message": str(n),
            "comms_kind": "newsletter",
        }
        if name == "bounce":
            event |= {"type": "bounce", "status": "5.1.1", "reason": "550 5.1.1 unknown user"}
        elif name == "dropped":
            event |= {"reason": "Bounced Address", "status": "5.0.0"}
        elif name == "open":
            event |= {"sg_machine_open": False, "useragent": "Mozilla/5.0", "ip": "192.0.2.1"}
        elif name == "click":
            event |= {"url": "https://www.ipo.nl/", "url_offset": {"index": 0, "type": "html"}}
        events.append(event)
    return events


def _recorded(service) -> int:  # type: ignore[no-untyped-def]
    from comms.store.models import DeliveryEvent

    with service.db.session() as session:
        return session.scalar(select(func.count()).select_from(DeliveryEvent)) or 0


if __name__ == "__main__":
    raise SystemExit(main())
