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
    builder, sample = builder_and_sample(service, key)

    started = time.perf_counter()
    for claimed in sample_all(service, key):
        builder.build(claimed.recipient, claimed.variant)
    build_rate = size / (time.perf_counter() - started)

    started = time.perf_counter()
    for claimed in sample:
        baseline_message(service, claimed)
    baseline_rate = len(sample) / (time.perf_counter() - started)

    from comms import editions

    started = time.perf_counter()
    editions.send(service, key, OutboxTransport(service.outbox_dir, key), clock=lambda: NOW)
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

    from comms import editions
    from comms.collect.run import collect_all
    from comms.compose.newsletter import Month
    from comms.config import load_config
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
    build = editions.build_newsletter(service, Month(2026, 12), NOW)
    key = build.composition.edition.key
    editions.approve(service, key, "benchmark", NOW)
    return service, key


def sample_all(service, key):  # type: ignore[no-untyped-def]
    """Every recipient, streamed from the database like the send does (snapshot, then batches)."""
    from sqlalchemy import select

    from comms.deliver.queue import Claimed
    from comms.render.message import Recipient
    from comms.store.models import Contact

    with service.db.session() as session:
        result = session.execute(
            select(
                Contact.id,
                Contact.public_id,
                Contact.email,
                Contact.first_name,
                Contact.province,
                Contact.roles,
            ).execution_options(yield_per=1000)
        )
        for cid, public_id, email, first, province, roles in result:
            variant = province + ("|av" if ",av-lid," in roles else "")
            yield Claimed(Recipient(cid, public_id, email, first, first), variant)


def builder_and_sample(service, key):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from comms.editions import _builder, find_edition

    with service.db.session() as session:
        edition = find_edition(session, key)
        builder = _builder(service, session, edition, service.signer(), NOW)
    sample = []
    for claimed in sample_all(service, key):
        sample.append(claimed)
        if len(sample) == BASELINE_SAMPLE:
            break
    del select
    return builder, sample


def baseline_message(service, claimed) -> bytes:  # type: ignore[no-untyped-def]
    """The same message, personalised by str.replace and built by the standard library."""
    from comms.store.models import Variant

    cache = baseline_message.__dict__.setdefault("variants", {})
    if claimed.variant not in cache:
        from sqlalchemy import select

        with service.db.session() as session:
            row = session.scalars(select(Variant).where(Variant.key == claimed.variant)).first()
            cache[claimed.variant] = (row.html, row.text)
    html, text = cache[claimed.variant]
    r = claimed.recipient
    for marker, value in (("@@c.first_name@@", r.first_name), ("@@c.name@@", r.display_name)):
        html, text = html.replace(marker, value), text.replace(marker, value)
    message = EmailMessage()
    message["From"] = "IPO <nieuwsbrief@ipo.example.org>"
    message["To"] = f"{r.display_name} <{r.email}>"
    message["Subject"] = "IPO-nieuwsbrief voor Statenleden – december 2026"
    message["Message-ID"] = f"<{r.public_id}@ipo.example.org>"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message.as_bytes()


if __name__ == "__main__":
    main()
