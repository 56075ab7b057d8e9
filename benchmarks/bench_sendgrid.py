"""SendGrid: a full send of the sample newsletter to N synthetic recipients, and its bytes.

    python benchmarks/bench_sendgrid.py [--recipients 100000] [--baseline-sample 10000]

The real transport (comms.deliver.sendgrid, `comms send`'s own loop: claim, build, request,
acknowledge, on SQLite) sends over HTTP to a loopback stand-in in a separate process, which
counts requests and bytes and throws the bodies away; it does not validate them (the tests
check every body against SendGrid's OpenAPI description), so it is never the bottleneck.

Printed, with targets from issue 14: requests (1 per 1,000 recipients); messages per second;
client CPU seconds per 100,000 recipients (< 5 s), for the transport (planning, request
bodies, HTTP) and for the whole client process (queue, message building and links too);
bytes per recipient (≤ 1,500); peak RSS. The same send with `[sendgrid] sections = true`
(province news once per request) is measured for its bytes on the baseline sample.

Baseline, in the same run on the same recipients: the request bodies as the transport wrote
them before issue 14 (comms/deliver/sendgrid.py at commit 16c644b, read from git at run time,
not copied here), built for the first --baseline-sample recipients and serialised the way the
`sendgrid` client did (json.dumps); its bytes per recipient and CPU per 100,000, interleaved
with the new builder on the same messages.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from harness import (
    NOW,
    REPO,
    Figure,
    at_most,
    cpu_seconds,
    exit_code,
    interleaved,
    newsletter_project,
    peak_rss_mb,
    report,
    scratch_project,
    timed,
)

OLD_BUILDER = "16c644b:comms/deliver/sendgrid.py"  # the transport before issue 14
PER = 100_000  # CPU figures are per this many recipients


# -- the counting stand-in (its own process) ---------------------------------------------


class _Counting(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    counts: ClassVar[dict[str, int]] = {"requests": 0, "bytes": 0}  # one server per process
    lock = threading.Lock()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        remaining = int(self.headers.get("Content-Length") or 0)
        size = remaining
        while remaining:  # read and drop: the body is never kept
            remaining -= len(self.rfile.read(min(remaining, 1 << 20)))
        with self.lock:
            self.counts["requests"] += 1
            self.counts["bytes"] += size
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        with self.lock:
            payload = json.dumps(self.counts).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def serve_sink() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def start_sink() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--sink"], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}"


def sink_counts(url: str) -> dict[str, int]:
    import urllib.request

    with urllib.request.urlopen(url + "/stats", timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


# -- the project -------------------------------------------------------------------------


def prepare(work: Path, recipients: int):  # type: ignore[no-untyped-def]
    """The benchmarks' newsletter project (SQLite, the sample feeds, `recipients` synthetic
    Statenleden, the newsletter built and approved), snapshotted into the ledger."""
    from comms.clock import FixedClock
    from comms.operations import editions

    service, key = newsletter_project(scratch_project(work), recipients)
    editions.start_sending(service, key, FixedClock(NOW))
    return service, key


def sample_messages(service, key: str, size: int) -> list:  # type: ignore[no-untyped-def]
    """The first `size` recipients' messages, as the delivery loop builds them."""
    from sqlalchemy import select

    from comms.audience.profile import Profile
    from comms.deliver.queue import recipient
    from comms.editions.delivery import mailing_for
    from comms.render.newsletter import blocks_for
    from comms.store.editions import find_edition
    from comms.store.models import Contact

    with service.db.session() as session:
        mailing = mailing_for(service, find_edition(session, key), service.signer(), NOW)
        contacts = session.scalars(select(Contact).order_by(Contact.id).limit(size)).all()
        return [
            mailing.message(
                recipient(c.id, c), blocks_for(Profile.from_columns(c.province, c.roles, c.themes))
            )
            for c in contacts
        ]


# -- body builders, old and new ------------------------------------------------------------


def old_builder() -> types.ModuleType | None:
    """The transport module before issue 14, from git (None where git or the commit is missing)."""
    try:
        source = subprocess.run(
            ["git", "show", OLD_BUILDER], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("sendgrid_before_issue_14")
    sys.modules[module.__name__] = module
    exec(compile(source, OLD_BUILDER, "exec"), module.__dict__)
    return module


def old_bodies(transport, messages) -> int:  # type: ignore[no-untyped-def]
    """Bytes of every request the old transport would send for `messages`."""
    planned, _ = transport._plan_all(messages)
    return sum(
        len(json.dumps(transport.request_body(group)).encode()) for group in transport._requests(planned)
    )


def new_bodies(transport, messages) -> int:  # type: ignore[no-untyped-def]
    planned, _ = transport._plan_all(messages)
    return sum(len(transport.request_body(group)) for group in transport._requests(planned))


def transport(module: types.ModuleType, settings):  # type: ignore[no-untyped-def]
    return module.SendgridTransport(settings, "SG.benchmark")


# -- the run -------------------------------------------------------------------------------


def run(recipients: int, baseline_sample: int) -> int:
    os.environ.setdefault("COMMS_SECRET_KEY", secrets.token_urlsafe(48))
    import dataclasses

    import comms.deliver.sendgrid as current
    from comms.clock import FixedClock
    from comms.editions import delivery

    sink, url = start_sink()
    try:
        with tempfile.TemporaryDirectory(prefix="comms-bench-sendgrid-") as folder:
            with timed() as setup:
                service, key = prepare(Path(folder), recipients)
            settings = dataclasses.replace(service.config.sendgrid, api_host=url)
            sendgrid = current.SendgridTransport(settings, "SG.benchmark", clock=FixedClock(NOW))
            spent = [0.0]
            send_batch = sendgrid.send_batch

            def counted(messages):  # type: ignore[no-untyped-def]
                started = time.process_time()
                try:
                    return send_batch(messages)
                finally:
                    spent[0] += time.process_time() - started

            sendgrid.send_batch = counted  # type: ignore[method-assign]
            with timed() as send:
                outcome = delivery.deliver_edition(service, key, sendgrid, FixedClock(NOW))
            counts = sink_counts(url)
            assert outcome.counts["sent"] == recipients, outcome.counts
            peak = peak_rss_mb()

            sample = sample_messages(service, key, min(baseline_sample, recipients))
            new = transport(current, settings)
            with_sections = transport(current, dataclasses.replace(settings, sections=True))
            old_module = old_builder()
            cases = {"new": lambda: new_bodies(new, sample)}
            sizes = {"new": new_bodies(new, sample), "sections": new_bodies(with_sections, sample)}
            if old_module is not None:
                old = transport(old_module, settings)
                cases["old"] = lambda: old_bodies(old, sample)
                sizes["old"] = old_bodies(old, sample)
            cpu = interleaved(cases, rounds=1)
    finally:
        sink.terminate()
        sink.wait()

    scale = PER / recipients
    per_sample = PER / len(sample)
    old_bytes = sizes["old"] / len(sample) if "old" in sizes else None
    old_cpu = cpu["old"] * per_sample if "old" in cpu else None
    figures = [
        Figure("requests", counts["requests"], "requests", at_most(-(-recipients // 1000))),
        Figure("send rate", recipients / send.wall, "msg/s"),
        Figure("transport CPU per 100k", spent[0] * scale, "s", at_most(5, "s")),
        Figure(
            "client CPU per 100k", send.cpu * scale, "s", notes="whole process: queue, build, links, bodies"
        ),
        Figure("bytes per recipient", counts["bytes"] / recipients, "B", at_most(1500, "B")),
        Figure(
            "sample bytes per recipient",
            sizes["new"] / len(sample),
            "B",
            at_most(1500, "B"),
            baseline=old_bytes,
            notes=f"first {len(sample):,} recipients",
        ),
        Figure(
            "sample bytes, sections on",
            sizes["sections"] / len(sample),
            "B",
            at_most(1500, "B"),
            baseline=old_bytes,
            notes="[sendgrid] sections = true",
        ),
        Figure(
            "body CPU per 100k",
            cpu["new"] * per_sample,
            "s",
            at_most(5, "s"),
            baseline=old_cpu,
            notes="plan + request bodies, no HTTP, interleaved with the old builder",
        ),
        Figure("peak RSS", peak, "MB"),
    ]
    result = report(
        f"SendGrid, {recipients:,} recipients (full send to a counting loopback stand-in)",
        figures,
        setup_seconds=f"{setup.wall:.1f} (import, collect, build, snapshot; not measured)",
        send_wall_seconds=f"{send.wall:.1f}",
        baseline="the body builder before issue 14 (" + OLD_BUILDER + ", from git)"
        if old_module
        else "unavailable: git or commit 16c644b missing",
        load=f"{os.getloadavg()[0]:.2f} (1-minute load average at the end)",
        stand_in_cpu_seconds=f"{cpu_seconds(children=True):.1f}",
    )
    return exit_code(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--baseline-sample", type=int, default=10_000)
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        serve_sink()
        return
    sys.exit(run(args.recipients, args.baseline_sample))


if __name__ == "__main__":
    main()
