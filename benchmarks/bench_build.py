"""Build and personalise each recipient's message, against the standard library's email package.

    python benchmarks/bench_build.py [--recipients 10000] [--round 1000] [--baseline-per-round 40]

Builds the sample newsletter (a scratch project, the fixed clock of harness.NOW) for N synthetic
Statenleden, then times `Mailing.message(recipient, blocks).data` (the MIME bytes, in memory, no
I/O) in CPU seconds. Target (issue 14): ≥ 20,000 messages per CPU second.

Baseline, in the same process and interleaved with it (harness.interleaved: comms, baseline,
comms, baseline …, so a noisy neighbour slows both alike): the same message written the
straightforward way, email.message.EmailMessage with the same headers (From, Reply-To, Subject,
List-Id, List-Unsubscribe-Post, the automatic ones, To, Date, Message-ID, List-Unsubscribe) and
the same MIME parts (text and HTML, quoted-printable), links signed one at a time. Each round
builds `--round` recipients with comms and the first `--baseline-per-round` of the same
recipients with the baseline (it is ~90× slower: the whole audience would take minutes).

Also printed, for information: the one-off cost per variant (the bodies of each selection of
blocks encoded once per edition, not per recipient), the end-to-end outbox send of the same
edition (claim → build → write .eml → acknowledge, `delivery.send`, wall clock), and peak RSS.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from harness import (
    NOW,
    Figure,
    at_least,
    exit_code,
    interleaved,
    newsletter_project,
    peak_rss_mb,
    report,
    scratch_project,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--round", type=int, default=1_000, help="recipients per round")
    parser.add_argument("--baseline-per-round", type=int, default=40)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="comms-bench-build-"))
    try:
        return run(work, args.recipients, args.round, args.baseline_per_round)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path, size: int, round_size: int, baseline_per_round: int) -> int:
    from comms.clock import FixedClock
    from comms.deliver.outbox import OutboxTransport
    from comms.editions import delivery

    service, key = newsletter_project(scratch_project(work), size)
    mailing = mailing_of(service, key)
    everyone = recipients(service)
    rounds = [everyone[start : start + round_size] for start in range(0, len(everyone), round_size)]

    started = time.process_time()
    for blocks in {blocks for _, blocks in everyone}:  # each variant's bodies, encoded once
        _ = mailing.message(everyone[0][0], blocks).data
    variants_cpu = time.process_time() - started

    turn = {"comms": 0, "baseline": 0}

    def comms_round() -> None:
        for recipient, blocks in rounds[turn["comms"]]:
            _ = mailing.message(recipient, blocks).data
        turn["comms"] += 1

    def baseline_round() -> None:
        for recipient, blocks in rounds[turn["baseline"]][:baseline_per_round]:
            baseline_message(mailing, recipient, blocks)
        turn["baseline"] += 1

    spent = interleaved({"comms": comms_round, "baseline": baseline_round}, len(rounds))
    built = sum(len(r) for r in rounds)
    baseline_built = sum(len(r[:baseline_per_round]) for r in rounds)
    rate, baseline_rate = built / spent["comms"], baseline_built / spent["baseline"]

    wall, cpu = time.perf_counter(), time.process_time()
    delivery.send(service, key, OutboxTransport(service.outbox_dir, key), clock=FixedClock(NOW))
    send_wall, send_cpu = time.perf_counter() - wall, time.process_time() - cpu
    written = sum(1 for _ in (service.outbox_dir / key / "messages").glob("*.eml"))
    assert written == size, f"{written} files for {size} recipients"
    service.db.dispose()

    result = report(
        f"build and personalise, {size:,} recipients (issue 14)",
        [
            Figure(
                "build and personalise",
                rate,
                "msg/CPU s",
                at_least(20_000),
                baseline=baseline_rate,
                notes=f"baseline: EmailMessage, same headers and parts; {baseline_built:,} built",
            ),
            Figure(
                "variant bodies, once per edition",
                variants_cpu * 1000,
                "ms CPU",
                notes=f"{len(set(v for _, v in everyone))} variants",
            ),
            Figure(
                "end-to-end outbox send",
                size / send_wall,
                "msg/s",
                notes=f"wall; {size / send_cpu:,.0f} msg/CPU s",
            ),
            Figure("peak RSS", peak_rss_mb(), "MB"),
        ],
        message_bytes=len(mailing.message(*everyone[0]).data),
        rounds=f"{len(rounds)} of {round_size:,}, interleaved",
    )
    return exit_code(result)


def mailing_of(service: Any, key: str) -> Any:
    from comms.editions.delivery import mailing_for
    from comms.store.editions import find_edition

    with service.db.session() as session:
        return mailing_for(service, find_edition(session, key), service.signer(), NOW)


def recipients(service: Any) -> list[tuple[Any, frozenset[str]]]:
    """Every recipient with their blocks, as the delivery run makes them."""
    from sqlalchemy import select

    from comms.audience.profile import Profile
    from comms.deliver.queue import recipient
    from comms.render.newsletter import blocks_for
    from comms.store.models import Contact

    with service.db.session() as session:
        return [
            (
                recipient(contact.id, contact),
                blocks_for(Profile.from_columns(contact.province, contact.roles, None)),
            )
            for contact in session.scalars(select(Contact).order_by(Contact.id))
        ]


def baseline_message(mailing: Any, recipient: Any, blocks: frozenset[str]) -> bytes:
    """The same message, the straightforward way: links signed one at a time, the bodies filled
    in as text, and EmailMessage writing the MIME (the standard library's policy.default)."""
    from comms.render.message import AUTOMATIC_HEADERS, TOKEN_LIFETIME
    from comms.tokens import Purpose

    identity, sender = mailing.identity, mailing.identity.sender
    expires = mailing.now + TOKEN_LIFETIME
    unsubscribe = mailing.signer.sign(Purpose.UNSUBSCRIBE, recipient.public_id, identity.kind, expires)
    preferences = mailing.signer.sign(Purpose.PREFERENCES, recipient.public_id, identity.kind, expires)
    values = {
        "first_name": recipient.first_name,
        "name": recipient.display_name,
        "email": recipient.email,
        "unsubscribe_url": f"{identity.base_url}/afmelden/{unsubscribe}",
        "preferences_url": f"{identity.base_url}/voorkeuren/{preferences}",
    }
    mailto = f"mailto:afmelden@{sender.domain}?subject={quote(f'afmelden {unsubscribe}')}"
    message = EmailMessage()
    message["From"] = Address(sender.name, addr_spec=sender.address)
    if sender.reply_to:
        message["Reply-To"] = sender.reply_to
    message["Subject"] = identity.subject
    message["List-Id"] = f"{identity.list_name} <{identity.list_id}.{sender.domain}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["To"] = Address(recipient.display_name, addr_spec=recipient.email)
    message["Date"] = format_datetime(mailing.now)
    message["Message-ID"] = f"<{identity.edition_key}.{recipient.public_id}@{sender.domain}>"
    message["List-Unsubscribe"] = f"<{values['unsubscribe_url']}>, <{mailto}>"
    message.set_content(mailing.text.select(blocks).fill(values), cte="quoted-printable")
    message.add_alternative(mailing.html.select(blocks).fill(values), subtype="html", cte="quoted-printable")
    for name, value in AUTOMATIC_HEADERS.items():  # after the parts: set_content moves Content-* into one
        message[name] = value
    return message.as_bytes()


if __name__ == "__main__":
    sys.exit(main())
