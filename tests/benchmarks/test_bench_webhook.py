"""benchmarks/bench_webhook.py runs at a tiny size and prints its figures (so it cannot rot)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent


@pytest.mark.slow
def test_the_webhook_benchmark_runs_and_prints_its_figures() -> None:
    finished = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "bench_webhook.py"),
            "--events",
            "300",
            "--recipients",
            "100",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )

    assert "300 events, one post (SQLite)" in finished.stdout, finished.stderr
    assert "one-click unsubscribe during the post, max" in finished.stdout
    assert "baseline" in finished.stdout
    assert "'applied': 300" in finished.stdout
    assert "FAILED" not in finished.stdout
