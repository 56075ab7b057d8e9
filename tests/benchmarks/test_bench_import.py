"""bench_import runs at a tiny size and prints its figures, so that it cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_import.py"


@pytest.mark.slow
def test_bench_import_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--rows", "300"], capture_output=True, text=True, timeout=300
    )

    assert done.returncode in (0, 1), done.stderr  # 1: a target missed at this size, figures printed
    for figure in ("import 300 contacts, SQLite", "rows/s (wall)", "peak RSS", "re-import, unchanged: wall"):
        assert figure in done.stdout, done.stdout
    assert "baseline" in done.stdout
