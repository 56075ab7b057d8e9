"""Build and deliver (outbox) the sample newsletter to 10,000 and 100,000 synthetic recipients.

    python benchmarks/bench_newsletter.py [--sizes 10000 100000] [--keep]

Each size runs in a fresh child process pinned to one core, so its peak memory
(ru_maxrss) is its own. Printed per size: the build+personalise rate (messages
assembled in memory, no I/O), the end-to-end rate (claim → build → write .eml →
acknowledge, the real `send`), and peak memory. The baseline, run in the same
process on the same recipients, assembles each message with the standard
library's email.message.EmailMessage, the straightforward way; the ratio is
comms' build rate over the baseline's. Targets: ≥ 2,000 messages/s build and
personalise on one core; < 300 MB peak at 100,000 recipients.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
BASELINE_SAMPLE = 2000
PROVINCES = [
    "Groningen",
    "Fryslân",
    "Drenthe",
    "Overijssel",
    "Flevoland",
    "Gelderland",
    "Utrecht",
    "Noord-Holland",
    "Zuid-Holland",
    "Zeeland",
    "Noord-Brabant",
    "Limburg",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--keep", action="store_true", help="keep the outbox (it is large)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_size(args.child, args.keep)))
        return
    print(
        f"{'recipients':>10} {'build msg/s':>12} {'baseline msg/s':>15} {'ratio':>6}"
        f" {'send msg/s':>11} {'peak MB':>8}"
    )
    for size in args.sizes:
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(size), *(["--keep"] if args.keep else [])],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            sys.exit(f"size {size} failed:\n{child.stderr}")
        r = json.loads(child.stdout.strip().splitlines()[-1])
        print(
            f"{size:>10} {r['build_rate']:>12.0f} {r['baseline_rate']:>15.0f}"
            f" {r['build_rate'] / r['baseline_rate']:>5.1f}x"
            f" {r['send_rate']:>11.0f} {r['peak_mb']:>8.0f}"
        )
        verdict = "ok" if r["build_rate"] >= 2000 and r["peak_mb"] < 300 else "BELOW TARGET"
        print(f"{'':>10} {verdict}: target ≥ 2000 msg/s build, < 300 MB peak; outbox {r['outbox']}")


def run_size(size: int, keep: bool) -> dict[str, float | str]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    os.environ.setdefault("COMMS_SECRET_KEY", secrets.token_urlsafe(48))
    from comms.deliver.outbox import OutboxTransport

    work = Path(tempfile.mkdtemp(prefix="comms-bench-"))
    service, key = prepare(work, size)
    mailing, sample = mailing_and_sample(service, key)

    started = time.perf_counter()
    for recipient, blocks in recipients(service):
        _ = mailing.message(recipient, blocks).data
    build_rate = size / (time.perf_counter() - started)

    started = time.perf_counter()
    for recipient, blocks in sample:
        baseline_message(mailing, recipient, blocks)
    baseline_rate = len(sample) / (time.perf_counter() - started)

    from comms.clock import FixedClock
    from comms.editions import delivery

    started = time.perf_counter()
    delivery.send(service, key, OutboxTransport(service.outbox_dir, key), clock=FixedClock(NOW))
    send_rate = size / (time.perf_counter() - started)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    written = sum(1 for _ in (service.outbox_dir / key / "messages").glob("*.eml"))
    assert written == size, f"{written} files for {size} recipients"
    if not keep:
        shutil.rmtree(work)
    return {
        "build_rate": build_rate,
        "baseline_rate": baseline_rate,
        "send_rate": send_rate,
        "peak_mb": peak_mb,
        "outbox": str(service.outbox_dir) if keep else "removed",
    }


def prepare(work: Path, size: int):  # type: ignore[no-untyped-def]
    """A project with the sample feeds and templates, and `size` synthetic Statenleden."""
    from sqlalchemy import insert

    from comms.collect.run import collect_all
    from comms.config import load_config
    from comms.kinds import BuildRequest
    from comms.operations import editions
    from comms.service import Service
    from comms.store.models import Contact

    for folder in ("templates", "audiences", "schedules", "sample"):
        shutil.copytree(REPO / folder, work / folder)
    config_text = (
        (REPO / "comms.toml")
        .read_text()
        .replace("sqlite:///var/comms.sqlite3", f"sqlite:///{work / 'bench.sqlite3'}")
    )
    (work / "comms.toml").write_text(config_text)
    config, problems = load_config(work / "comms.toml")
    assert config is not None, problems
    service = Service.open(config)
    rows = (
        {
            "public_id": f"{n:016x}",
            "email": f"statenlid{n}@provincie{n % 12}.example.org",
            "first_name": f"Voornaam{n}",
            "infix": "van" if n % 3 == 0 else "",
            "last_name": f"Achternaam{n}",
            "province": PROVINCES[n % 12],
            "party": None,
            "roles": ",av-lid,statenlid," if n % 25 == 0 else ",statenlid,",
            "themes": ",",
            "active": True,
            "source_file": "synthetic",
            "updated_at": NOW,
        }
        for n in range(size)
    )
    with service.db.session() as session:
        chunk: list[dict] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == 5000:
                session.execute(insert(Contact), chunk)
                chunk = []
        if chunk:
            session.execute(insert(Contact), chunk)
    collect_all(config, service.db, NOW)
    key = editions.build(service, "newsletter", BuildRequest(NOW, period="2026-12")).key
    editions.approve(service, key, "benchmark", NOW)
    return service, key


def recipients(service):  # type: ignore[no-untyped-def]
    """Every recipient and their blocks, streamed from the database (never all in memory)."""
    from sqlalchemy import select

    from comms.audience.profile import Profile
    from comms.deliver.queue import recipient
    from comms.render.newsletter import blocks_for
    from comms.store.models import Contact

    with service.db.session() as session:
        result = session.scalars(select(Contact).execution_options(yield_per=1000))
        for contact in result:
            profile = Profile.from_columns(contact.province, contact.roles, None)
            yield recipient(contact.id, contact), blocks_for(profile)


def mailing_and_sample(service, key):  # type: ignore[no-untyped-def]
    from comms.editions.delivery import mailing_for
    from comms.store.editions import find_edition

    with service.db.session() as session:
        mailing = mailing_for(service, find_edition(session, key), service.signer(), NOW)
    sample = []
    for item in recipients(service):
        sample.append(item)
        if len(sample) == BASELINE_SAMPLE:
            break
    return mailing, sample


def baseline_message(mailing, recipient, blocks) -> bytes:  # type: ignore[no-untyped-def]
    """The same copy, assembled by the standard library's email package: the usual way."""
    values = mailing.values(recipient)
    message = EmailMessage()
    message["From"] = "IPO <nieuwsbrief@ipo.example.org>"
    message["To"] = f"{recipient.display_name} <{recipient.email}>"
    message["Subject"] = mailing.identity.subject
    message["Message-ID"] = mailing.message_id(recipient)
    message.set_content(mailing.text.select(blocks).fill(values))
    message.add_alternative(mailing.html.select(blocks).fill(values), subtype="html")
    return message.as_bytes()


if __name__ == "__main__":
    main()
