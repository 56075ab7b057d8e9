"""`comms serve` as processes: two started at once, one leads; kill it and the standby takes
over within the configured interval, without firing a job the first one already ran."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import time_machine
from sqlalchemy import select

from comms.clock import SystemClock
from comms.config import load_config
from comms.serve import ScheduleRunner
from comms.service import Service
from comms.store.models import JobRun, JobRunOutcome

pytestmark = pytest.mark.slow
LEADER_POLL_SECONDS = 1.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ServeProcess:
    process: subprocess.Popen[bytes]
    port: int

    def role(self) -> str | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).json().get("scheduler")
        except (httpx.HTTPError, ValueError):
            return None


def wait_for(condition, seconds: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)  # polling other processes' state, not waiting for time to pass
    raise AssertionError(f"not within {seconds} s: {what}")


@pytest.fixture
def serve_project(project: Path) -> Path:
    """Builds every 5 minutes, so a run is due while the test runs; 1 s takeover interval."""
    for other in (project / "schedules").glob("*.toml"):
        if other.name != "newsletter.toml":
            other.unlink()
    schedule = project / "schedules" / "newsletter.toml"
    text = schedule.read_text(encoding="utf-8")
    schedule.write_text(text.replace('cron = "0 7 22-28 * mon"', 'cron = "*/5 * * * *"'), encoding="utf-8")
    config = project / "comms.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "leader_poll_seconds = 5", f"leader_poll_seconds = {LEADER_POLL_SECONDS}"
        ),
        encoding="utf-8",
    )
    return project


@pytest.fixture
def service(serve_project: Path) -> Iterator[Service]:
    config, problems = load_config(serve_project / "comms.toml")
    assert config, problems
    service = Service.open(config)
    yield service
    service.db.dispose()


def start_serve(project: Path) -> ServeProcess:
    port = free_port()
    command = [sys.executable, "-m", "comms.cli", "--config", str(project / "comms.toml")]
    process = subprocess.Popen(
        [*command, "serve", "--port", str(port), "--no-worker"],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    return ServeProcess(process, port)


def builds(service: Service) -> list[tuple[datetime, str]]:
    with service.db.session() as session:
        rows = session.execute(
            select(JobRun.planned_for, JobRun.outcome)
            .where(JobRun.step == "build")
            .order_by(JobRun.planned_for)
        )
        return [(planned, outcome) for planned, outcome in rows]


def test_the_standby_takes_over_when_the_leader_is_killed_and_fires_nothing_twice(
    service: Service, serve_project: Path
) -> None:
    # The service "was down" for ten minutes: two build runs came due meanwhile.
    with time_machine.travel(datetime.now(UTC) - timedelta(minutes=11), tick=False):
        seed = ScheduleRunner(service, SystemClock())
        seed.start()
        seed.stop()
    first, second = start_serve(serve_project), start_serve(serve_project)
    processes = [first, second]
    try:
        wait_for(lambda: all(p.role() for p in processes), 30, "both processes answer /healthz")
        roles = wait_for(
            lambda: sorted(r for p in processes if (r := p.role())) == ["leader", "standby"] and True,
            10,
            "one leader and one standby",
        )
        assert roles
        leader = next(p for p in processes if p.role() == "leader")
        standby = next(p for p in processes if p is not leader)
        # The leader reports the older run as missed and runs the newer one, once.
        wait_for(lambda: any(o == JobRunOutcome.DONE for _, o in builds(service)), 60, "the build ran")
        ran_before = builds(service)

        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(timeout=10)
        killed_at = time.monotonic()
        wait_for(lambda: standby.role() == "leader", LEADER_POLL_SECONDS + 4, "the standby leads")
        takeover = time.monotonic() - killed_at
        # Give the new leader a few of its own ticks.
        wait_for(lambda: standby.role() == "leader" and time.monotonic() - killed_at > 3, 10, "settled")
    finally:
        for p in processes:
            if p.process.poll() is None:
                p.process.send_signal(signal.SIGTERM)
        for p in processes:
            try:
                p.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.process.kill()
    assert takeover <= LEADER_POLL_SECONDS + 4, f"took {takeover:.2f} s"
    after = builds(service)
    # Two or three 5-minute marks fell in the eleven minutes, depending on the clock.
    outcomes = [o for _, o in ran_before]
    assert outcomes == [JobRunOutcome.MISSED] * (len(outcomes) - 1) + [JobRunOutcome.DONE]
    assert len(outcomes) in (2, 3)
    # Nothing of the old leader's ran again; a run due since is a new planned time, once.
    assert after[: len(ran_before)] == ran_before
    assert len({planned for planned, _ in after}) == len(after)
    standby_exit = next(p for p in processes if p is not leader).process.returncode
    assert standby_exit == 0
