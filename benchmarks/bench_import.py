"""`comms audience import` of a synthetic national audience: rows/s, CPU and peak memory.

    python benchmarks/bench_import.py [--rows 100000] [--postgresql] [--keep-going]

Writes one griffie export of N contacts in a temporary folder (the Dutch shape of
audiences/contacts/*.csv: `;`-separated, UTF-8 with a BOM, names with accents, addresses on
example.org subdomains, a few seats; streamed to disk, never held in memory), and imports it
into a fresh database: SQLite in the temporary folder, and with --postgresql also a scratch
PostgreSQL database (harness.scratch_postgres; both when given). Each run is its own child
process, so its peak RSS is its own; the child times `import_audience` itself (the schema is
migrated beforehand, outside the figure), and the parent reads the child's whole CPU and peak
memory from wait4.

Per database: the first import (every row new) against the targets of issue 14 (≥ 20,000
rows/s at 100,000, ≤ 60 s at 1,000,000, ≤ 150 MB peak whatever the size), and a second import
of the same file (every row unchanged, which is what a monthly re-import mostly is).

Baseline, in the same run: only reading and checking the file (`read_rows`, no database), so
that a reader sees how the import's time splits between the file and the database.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import NOW, PROVINCES, Figure, Report, at_least, at_most, exit_code, report

HERE = Path(__file__).resolve().parent

FIRST_NAMES = (
    "Anna", "Daniëlle", "Inès", "Zoë", "Sjoukje", "Renée", "Joël", "Noël", "Chloë", "Jeroen",
    "Sander", "Fleur", "Emma", "Jan", "Arjen", "Karin", "Gerard", "Ingrid", "Sietse", "Björn",
)  # fmt: skip
INFIXES = ("", "", "", "de", "van", "van der", "ter", "'t")
LAST_NAMES = (
    "Bakker", "Beek", "Blom", "Bos", "Riele", "Hoekstra-Dijkstra", "Bakker-Ömer", "Bruijn",
    "Çelik", "Dijkstra", "Jansen", "Smit", "Visser", "Müller", "Brouwer", "Gërmeni",
)  # fmt: skip
PARTIES = ("VVD", "D66", "PvdA", "GroenLinks", "CDA", "BBB", "PVV", "SP", "SGP", "")
THEMES = (
    "Wonen & Bereikbaarheid", "Landelijk Gebied", "Klimaat & Leefomgeving",
    "Ondernemen & Cultuur", "Financiën & Openbaar Bestuur",
)  # fmt: skip
HEADER = "e-mailadres;voornaam;tussenvoegsel;achternaam;provincie;rollen;partij;thema's;organen"


def write_export(path: Path, rows: int, seed: int = 20261201) -> None:
    """N distinct contacts, written line by line."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        file.write(HEADER + "\r\n")
        for n in range(rows):
            province = PROVINCES[n % len(PROVINCES)]
            first, infix, last = rng.choice(FIRST_NAMES), rng.choice(INFIXES), rng.choice(LAST_NAMES)
            slug = province.lower().replace("â", "a")
            email = f"lid{n}@{slug}.example.org"
            roles, seats = "statenlid", ""
            if n % 50 == 0:
                roles = "gedeputeerde, bac-lid"
                seats = f"BAC {rng.choice(THEMES)} (lid), IPO-bestuur (plaatsvervanger)"
            elif n % 7 == 0:
                roles = "statenlid, av-lid"
            themes = ", ".join(sorted(rng.sample(THEMES, rng.randint(0, 3))))
            fields = (email, first, infix, last, province, roles, rng.choice(PARTIES), themes, seats)
            file.write(";".join(fields) + "\r\n")


# --- the child: one measured run ---------------------------------------------------------


def child(mode: str, work: Path) -> None:
    """Run in its own process: `read` (read_rows only) or `import` (import_audience)."""
    from harness import timed

    from comms.audience.contacts import read_rows
    from comms.config import load_config

    config, problems = load_config(work / "comms.toml")
    assert config is not None, problems
    result: dict[str, object] = {}
    if mode == "read":
        contacts = errors = 0
        with timed() as timing:
            for path in config.contact_files():
                for row in read_rows(path):
                    contacts += row.contact is not None
                    errors += sum(p.is_error for p in row.problems)
        result = {"contacts": contacts, "errors": errors}
    else:
        from comms.operations.audience import import_audience
        from comms.service import Service

        service = Service.open(config, migrate=False)
        backend = _backend_pid(service)
        server_cpu = _process_cpu(backend)
        with timed() as timing:
            outcome = import_audience(service, NOW)
        result["server_cpu"] = _process_cpu(backend) - server_cpu
        counts = outcome.counts
        result |= {"contacts": outcome.contacts, "errors": outcome.rows_left_out}
        result |= {"added": counts.added, "updated": counts.updated, "unchanged": counts.unchanged}
        service.db.dispose()
    print(json.dumps(result | {"wall": timing.wall, "cpu": timing.cpu}))


def _backend_pid(service) -> int | None:  # type: ignore[no-untyped-def]
    """The PostgreSQL server process that the import's pooled connection talks to (None: SQLite,
    which runs inside the child). The pool hands the import this same connection back."""
    if not service.db.is_postgresql:
        return None
    from sqlalchemy import text

    with service.db.engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _process_cpu(pid: int | None) -> float:
    """User + system CPU seconds of a local process, from /proc (0 when there is none)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the parent ---------------------------------------------------------------------------


class Run:
    """One child's own figures: its timing of the work, and its whole process's CPU and peak."""

    def __init__(self, mode: str, work: Path) -> None:
        env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{HERE.parent}"}
        command = [sys.executable, str(Path(__file__)), "--child", mode, "--work", str(work)]
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True)
        assert process.stdout is not None
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise SystemExit(f"the {mode} child failed ({process.returncode})")
        self.process_wall = time.perf_counter() - started
        self.process_cpu = usage.ru_utime + usage.ru_stime
        self.peak_mb = usage.ru_maxrss / 1024  # KiB on Linux
        self.figures: dict[str, float] = json.loads(output.strip().splitlines()[-1])

    @property
    def rows_per_second(self) -> float:
        return self.figures["contacts"] / self.figures["wall"]

    @property
    def rows_per_cpu_second(self) -> float:
        return self.figures["contacts"] / self.figures["cpu"]


def prepare(work: Path, rows: int, database_url: str | None) -> None:
    from harness import scratch_project

    from comms.service import Service

    config = scratch_project(work, database_url)
    for sample in (work / "audiences" / "contacts").glob("*.csv"):
        sample.unlink()
    write_export(work / "audiences" / "contacts" / "export.csv", rows)
    Service.open(config).db.dispose()  # migrated here: the schema is not the import's work


def measure(name: str, rows: int, work: Path, baseline: Run) -> Report:
    first, again = Run("import", work), Run("import", work)
    assert first.figures["added"] == rows and first.figures["errors"] == 0, first.figures
    assert again.figures["unchanged"] == rows and again.figures["added"] == 0, again.figures
    server = name == "PostgreSQL"  # SQLite works inside the child: its CPU is the import's
    rate_target = at_least(20_000) if rows <= 100_000 else None
    seconds_target = at_most(60) if rows > 100_000 else None
    return report(
        f"import {rows:,} contacts, {name}",
        [
            Figure("rows/s (wall)", first.rows_per_second, "rows/s", rate_target, baseline.rows_per_second),
            Figure("rows/CPU s", first.rows_per_cpu_second, "rows/s", None, baseline.rows_per_cpu_second),
            Figure("import wall", first.figures["wall"], "s", seconds_target, baseline.figures["wall"]),
            Figure("import CPU", first.figures["cpu"], "s", None, baseline.figures["cpu"]),
            *(
                [Figure("server CPU (PostgreSQL backend)", first.figures["server_cpu"], "s")]
                if server
                else []
            ),
            Figure("peak RSS", first.peak_mb, "MB", at_most(150), baseline.peak_mb),
            Figure("re-import, unchanged: wall", again.figures["wall"], "s", seconds_target),
            Figure("re-import, unchanged: CPU", again.figures["cpu"], "s"),
            *([Figure("re-import: server CPU", again.figures["server_cpu"], "s")] if server else []),
            Figure("re-import: peak RSS", again.peak_mb, "MB", at_most(150)),
        ],
        baseline="reading and checking the file only (read_rows, no database), its own child process",
        child_process=f"import {first.process_cpu:.1f} s CPU / {first.process_wall:.1f} s wall with start-up",
        load=f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgresql", action="store_true", help="also on a scratch PostgreSQL database")
    parser.add_argument("--child", choices=("read", "import"), help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.work)
        return

    from harness import scratch_postgres

    reports = []
    with tempfile.TemporaryDirectory(prefix="bench_import_") as folder:
        work = Path(folder) / "sqlite"
        prepare(work, args.rows, None)
        size = (work / "audiences" / "contacts" / "export.csv").stat().st_size
        print(f"export: {args.rows:,} rows, {size / 1e6:.1f} MB")
        baseline = Run("read", work)
        reports.append(measure("SQLite", args.rows, work, baseline))
        if args.postgresql:
            with scratch_postgres("comms_bench_import") as url:
                work = Path(folder) / "postgresql"
                prepare(work, args.rows, url)
                reports.append(measure("PostgreSQL", args.rows, work, baseline))
    sys.exit(exit_code(*reports))


if __name__ == "__main__":
    main()
