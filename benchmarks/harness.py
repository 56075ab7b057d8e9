"""What every benchmark shares: figures against targets, same-run baselines, CPU time, peak
memory, the machine it ran on, and scratch projects and databases to run in.

A benchmark prints one table: each figure next to its target and a verdict, and where the
issue's row names one, a baseline measured in the same run with the ratio to it. With
COMMS_BENCH_JSON=path every report is also appended to that file as one JSON line, which
is how benchmarks/README.md's table is refreshed.

    from harness import Figure, at_least, at_most, report  # the script's folder is on sys.path
    report("import 100,000 contacts", [Figure("rate", 23_400, "rows/s", at_least(20_000))])
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # benchmarks reuse the test suite's loopback servers (tests/fakes)

# The day the sample data plans its December newsletter; benchmarks build it on a fixed clock.
NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
POSTGRES_ADMIN_URL = os.environ.get("COMMS_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass(frozen=True, slots=True)
class Target:
    """A bound a figure must meet: `≥ 20,000` or `≤ 150`."""

    bound: float
    is_minimum: bool
    unit: str = ""

    def is_met_by(self, value: float) -> bool:
        return value >= self.bound if self.is_minimum else value <= self.bound

    def __str__(self) -> str:
        return (
            f"{'≥' if self.is_minimum else '≤'} {_number(self.bound)}{' ' + self.unit if self.unit else ''}"
        )


def at_least(bound: float, unit: str = "") -> Target:
    return Target(bound, True, unit)


def at_most(bound: float, unit: str = "") -> Target:
    return Target(bound, False, unit)


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure; `baseline` is the same quantity for the baseline in the same run."""

    name: str
    value: float
    unit: str
    target: Target | None = None
    baseline: float | None = None
    notes: str = ""

    @property
    def meets_target(self) -> bool:
        return self.target is None or self.target.is_met_by(self.value)

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


@dataclass
class Report:
    title: str
    figures: list[Figure]
    details: dict[str, object] = field(default_factory=dict)

    @property
    def meets_targets(self) -> bool:
        return all(f.meets_target for f in self.figures)


def report(title: str, figures: list[Figure], **details: object) -> Report:
    """Print the table (and append it to $COMMS_BENCH_JSON); returns it for the caller's exit code."""
    result = Report(title, figures, details)
    print(f"\n{title}")
    print(f"  machine: {machine()}")
    width = max(len(f.name) for f in figures) if figures else 10
    for f in figures:
        value = f"{_number(f.value)} {f.unit}"
        target = f"target {f.target}" if f.target else ""
        verdict = ("ok" if f.meets_target else "MISSED") if f.target else ""
        baseline = ""
        if f.baseline is not None:
            baseline = f"baseline {_number(f.baseline)} {f.unit}"
            if f.ratio is not None:
                baseline += f" (ratio {f.ratio:.2f}×)"
        line = f"  {f.name:<{width}}  {value:>18}  {target:<24} {verdict:<6} {baseline}"
        print(line.rstrip() + (f"  [{f.notes}]" if f.notes else ""))
    for key, value in details.items():
        print(f"  {key}: {value}")
    _append_json(result)
    return result


def exit_code(*reports: Report) -> int:
    """0 when every figure met its target; 1 otherwise (the figures are printed either way)."""
    return 0 if all(r.meets_targets for r in reports) else 1


def _append_json(result: Report) -> None:
    path = os.environ.get("COMMS_BENCH_JSON")
    if not path:
        return
    record = {
        "title": result.title,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "figures": [
            {
                "name": f.name,
                "value": f.value,
                "unit": f.unit,
                "target": str(f.target) if f.target else None,
                "meets_target": f.meets_target,
                "baseline": f.baseline,
                "ratio": f.ratio,
                "notes": f.notes,
            }
            for f in result.figures
        ],
        "details": {k: str(v) for k, v in result.details.items()},
    }
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps(record, ensure_ascii=False) + "\n")


def _number(value: float) -> str:
    if value == int(value) and abs(value) >= 10:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def machine() -> str:
    """CPU model, cores this process may use, memory, Python: enough to compare two runs."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = ""
    try:
        total_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {total_kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{model}, {cores} cores{memory}, Python {platform.python_version()}, {platform.system()}"


def cpu_seconds(children: bool = False) -> float:
    """User + system CPU time of this process (or of its waited-for children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident memory so far (Linux reports ru_maxrss in KiB). Run each case in its own
    process when its peak must be its own."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_maxrss / 1024


@dataclass
class Timing:
    wall: float = 0.0
    cpu: float = 0.0


@contextmanager
def timed() -> Iterator[Timing]:
    """Wall and CPU seconds of the block (this process only)."""
    timing = Timing()
    wall, cpu = time.perf_counter(), cpu_seconds()
    try:
        yield timing
    finally:
        timing.wall = time.perf_counter() - wall
        timing.cpu = cpu_seconds() - cpu


def interleaved(cases: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """CPU seconds each case took over `rounds` rounds, run in turn (A, B, A, B …) so a noisy
    neighbour slows them alike; the ratio of two such figures is what to compare."""
    spent = dict.fromkeys(cases, 0.0)
    for _ in range(rounds):
        for name, case in cases.items():
            started = time.process_time()
            case()
            spent[name] += time.process_time() - started
    return spent


@contextmanager
def scratch_postgres(prefix: str = "comms_bench") -> Iterator[str]:
    """A throwaway PostgreSQL database on the local server, dropped afterwards; its URL."""
    import psycopg

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


def scratch_project(work: Path, database_url: str | None = None, extra_toml: str = ""):  # type: ignore[no-untyped-def]
    """A copy of the repository's project (templates, audiences, schedules, sample feeds and
    comms.toml) in `work`, on `database_url` (default: SQLite in `work`); returns its Config.
    `extra_toml` is appended to comms.toml (a [delivery] section, say)."""
    from comms.config import load_config

    os.environ.setdefault("COMMS_SECRET_KEY", "benchmark-secret-key-" + "x" * 40)
    for folder in ("templates", "audiences", "schedules", "sample"):
        shutil.copytree(REPO / folder, work / folder)
    url = database_url or f"sqlite:///{work / 'bench.sqlite3'}"
    text = (REPO / "comms.toml").read_text().replace("sqlite:///var/comms.sqlite3", url)
    (work / "comms.toml").write_text(text + ("\n" + extra_toml if extra_toml else ""))
    config, problems = load_config(work / "comms.toml")
    if config is None:
        raise SystemExit(f"benchmark project is not valid: {problems}")
    return config


PROVINCES = (
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
)
