"""How fast a command starts: `comms --help` and `comms status`.

    .venv/bin/python benchmarks/bench_start.py [--runs 9]

Runs each as a subprocess `--runs` times, interleaved (help, status, baseline, help, …) so a
noisy neighbour slows them alike, `status` on a migrated SQLite project from
harness.scratch_project (no editions: what it costs to start, check the schema and ask).
Prints the median CPU time (user + system of the child, from rusage) against the issue's
targets (`--help` ≤ 0.3 s, `status` ≤ 0.5 s), the median wall time, and how many modules each
imports. Baseline, in the same run: the interpreter starting and doing nothing
(`python -c pass`); the ratio is how many interpreter starts each command costs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import Figure, at_most, cpu_seconds, exit_code, report, scratch_project

COMMANDS = {"--help": ["--help"], "status": ["status"]}
TARGETS = {"--help": 0.3, "status": 0.5}
# Counts the modules loaded by the time the command exits (the command exits through sys.exit).
_COUNTING = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('modules', len(sys.modules), file=sys.stderr))\n"
    "from comms.cli import main\n"
    "main()\n"
)


def _comms() -> list[str]:
    """The installed `comms` script beside this interpreter, else the module."""
    script = Path(sys.executable).parent / "comms"
    return [str(script)] if script.exists() else [sys.executable, "-m", "comms.cli"]


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one subprocess run (CPU: what the finished child used)."""
    cpu, wall = cpu_seconds(children=True), time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - wall, cpu_seconds(children=True) - cpu


def _modules(args: list[str], cwd: Path, env: dict[str, str]) -> int:
    result = subprocess.run(
        [sys.executable, "-c", _COUNTING, *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return int(result.stderr.split("modules")[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="comms-bench-start-") as folder:
        work = Path(folder)
        scratch_project(work)
        env = {**os.environ, "COMMS_CONFIG": str(work / "comms.toml")}
        subprocess.run([*_comms(), "migrate"], cwd=work, env=env, check=True, stdout=subprocess.DEVNULL)
        cases = {name: [*_comms(), *args] for name, args in COMMANDS.items()}
        cases["python -c pass"] = [sys.executable, "-c", "pass"]
        wall: dict[str, list[float]] = {name: [] for name in cases}
        cpu: dict[str, list[float]] = {name: [] for name in cases}
        load = os.getloadavg()[0]
        for _ in range(runs):
            for name, argv in cases.items():
                took_wall, took_cpu = _run(argv, work, env)
                wall[name].append(took_wall)
                cpu[name].append(took_cpu)
        modules = {name: _modules(args, work, env) for name, args in COMMANDS.items()}
    base_cpu, base_wall = statistics.median(cpu["python -c pass"]), statistics.median(wall["python -c pass"])
    figures = []
    for name in COMMANDS:
        figures += [
            Figure(
                f"comms {name}: CPU",
                statistics.median(cpu[name]),
                "s",
                at_most(TARGETS[name], "s"),
                baseline=base_cpu,
                notes=f"{modules[name]} modules imported",
            ),
            Figure(f"comms {name}: wall", statistics.median(wall[name]), "s", baseline=base_wall),
        ]
    result = report(
        "Start: `comms --help` and `comms status` (subprocesses, median)",
        figures,
        runs=runs,
        baseline="python -c pass (the interpreter starting), interleaved in the same run",
        load_average_at_start=f"{load:.2f}",
    )
    return exit_code(result)


if __name__ == "__main__":
    sys.exit(main())
