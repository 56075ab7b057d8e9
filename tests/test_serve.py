"""`comms serve` as processes: two started at once, one leads; kill it and the standby takes
over within the configured interval, without firing a job the first one already ran."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import time_machine
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from comms.audience.contacts import read_audience
from comms.audience.sync import import_contacts
from comms.clock import SystemClock
from comms.config import load_config
from comms.dates import AMSTERDAM
from comms.schedule.leadership import LOCK_KEY
from comms.serve import ScheduleRunner, Serve
from comms.service import Service
from comms.store.models import JobRun, JobRunOutcome, Message
from tests.conftest import POSTGRES_URL
from tests.fakes.smtp import FakeSMTPServer

pytestmark = pytest.mark.slow
LEADER_POLL_SECONDS = 1.0
LEADER_LEASE_SECONDS = 1.5  # PostgreSQL: a new leader waits this out first (no lease on SQLite)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ServeProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: str = ""  # its stderr, once it has ended

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
            "leader_poll_seconds = 5",
            f"leader_poll_seconds = {LEADER_POLL_SECONDS}\nleader_lease_seconds = {LEADER_LEASE_SECONDS}",
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


def start_serve(project: Path, worker: bool = False) -> ServeProcess:
    port = free_port()
    command = [sys.executable, "-m", "comms.cli", "--config", str(project / "comms.toml")]
    process = subprocess.Popen(
        [*command, "serve", "--port", str(port), *([] if worker else ["--no-worker"])],
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
        bound = LEADER_POLL_SECONDS + LEADER_LEASE_SECONDS + 4
        wait_for(lambda: standby.role() == "leader", bound, "the standby leads")
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
    print(f"kill -9 of the leader: the standby leads after {takeover:.2f} s")
    assert takeover <= bound, f"took {takeover:.2f} s"
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


# -- PostgreSQL: a lost lock, a lost database --------------------------------------------------


def kill_lock_connection(admin: Engine) -> int:
    """End the leader's lock connection (as a failover or a cut connection does); its pid."""
    with admin.begin() as connection:
        pid = connection.scalar(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND ((classid::bigint << 32) | objid::bigint) = :key"
                # this database's lock only: other test databases on the server have their own
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"key": LOCK_KEY},
        )
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    return int(pid)


def with_settings(project: Path, **settings: float) -> None:
    """`[serve]` settings in the project's comms.toml, replacing those it had."""
    config = project / "comms.toml"
    text_ = config.read_text(encoding="utf-8")
    for key in settings:
        text_ = re.sub(rf"(?m)^{key} = .*$", "", text_)
    lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
    config.write_text(text_.replace("[serve]\n", f"[serve]\n{lines}"), encoding="utf-8")


@pytest.mark.postgresql_only
def test_a_leader_whose_lock_connection_is_killed_stops_leading_before_another_starts(
    serve_project: Path,
) -> None:
    """Two schedulers (threads standing in for processes: each has its own engines and lock),
    polled every few milliseconds: after the leader's lock connection is killed, it says
    standby before anyone says leader again, and never do both say leader."""
    with_settings(serve_project, leader_poll_seconds=0.2, leader_lease_seconds=1.0)
    config, problems = load_config(serve_project / "comms.toml")
    assert config, problems
    stop = threading.Event()
    services = [Service.open(config), Service.open(config)]
    serves = [Serve(s, SystemClock(), stop) for s in services]
    threads = [threading.Thread(target=s.run_scheduler, daemon=True) for s in serves]
    admin = create_engine(services[0].db.engine.url, poolclass=NullPool)
    samples: list[tuple[float, str, str]] = []

    def roles() -> tuple[str, str]:
        first, second = (s.health()["scheduler"] for s in serves)
        samples.append((time.monotonic(), first, second))
        return first, second

    try:
        for thread in threads:
            thread.start()
        wait_for(lambda: sorted(roles()) == ["leader", "standby"], 20, "one leader, one standby")
        old = next(i for i, role in enumerate(roles()) if role == "leader")
        samples.clear()
        killed_at = time.monotonic()
        kill_lock_connection(admin)
        wait_for(lambda: roles()[old] != "leader", 5, "the old leader stands down")
        wait_for(lambda: "leader" in roles(), 10, "a leader again")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        admin.dispose()
        for service in services:
            service.db.dispose()
    stood_down = next(at for at, *both in samples if both[old] != "leader")
    led_again = next(at for at, *both in samples if at > stood_down and "leader" in both)
    overlap = [at for at, first, second in samples if first == second == "leader"]
    print(
        f"lock killed: old leader standby after {stood_down - killed_at:.3f} s, "
        f"a leader again after {led_again - killed_at:.3f} s, "
        f"overlap {len(overlap)} of {len(samples)} samples"
    )
    assert overlap == []
    assert led_again - killed_at >= 1.0  # the new leader waited out the old one's lease


class OutageFeed(ThreadingHTTPServer):
    """A feed that is deliberately slow, and whose first request takes the database away:
    every connection to it ended and new ones refused for `outage_seconds`, then back. That
    request comes from the leader's scheduled build, which so loses the database mid-run."""

    def __init__(self, admin: Engine, database: str, outage_seconds: float) -> None:
        super().__init__(("127.0.0.1", 0), _OutageHandler)
        self.admin, self.database, self.outage_seconds = admin, database, outage_seconds
        self.outage_at: float | None = None
        self.back_at: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/feed.xml"

    def take_database_away(self) -> None:
        self.outage_at = time.monotonic()
        self._set_allow_connections(False)
        with self.admin.begin() as connection:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                {"name": self.database},
            )
        timer = threading.Timer(self.outage_seconds, self._bring_back)
        timer.daemon = True
        timer.start()

    def _bring_back(self) -> None:
        self._set_allow_connections(True)
        self.back_at = time.monotonic()

    def _set_allow_connections(self, allow: bool) -> None:
        with self.admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(
                f'ALTER DATABASE "{self.database}" ALLOW_CONNECTIONS {str(allow).lower()}'
            )


class _OutageHandler(BaseHTTPRequestHandler):
    server: OutageFeed

    def do_GET(self) -> None:
        if self.server.outage_at is None:
            self.server.take_database_away()
            time.sleep(1)  # a deliberately slow source: the build is in the middle of its run
        now = datetime.now(UTC)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Vers</title>'
            "<link>https://vers.example.org/</link><description>Vers nieuws</description><item>"
            "<title>Provincies starten gezamenlijk programma voor waterkwaliteit</title>"
            "<link>https://vers.example.org/waterkwaliteit</link>"
            "<description>De twaalf provincies bundelen hun aanpak van de waterkwaliteit.</description>"
            "<guid>https://vers.example.org/waterkwaliteit</guid>"
            f"<pubDate>{format_datetime(now)}</pubDate></item></channel></rss>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def minute_marks(lead_seconds: float) -> tuple[datetime, datetime]:
    """The build at the first whole minute at least `lead_seconds` away, the send two minutes later."""
    now = datetime.now(AMSTERDAM)
    build = (now + timedelta(seconds=lead_seconds + 60)).replace(second=0, microsecond=0)
    return build, build + timedelta(minutes=2)


def once_a_year(moment: datetime) -> str:
    return f"{moment.minute} {moment.hour} {moment.day} {moment.month} *"


@pytest.mark.postgresql_only
def test_a_build_that_loses_the_database_is_retried_and_the_send_goes_out_on_time(
    project: Path, database_url: str, smtp_server: FakeSMTPServer
) -> None:
    """Two `comms serve` with workers on PostgreSQL. During the scheduled build the database goes
    away for 3 s (every connection ended, the leader's lock with them; new ones refused). The
    build is retried by whichever process leads then, and two minutes later the edition goes
    out on time to every recipient, once each; never do both processes say leader."""
    for other in (project / "schedules").glob("*.toml"):
        if other.name != "newsletter.toml":
            other.unlink()
    build_at, send_at = minute_marks(lead_seconds=20)
    schedule = project / "schedules" / "newsletter.toml"
    text_ = schedule.read_text(encoding="utf-8")
    for old, new in [
        ('cron = "0 7 22-28 * mon"', f'cron = "{once_a_year(build_at)}"'),
        ('cron = "0 9 1-7 * thu"', f'cron = "{once_a_year(send_at)}"'),  # one send per edition
        ("required = true", "required = false"),
        ('days = "mon-fri"', 'days = "mon-sun"'),
        ('hours = "08:00-18:00"', 'hours = "00:00-23:59"'),
    ]:
        assert old in text_
        text_ = text_.replace(old, new)
    schedule.write_text(text_, encoding="utf-8")
    admin_url = make_url(database_url).set(database=make_url(POSTGRES_URL or "").database)
    admin = create_engine(admin_url, poolclass=NullPool)
    feed = OutageFeed(admin, str(make_url(database_url).database), outage_seconds=3)
    threading.Thread(target=feed.serve_forever, daemon=True).start()
    config = project / "comms.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace('transport = "outbox"', 'transport = "smtp"')
        + f'\n[smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\nsecurity = "none"\n'
        + f'\n[[sources]]\nname = "vers"\ntitle = "Vers"\nurl = "{feed.url}"\n'
        + 'format = "feed"\nkind = "news"\nallow_private_addresses = ["127.0.0.1/32"]\n',
        encoding="utf-8",
    )
    with_settings(
        project,
        leader_poll_seconds=1,
        leader_lease_seconds=1.5,
        job_heartbeat_seconds=1,
        job_retry_seconds=1,
        worker_poll_seconds=1,
    )
    loaded, problems = load_config(config)
    assert loaded, problems
    service = Service.open(loaded)
    audience = read_audience(loaded.contact_files())
    with service.db.session() as session:
        import_contacts(session, audience.contacts, datetime.now(UTC))
    processes = [start_serve(project, worker=True), start_serve(project, worker=True)]
    samples: list[tuple[float, str | None, str | None]] = []

    def roles() -> tuple[str | None, str | None]:
        first, second = (p.role() for p in processes)
        samples.append((time.monotonic(), first, second))
        return first, second

    try:
        wait_for(lambda: sorted(map(str, roles())) == ["leader", "standby"], 60, "one leader, one standby")
        wait_for(lambda: roles() and feed.outage_at is not None, 150, "the scheduled build reaches the feed")
        wait_for(lambda: "leader" in roles() and feed.back_at is not None, 60, "a leader after the outage")
        wait_for(lambda: roles() and sent_count(service) > 0, 240, "the send starts")
        wait_for(lambda: roles() and not pending_count(service), 120, "every message delivered")
    finally:
        for p in processes:
            if p.process.poll() is None:
                p.process.send_signal(signal.SIGTERM)
        for p in processes:
            try:
                p.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.process.kill()
            assert p.process.stderr is not None
            p.log = p.process.stderr.read().decode(errors="replace")
            print(f"--- comms serve on port {p.port}:\n{p.log[-6000:]}")  # shown when the test fails
        feed.shutdown()
        admin.dispose()
    runs = {(r.step, r.planned_for): r for r in all_runs(service)}
    build = runs[("build", build_at.astimezone(UTC))]
    send = runs[("send", send_at.astimezone(UTC))]
    assert feed.outage_at is not None
    after = [(at, first, second) for at, first, second in samples if at >= feed.outage_at]
    takeover = (
        next(at for at, *both in after if "leader" in both and at > (feed.back_at or 0)) - feed.outage_at
    )
    overlap = [at for at, first, second in samples if first == second == "leader"]
    recipients = Counter(
        r for m in smtp_server.messages for r in m.rcpt_tos if r != "redactie@ipo.example.org"
    )
    started_late = (send.started_at - send.planned_for).total_seconds()
    print(
        f"build: {build.outcome} after {build.attempts} attempt(s) ({build.detail}); send {send.outcome}, "
        f"started {started_late:.1f} s after its planned time; a leader {takeover:.1f} s after the database "
        f"went away (3 s outage); overlap {len(overlap)} of {len(samples)} samples; "
        f"{len(recipients)} recipients, {sum(recipients.values())} messages"
    )
    assert build.outcome == "done" and build.attempts >= 2, build.detail
    assert send.outcome == "done" and started_late < 60, send.detail
    assert overlap == []
    assert len(recipients) == sent_count(service) > 0 and set(recipients.values()) == {1}
    service.db.dispose()


def all_runs(service: Service) -> list[JobRun]:
    with service.db.session() as session:
        return list(session.scalars(select(JobRun).order_by(JobRun.planned_for)))


def sent_count(service: Service) -> int:
    with service.db.session() as session:
        return session.scalar(select(func.count()).select_from(Message).where(Message.status == "sent")) or 0


def pending_count(service: Service) -> int:
    with service.db.session() as session:
        return session.scalar(select(func.count()).select_from(Message).where(Message.status != "sent")) or 0
