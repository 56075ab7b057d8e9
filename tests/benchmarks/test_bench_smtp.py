"""benchmarks/bench_smtp.py runs, at a tiny size, and prints its figures (so it cannot rot)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_smtp_prints_its_figures_against_targets_and_baseline() -> None:
    bench = REPO / "benchmarks" / "bench_smtp.py"
    arguments = ["--recipients", "120", "--connections", "2", "--e2e-recipients", "40"]

    run = subprocess.run(
        [sys.executable, str(bench), *arguments], capture_output=True, text=True, timeout=300, check=False
    )

    assert run.returncode in (0, 1), run.stderr  # 1: a target missed, which a tiny run may do
    out = run.stdout
    assert "comms SMTP transport" in out and "target ≥ 1,000" in out and "baseline" in out
    assert "ratio to bare socket loops" in out and "target ≥ 0.8" in out
    assert "end to end: comms send" in out
    assert "received 280 messages" in out  # comms' and the baseline's copies, and the real send's
