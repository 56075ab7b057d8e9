"""A fast SMTP sink in its own process, for scale-out tests and the worker benchmark.

    python -m tests.fakes.smtp_sink --record FILE [--latency-ms 2]

It accepts every message (aiosmtpd on 127.0.0.1, a free port it prints as
"listening HOST PORT"), keeps only the recipient, the Message-ID and which
connection brought it (no MIME parsing, so it keeps up with several senders), and
writes them to FILE, one tab-separated line per recipient, when it gets SIGTERM.
It runs apart from the test process so the workers, not the test's GIL, set the pace.

`--latency-ms` makes each DATA wait that long before its 250, as a real relay does
while it writes the message to disk and maybe hands it on: a worker sits idle for
that time, which is where several workers gain over one (see benchmarks/bench_workers.py).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)
REPO = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True, slots=True)
class Delivery:
    recipient: str
    message_id: str
    connection: str  # the client's address and port: one per SMTP connection


class _Recorder:
    """aiosmtpd handler: remember who got what, answer after the configured latency."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.lines: list[str] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.latency:
            await asyncio.sleep(self.latency)
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        found = _MESSAGE_ID.search(content)
        message_id = found[1].decode("ascii", "replace") if found else "-"
        peer = f"{session.peer[0]}:{session.peer[1]}" if session.peer else "-"
        self.lines += [f"{rcpt}\t{message_id}\t{peer}\n" for rcpt in envelope.rcpt_tos]
        return "250 2.0.0 OK: queued"


class _WholeDataSMTP(SMTP):
    """aiosmtpd with DATA read in one piece: its line-by-line loop, not the workers, would set
    the pace for 80 KB newsletters (about 400 messages/s on one core)."""

    line_length_limit = 1 << 24  # also the stream reader's buffer: one whole message must fit

    async def smtp_DATA(self, arg: str) -> None:
        assert self.envelope is not None and self.session is not None
        if arg or not self.envelope.rcpt_tos:
            await self.push("501 Syntax: DATA" if arg else "503 Error: need RCPT command")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        data = await self._reader.readuntil(b"\r\n.\r\n")  # ends with the lone dot line
        # Undo the dot-stuffing (RFC 5321 4.5.2); keep the final CRLF, drop the ".\r\n".
        content = data[:-3].replace(b"\r\n..", b"\r\n.")
        self.envelope.content = self.envelope.original_content = content.removeprefix(b".")
        status = await self.event_handler.handle_DATA(self, self.session, self.envelope)
        self.envelope = self._create_envelope()
        await self.push(status)


async def _serve(record: Path, latency: float) -> None:
    loop = asyncio.get_running_loop()
    recorder = _Recorder(latency)
    server = await loop.create_server(
        lambda: _WholeDataSMTP(recorder, hostname="sink.test", enable_SMTPUTF8=True), HOST, 0
    )
    stopped = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    print(f"listening {HOST} {server.sockets[0].getsockname()[1]}", flush=True)
    await stopped.wait()
    server.close()
    record.write_text("".join(recorder.lines), encoding="utf-8")
    print(f"recorded {len(recorder.lines)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", type=Path, required=True, help="file written on SIGTERM")
    parser.add_argument("--latency-ms", type=float, default=0, help="wait this long before each 250")
    args = parser.parse_args()
    asyncio.run(_serve(args.record, args.latency_ms / 1000))


def start_listening(module: str, options: list[str]) -> tuple[subprocess.Popen[str], int]:
    """Run `module` as a child process that prints "listening HOST PORT" once it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *options], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    first = process.stdout.readline().split()
    if first[:1] != ["listening"]:
        process.kill()
        raise RuntimeError(f"the SMTP sink did not start: {first}")
    return process, int(first[2])


class SinkProcess:
    """Starts the sink as a child process; `stop()` ends it and returns what it received."""

    def __init__(self, record: Path, latency_ms: float = 0) -> None:
        self.record = record
        self.latency_ms = latency_ms
        self.host = HOST
        self.port = 0
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> SinkProcess:
        options = ["--record", str(self.record), *self._options()]
        self._process, self.port = start_listening("tests.fakes.smtp_sink", options)
        return self

    def _options(self) -> list[str]:
        return ["--latency-ms", str(self.latency_ms)]

    def __exit__(self, *exc_info: Any) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self) -> list[Delivery]:
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        self._process.communicate(timeout=60)
        assert self._process.returncode == 0, f"the SMTP sink exited with {self._process.returncode}"
        lines = self.record.read_text(encoding="utf-8").splitlines()
        return [Delivery(*line.split("\t")) for line in lines]


def per_recipient(deliveries: list[Delivery]) -> Counter[str]:
    return Counter(d.recipient for d in deliveries)


if __name__ == "__main__":
    main()
