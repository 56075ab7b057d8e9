"""SMTP delivery of the sample newsletter (~82 KB) into a loopback sink, against bare socket loops.

    python benchmarks/bench_smtp.py [--recipients 20000] [--connections 4] [--e2e-recipients 5000]

What it measures: comms' SMTP transport (`SmtpTransport.send_batch`, in batches of its own size,
pipelined where the sink offers it, over `--connections` parallel connections) handing over
pre-built messages (built before the clock starts) to a discarding SMTP sink that offers
PIPELINING and runs in a separate process (tests/fakes/smtp_pipelining.py). Figures: messages
per second of wall time, and per CPU second of this process (all its threads).

Baseline, in the same run, on the same messages, interleaved batch by batch with comms (so a
noisy neighbour slows both alike): bare socket loops, one per connection and as many
connections as comms uses, writing pre-built bytes (each message's content, its end, and the
next message's MAIL FROM, RCPT TO and DATA in one sendall) and reading the replies with
readline: the wire speed a Python client can reach. The ratio is comms' rate over theirs.

For information: the end-to-end rate through the real `send` (snapshot, claim, build, SMTP,
acknowledge, on SQLite) for `--e2e-recipients`, and the sink's own CPU time.
Targets (issue 14): ≥ 1,000 msg/s, and ≥ 0.8× the bare socket loops.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness import NOW, Figure, at_least, cpu_seconds, exit_code, newsletter_project, report, scratch_project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--e2e-recipients", type=int, default=5_000, help="0: skip the end-to-end run")
    args = parser.parse_args()
    from tests.fakes.smtp_pipelining import SinkProcess

    work = Path(tempfile.mkdtemp(prefix="comms-bench-smtp-"))
    try:
        with SinkProcess() as sink:
            smtp_toml = (
                f'[smtp]\nhost = "{sink.host}"\nport = {sink.port}\nsecurity = "none"\n'
                f"connections = {args.connections}\n"
            )
            config = scratch_project(work, extra_toml=smtp_toml)
            config = _with_smtp_transport(config)
            service, key = newsletter_project(config, args.recipients)
            comms, bare, size = compare(service, key, config, args.recipients)
            e2e = end_to_end(service, key, config, args.e2e_recipients) if args.e2e_recipients else None
            sink_said = sink.stop()
        sink_cpu = cpu_seconds(children=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = args.recipients
    figures = [
        Figure("comms SMTP transport", n / comms[0], "msg/s", at_least(1_000), baseline=n / bare[0]),
        Figure("ratio to bare socket loops", bare[0] / comms[0], "×", at_least(0.8)),
        Figure("per CPU second (client)", n / comms[1], "msg/CPU-s", baseline=n / bare[1]),
    ]
    if e2e is not None:
        figures.append(
            Figure("end to end: comms send", e2e, "msg/s", notes="snapshot, claim, build, SMTP, ack")
        )
    result = report(
        f"SMTP delivery of the sample newsletter, {n:,} recipients, {args.connections} connections",
        figures,
        message_size=f"{size / 1024:.0f} KB on average",
        baseline=f"bare socket loops, {args.connections} connections, pipelined, interleaved",
        wall_seconds=f"comms {comms[0]:.1f} s, bare {bare[0]:.1f} s",
        sink=f"{sink_said}; {sink_cpu:.1f} CPU s",
        load_average=" ".join(f"{x:.1f}" for x in os.getloadavg()),
    )
    sys.exit(exit_code(result))


def _with_smtp_transport(config):  # type: ignore[no-untyped-def]
    import dataclasses

    return dataclasses.replace(config, delivery=dataclasses.replace(config.delivery, transport="smtp"))


def batches(service, key: str, size: int) -> Iterator[list]:  # type: ignore[type-arg]
    """Each recipient's message, built (its bytes made) before it is handed over, `size` at a time."""
    from sqlalchemy import select

    from comms.audience.profile import Profile
    from comms.deliver.queue import recipient
    from comms.editions.delivery import mailing_for
    from comms.render.newsletter import blocks_for
    from comms.store.editions import find_edition
    from comms.store.models import Contact

    with service.db.session() as session:
        mailing = mailing_for(service, find_edition(session, key), service.signer(), NOW)
        batch = []
        for contact in session.scalars(
            select(Contact).order_by(Contact.id).execution_options(yield_per=1000)
        ):
            profile = Profile.from_columns(contact.province, contact.roles, None)
            message = mailing.message(recipient(contact.id, contact), blocks_for(profile))
            _ = message.data
            batch.append(message)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch


def compare(service, key: str, config, recipients: int):  # type: ignore[no-untyped-def]
    """(wall, CPU) seconds for comms and for the bare loops, interleaved batch by batch."""
    from comms.deliver.smtp import SmtpTransport

    transport = SmtpTransport(config.smtp, return_path=None)
    bare = BareLoops(config.smtp.host, config.smtp.port, config.smtp.connections)
    spent = {"comms": [0.0, 0.0], "bare": [0.0, 0.0]}
    size = sent = 0
    try:
        for number, batch in enumerate(batches(service, key, transport.batch_size)):
            size += sum(len(m.data) for m in batch)
            prepared = bare.prepare(batch)  # pre-built bytes: outside the loops' own work
            cases = [
                ("comms", lambda b=batch: _all_delivered(transport.send_batch(b))),
                ("bare", lambda w=prepared: bare.send(w)),
            ]
            for name, case in cases if number % 2 == 0 else reversed(cases):
                wall, cpu = time.perf_counter(), time.process_time()
                case()
                spent[name][0] += time.perf_counter() - wall
                spent[name][1] += time.process_time() - cpu
            sent += len(batch)
    finally:
        transport.close()
        bare.close()
    assert sent == recipients, f"{sent} messages for {recipients} recipients"
    return spent["comms"], spent["bare"], size / max(sent, 1)


def _all_delivered(results: Sequence) -> None:  # type: ignore[type-arg]
    failed = [r.reason for r in results if not r.delivered]
    if failed:
        raise SystemExit(f"the sink refused {len(failed)} message(s): {failed[:3]}")


def end_to_end(service, key: str, config, recipients: int) -> float:  # type: ignore[no-untyped-def]
    """The real `send` for the first `recipients` contacts (the others are set inactive)."""
    from sqlalchemy import update

    from comms.clock import FixedClock
    from comms.deliver.transports import make_transport
    from comms.editions import delivery
    from comms.store.models import Contact

    with service.db.session() as session:
        session.execute(update(Contact).where(Contact.id > recipients).values(active=False))
    transport = make_transport(config, key, FixedClock(NOW), ledger=True)
    started = time.perf_counter()
    outcome = delivery.send(service, key, transport, FixedClock(NOW))
    seconds = time.perf_counter() - started
    assert outcome.counts["sent"] == recipients, outcome.counts
    return recipients / seconds


class BareLoops:
    """One plain socket per connection; each writes a message's content, its end and the next
    envelope in one sendall, then reads the replies line by line."""

    def __init__(self, host: str, port: int, connections: int) -> None:
        self.sockets = [socket.create_connection((host, port)) for _ in range(connections)]
        self.files = [s.makefile("rb") for s in self.sockets]
        for sock, file in zip(self.sockets, self.files, strict=True):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            file.readline()  # greeting
            sock.sendall(b"EHLO bench.test\r\n")
            while file.readline()[3:4] == b"-":
                pass
        self.pool = ThreadPoolExecutor(connections)

    def prepare(self, messages: Sequence) -> list[list[tuple[bytes, int]]]:  # type: ignore[type-arg]
        """Each connection's share of the batch, as the writes it makes."""
        return [_wire(messages[n :: len(self.sockets)]) for n in range(len(self.sockets))]

    def send(self, writes: list[list[tuple[bytes, int]]]) -> None:
        futures = [
            self.pool.submit(_loop, sock, file, share)
            for sock, file, share in zip(self.sockets, self.files, writes, strict=True)
            if share
        ]
        for future in futures:
            future.result()

    def close(self) -> None:
        self.pool.shutdown()
        for sock in self.sockets:
            sock.close()


def _envelope(message) -> bytes:  # type: ignore[no-untyped-def]
    sender = message.mailing.identity.sender.address
    return f"MAIL FROM:<{sender}>\r\nRCPT TO:<{message.address.wire}>\r\nDATA\r\n".encode()


def _wire(messages: Sequence) -> list[tuple[bytes, int]]:  # type: ignore[type-arg]
    """(bytes, replies to read) per write: the first envelope, then each content with the next."""
    if not messages:
        return []
    writes = [(_envelope(messages[0]), 3)]
    for n, message in enumerate(messages):
        data = message.data
        if data.startswith(b".") or b"\n." in data:
            data = data.replace(b"\n.", b"\n..")
        following = _envelope(messages[n + 1]) if n + 1 < len(messages) else b""
        end = b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"
        writes.append((data + end + following, 4 if following else 1))
    return writes


def _loop(sock: socket.socket, file, writes: list[tuple[bytes, int]]) -> None:  # type: ignore[no-untyped-def]
    for data, replies in writes:
        sock.sendall(data)
        for _ in range(replies):
            if file.readline()[:1] not in (b"2", b"3"):
                raise SystemExit("the sink refused a bare-loop message")


if __name__ == "__main__":
    main()
