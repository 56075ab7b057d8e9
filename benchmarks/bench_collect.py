"""`comms collect` on 50 feeds that have not changed (each answers 304 Not Modified).

    .venv/bin/python benchmarks/bench_collect.py [--sources 50] [--runs 3]

A loopback HTTP/1.1 server in a separate process serves `--sources` RSS feeds, each with an
ETag, and answers a conditional request with 304. A scratch project lists those feeds (and
nothing else); a first `comms collect` primes the validators (200s), then each run measured
is all 304s. Prints, against the issue's target (< 1 s for 50 sources):
- the `comms collect` command as a subprocess: median CPU time (user + system of the child)
  and wall time, start included, and the TCP connections it opened;
- the collect itself, in this process (`collect_all`, imports done): CPU and wall time.
Baseline, in the same run and interleaved with the in-process collect: the same 50
conditional requests the old way, one after the other with a new `httpx.Client` per source
(each loading the CA bundle); the ratio compares it with the in-process collect.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from harness import NOW, Figure, at_most, cpu_seconds, exit_code, report, scratch_project, timed

TARGET_SECONDS = 1.0
FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Feed {n}</title>
<item><title>Bericht {n}.1</title><link>https://www.example.org/{n}/1</link><guid>{n}-1</guid>
<pubDate>Mon, 30 Nov 2026 10:00:00 +0100</pubDate></item>
<item><title>Bericht {n}.2</title><link>https://www.example.org/{n}/2</link><guid>{n}-2</guid>
<pubDate>Mon, 30 Nov 2026 11:00:00 +0100</pubDate></item>
</channel></rss>
"""


# --- the feed server (run as `bench_collect.py --serve`, in a process of its own) ---------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    connections = 0
    requests = 0


class _Feeds(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a client that reuses connections can
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/stats":
            self._send(200, f"{self.server.connections} {self.server.requests}".encode())
            return
        self.server.requests += 1
        n = self.path.rsplit("/", 1)[-1]
        etag = f'"feed-{n}-v1"'
        if self.headers.get("If-None-Match") == etag:
            self._send(304, b"", etag)
        else:
            self._send(200, FEED.format(n=n).encode(), etag)

    def _send(self, status: int, body: bytes, etag: str | None = None) -> None:
        self.send_response(status)
        if etag:
            self.send_header("ETag", etag)
        if status != 304:
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve() -> None:
    """Print the port, serve until standard input closes (the benchmark ended or died)."""
    server = _Server(("127.0.0.1", 0), _Feeds)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()
    server.shutdown()


# --- the benchmark ----------------------------------------------------------------------------


def _stats(base: str) -> tuple[int, int]:
    import httpx

    connections, requests = httpx.get(f"{base}/stats").text.split()
    return int(connections), int(requests)


def _project(work: Path, base: str, sources: int) -> Path:
    """A scratch project whose only sources are the server's feeds."""
    scratch_project(work)
    toml = work / "comms.toml"
    text = re.sub(r"\[\[sources\]\]\n(?:(?!\[).*\n)*", "", toml.read_text())
    feeds = "".join(
        f'\n[[sources]]\nname = "feed-{n:02d}"\ntitle = "Feed {n}"\nurl = "{base}/feed/{n:02d}"\n'
        'format = "feed"\nkind = "news"\nallow_private_addresses = true\n'
        for n in range(sources)
    )
    toml.write_text(text + feeds)
    return toml


def _command(toml: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one `comms collect` run in a subprocess."""
    script = Path(sys.executable).parent / "comms"
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "comms.cli"]
    cpu, wall = cpu_seconds(children=True), time.perf_counter()
    subprocess.run([*argv, "--config", str(toml), "collect"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - wall, cpu_seconds(children=True) - cpu


def _the_old_way(urls: list[str]) -> int:
    """One after the other, a new client (and CA bundle) per source: what collect did before."""
    import httpx

    not_modified = 0
    for n, url in enumerate(urls):
        with httpx.Client(timeout=10, trust_env=False) as client:
            answer = client.get(url, headers={"If-None-Match": f'"feed-{n:02d}-v1"'})
            not_modified += answer.status_code == 304
    return not_modified


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        base = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        with tempfile.TemporaryDirectory(prefix="comms-bench-collect-") as folder:
            return _measure(Path(folder), base, args.sources, args.runs)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)


def _measure(work: Path, base: str, sources: int, runs: int) -> int:
    from comms.collect.run import collect_all
    from comms.config import load_config
    from comms.store.database import Database

    toml = _project(work, base, sources)
    config, problems = load_config(toml)
    assert config is not None, problems
    db = Database(config.database_url, config.base_dir)
    db.migrate()
    primed = collect_all(config, db, NOW)  # 200s: the validators are stored
    assert not primed.failed_sources, primed.problems
    load = os.getloadavg()[0]
    command_wall, command_cpu, connections = [], [], []
    for _ in range(runs):
        before = _stats(base)
        took_wall, took_cpu = _command(toml)
        after = _stats(base)
        command_wall.append(took_wall)
        command_cpu.append(took_cpu)
        connections.append(after[0] - before[0] - 1)  # less the connection that asked after
        assert after[1] - before[1] == sources, "every source asked once"
    urls = [f"{base}/feed/{n:02d}" for n in range(sources)]
    inside_wall, inside_cpu, old_wall, old_cpu = [], [], [], []
    for _ in range(runs):
        with timed() as inside:
            outcome = collect_all(config, db, NOW)
        assert all(result.not_modified for result, _ in outcome.per_source.values())
        with timed() as old:
            assert _the_old_way(urls) == sources
        inside_wall.append(inside.wall)
        inside_cpu.append(inside.cpu)
        old_wall.append(old.wall)
        old_cpu.append(old.cpu)
    db.dispose()
    target = at_most(TARGET_SECONDS, "s")
    median = statistics.median
    result = report(
        f"Collect: {sources} feeds, all answering 304 Not Modified (median of {runs})",
        [
            Figure("comms collect: CPU", median(command_cpu), "s", target, notes="start included"),
            Figure("comms collect: wall", median(command_wall), "s", target, notes="start included"),
            Figure("collect_all: CPU", median(inside_cpu), "s", target, baseline=median(old_cpu)),
            Figure("collect_all: wall", median(inside_wall), "s", target, baseline=median(old_wall)),
        ],
        connections_per_command_run=f"{connections} (the old way: one per source, {sources})",
        baseline="the same requests one after the other, a new httpx.Client per source (in this process)",
        load_average_at_start=f"{load:.2f}",
    )
    return exit_code(result)


if __name__ == "__main__":
    sys.exit(main())
