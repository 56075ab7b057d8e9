"""A small, fast SMTP server of our own that offers PIPELINING (RFC 2920), which aiosmtpd does not.

In the test process (a thread with its own event loop), with faults chosen per recipient::

    with PipeliningServer() as server:
        server.rcpt_replies = {"a@example.org": "550 5.1.1 User unknown"}  # at RCPT TO
        server.data_replies = {"b@example.org": "451 4.3.0 Try later"}     # at the final dot
        server.drop_after_data = {"c@example.org"}  # content taken, connection closed, no reply
        server.offer_pipelining = False             # for connections opened from now on

A reply starting with 421 closes the connection after it is sent, as a relay does (RFC 5321
§3.8). ``pipelined`` counts commands that arrived in the same read as an earlier command or
as the end of a message's content: a client that waits for each reply never causes one.

As a separate process, discarding what it receives (the benchmark's sink)::

    python -m tests.fakes.smtp_pipelining

prints "listening HOST PORT", and what it received when it gets SIGTERM. It reads
whatever the socket has (up to 256 KiB at a time) and looks for the end of the content with
bytes.find, never line by line, so one core keeps up with several senders.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.smtp_sink import start_listening

HOST = "127.0.0.1"
END = b"\r\n.\r\n"


@dataclass(frozen=True, slots=True)
class Received:
    mail_from: str
    recipients: tuple[str, ...]
    connection: int  # which connection brought it: 1, 2, …
    raw: bytes  # without dot-stuffing; empty when the server discards content


@dataclass
class _Faults:
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_replies: dict[str, str] = field(default_factory=dict)
    drop_after_data: frozenset[str] = frozenset()
    offer_pipelining: bool = True


class _Stats:
    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.count = 0
        self.commands = 0
        self.pipelined = 0
        self.connections = 0
        self.open = 0
        self.most_open = 0


class _Session(asyncio.Protocol):
    """One connection: commands line by line, content scanned for its end in whole chunks."""

    def __init__(self, stats: _Stats, faults: _Faults) -> None:
        self.stats, self.faults = stats, faults
        self.buffer = bytearray()
        self.in_data = False
        self.content: list[bytes] = []
        self.tail = b""
        self.mail_from: str | None = None
        self.recipients: list[str] = []
        self.out: list[bytes] = []
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        with self.stats.lock:
            self.stats.connections += 1
            self.stats.open += 1
            self.stats.most_open = max(self.stats.most_open, self.stats.open)
            self.number = self.stats.connections
        transport.write(b"220 sink.test ESMTP\r\n")

    def connection_lost(self, exc: Exception | None) -> None:
        with self.stats.lock:
            self.stats.open -= 1

    def data_received(self, data: bytes) -> None:
        """Everything the buffer holds, in order; the replies go out in one write per read."""
        self.buffer += data
        commands_here = 0
        while not self.closing:
            if self.in_data:
                if not self._content():
                    break
                commands_here = 1  # commands after the end of the content came with it
                continue
            line = self._line()
            if line is None:
                break
            commands_here += 1
            with self.stats.lock:
                self.stats.commands += 1
                self.stats.pipelined += commands_here > 1
            self._command(line)
        if self.out:
            self.transport.write(b"".join(self.out))
            self.out.clear()
        if self.closing:
            self.transport.close()

    def _line(self) -> bytes | None:
        end = self.buffer.find(b"\r\n")
        if end < 0:
            return None
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 2]
        return line

    def _content(self) -> bool:
        """True when the message ended in the buffer (which keeps what followed it)."""
        buffer, tail = self.buffer, self.tail
        at = (tail + bytes(buffer[:4])).find(END)  # the end marker across two reads
        if at < 0:
            at = buffer.find(END)
            if at < 0:
                if self.stats.keep:
                    self.content.append(bytes(buffer))
                self.tail = (tail + bytes(buffer[-4:]))[-4:]
                buffer.clear()
                return False
            at += len(tail)
        taken = at + len(END) - len(tail)  # bytes of the buffer up to the end marker
        if self.stats.keep:
            kept = taken - 3  # without ".\r\n"; the CRLF before it ends the last line
            if kept < 0:
                self.content[-1] = self.content[-1][:kept]
            self.content.append(bytes(buffer[: max(kept, 0)]))
        del buffer[:taken]
        self.in_data, self.tail = False, b""
        self._message()
        return True

    def _message(self) -> None:
        raw = b""
        if self.stats.keep:
            raw = b"".join(self.content).replace(b"\r\n..", b"\r\n.")
            raw = raw[1:] if raw.startswith(b"..") else raw
        self.content = []
        with self.stats.lock:
            self.stats.count += 1
            if self.stats.keep:
                received = Received(self.mail_from or "", tuple(self.recipients), self.number, raw)
                self.stats.received.append(received)
        chosen = [self.faults.data_replies[r] for r in self.recipients if r in self.faults.data_replies]
        dropped = any(r in self.faults.drop_after_data for r in self.recipients)
        self.mail_from, self.recipients = None, []
        if dropped:
            self.closing = True  # taken, and no reply: the client cannot know
        else:
            self._reply(chosen[0] if chosen else "250 2.0.0 OK: queued")

    def _command(self, line: bytes) -> None:
        verb, _, argument = line.decode("utf-8", "replace").partition(" ")
        verb = verb.upper()
        if verb in ("EHLO", "HELO"):
            lines = ["sink.test", "8BITMIME", "SMTPUTF8"]
            if self.faults.offer_pipelining:
                lines.insert(1, "PIPELINING")
            if verb == "HELO":
                lines = lines[:1]
            self._reply(
                "\r\n".join(f"250{'-' if n < len(lines) - 1 else ' '}{t}" for n, t in enumerate(lines))
            )
        elif verb == "MAIL":
            self.mail_from, self.recipients = _address(argument), []
            self._reply("250 2.1.0 OK")
        elif verb == "RCPT":
            self._rcpt(_address(argument))
        elif verb == "DATA":
            if not self.recipients:
                self._reply("554 5.5.1 No valid recipients")
            else:
                self.in_data, self.tail = True, b"\r\n"  # the DATA line's CRLF starts the end marker
                self._reply("354 End data with <CR><LF>.<CR><LF>")
        elif verb in ("RSET", "NOOP"):
            self.mail_from, self.recipients = None, []
            self._reply("250 2.0.0 OK")
        elif verb == "QUIT":
            self._reply("221 2.0.0 Bye")
            self.closing = True
        else:
            self._reply("500 5.5.2 Command not recognised")

    def _rcpt(self, address: str) -> None:
        if self.mail_from is None:
            self._reply("503 5.5.1 Need MAIL first")
        elif address in self.faults.rcpt_replies:
            self._reply(self.faults.rcpt_replies[address])
        else:
            self.recipients.append(address)
            self._reply("250 2.1.5 OK")

    def _reply(self, text: str) -> None:
        self.out.append(text.encode() + b"\r\n")
        if text.startswith("421"):
            self.closing = True


def _address(argument: str) -> str:
    return argument.split("<", 1)[-1].split(">", 1)[0].lower()


class PipeliningServer:
    """The server on 127.0.0.1 and a free port, in a thread of the test process."""

    def __init__(self, keep: bool = True) -> None:
        self._stats = _Stats(keep)
        self._faults = _Faults()
        self.host, self.port = HOST, 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> PipeliningServer:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _start(self) -> asyncio.Server:
        return await self._loop.create_server(lambda: _Session(self._stats, self._faults), self.host, 0)

    def __exit__(self, *exc_info: object) -> None:
        async def stop() -> None:
            self._server.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    # faults: replaced as a whole, read by new commands
    @property
    def rcpt_replies(self) -> dict[str, str]:
        return self._faults.rcpt_replies

    @rcpt_replies.setter
    def rcpt_replies(self, replies: dict[str, str]) -> None:
        self._faults.rcpt_replies = {k.lower(): v for k, v in replies.items()}

    @property
    def data_replies(self) -> dict[str, str]:
        return self._faults.data_replies

    @data_replies.setter
    def data_replies(self, replies: dict[str, str]) -> None:
        self._faults.data_replies = {k.lower(): v for k, v in replies.items()}

    @property
    def drop_after_data(self) -> frozenset[str]:
        return self._faults.drop_after_data

    @drop_after_data.setter
    def drop_after_data(self, addresses: Iterable[str]) -> None:
        self._faults.drop_after_data = frozenset(a.lower() for a in addresses)

    @property
    def offer_pipelining(self) -> bool:
        return self._faults.offer_pipelining

    @offer_pipelining.setter
    def offer_pipelining(self, offered: bool) -> None:
        self._faults.offer_pipelining = offered

    # what a test reads
    @property
    def received(self) -> list[Received]:
        with self._stats.lock:
            return list(self._stats.received)

    def count_by_recipient(self) -> Counter[str]:
        return Counter(r for message in self.received for r in message.recipients)

    @property
    def commands(self) -> int:
        return self._stats.commands

    @property
    def pipelined(self) -> int:
        return self._stats.pipelined

    @property
    def connections(self) -> int:
        return self._stats.connections

    @property
    def most_open(self) -> int:
        """The most connections open at one time."""
        return self._stats.most_open

    def reset(self) -> None:
        """Forget what was received and counted; faults and connection numbers stay."""
        with self._stats.lock:
            stats = self._stats
            stats.received.clear()
            stats.count = stats.commands = stats.pipelined = 0  # connections keep their numbers
            stats.most_open = stats.open


# -- as a separate process -------------------------------------------------------------------------


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    stats, faults = _Stats(keep=False), _Faults()
    server = await loop.create_server(lambda: _Session(stats, faults), HOST, 0)
    stopped = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    print(f"listening {HOST} {server.sockets[0].getsockname()[1]}", flush=True)
    await stopped.wait()
    server.close()
    print(
        f"received {stats.count} messages, {stats.commands} commands, {stats.pipelined} pipelined", flush=True
    )


def main() -> None:
    argparse.ArgumentParser(description="A discarding SMTP sink that offers PIPELINING").parse_args()
    asyncio.run(_serve())


class SinkProcess:
    """The discarding server as a child process; `stop()` ends it and returns its last line."""

    def __init__(self) -> None:
        self.host, self.port = HOST, 0
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> SinkProcess:
        self._process, self.port = start_listening("tests.fakes.smtp_pipelining", [])
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self) -> str:
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        out, _ = self._process.communicate(timeout=60)
        return out.strip().splitlines()[-1]


if __name__ == "__main__":
    main()
