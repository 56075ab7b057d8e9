"""Adding a mailing kind takes one module, one template folder and one schedule file.

The kind in drop_in/bulletin.py is put where kinds live (a folder on comms.kinds' path, as
comms/kinds/ itself is), its template and schedule into the project, and nothing else is
touched. It then goes the whole way: `comms check`, the scheduled build asking for approval,
`comms approve`, the scheduled send, a worker into the outbox, and a one-click unsubscribe
for that kind only, which the preference centre shows.
"""

from __future__ import annotations

import re
import shutil
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
import time_machine
from click.testing import CliRunner
from sqlalchemy import select

from comms import kinds
from comms.cli import main
from comms.clock import SystemClock
from comms.config import load_config
from comms.dates import AMSTERDAM
from comms.kinds import MailingKind, PeriodicKind
from comms.operations.audience import import_audience
from comms.serve import ScheduleRunner
from comms.service import Service
from comms.store.editions import find_edition
from comms.store.models import EditionStatus, Suppression
from comms.web.app import create_app
from comms.worker import Worker
from tests.web.support import serve

DROP_IN = Path(__file__).parent / "drop_in"
KEY = "weekbericht-2026-w50"  # the bulletin for Monday 7 December 2026


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=AMSTERDAM)


@pytest.fixture
def bulletin(tmp_path: Path) -> Iterator[MailingKind]:
    """The kind's module dropped into a folder on comms.kinds' package path, then discovered."""
    folder = tmp_path / "kinds"
    folder.mkdir()
    shutil.copy(DROP_IN / "bulletin.py", folder / "bulletin.py")
    original = list(kinds.__path__)
    kinds.__path__.append(str(folder))
    kinds.reset()
    try:
        yield kinds.find("bulletin")
    finally:
        kinds.__path__[:] = original
        sys.modules.pop("comms.kinds.bulletin", None)
        kinds.reset()


@pytest.fixture
def service(project: Path, bulletin: MailingKind) -> Iterator[Service]:
    """The sample project with the bulletin's template folder and schedule file, and no other
    schedule (the agenda jobs run every half hour)."""
    for other in (project / "schedules").glob("*.toml"):
        other.unlink()
    shutil.copytree(DROP_IN / "templates" / "bulletin", project / "templates" / "bulletin")
    shutil.copy(DROP_IN / "schedules" / "bulletin.toml", project / "schedules" / "bulletin.toml")
    config, problems = load_config(project / "comms.toml")
    assert config, problems
    service = Service.open(config)
    import_audience(service, datetime(2026, 11, 1, tzinfo=UTC))
    yield service
    service.db.dispose()


def comms(project: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(project / "comms.toml"), *args])
    assert result.exit_code == 0, result.output
    return result.output


def run_until(runner: ScheduleRunner, traveller: time_machine.Coordinates, end: datetime) -> None:
    """Tick, jump to the next due moment, tick again … until `end`."""
    while (wait := runner.tick()) is not None:
        due = datetime.now(UTC) + timedelta(seconds=wait)
        if due > end:
            return
        traveller.move_to(due)


def outbox(project: Path, key: str) -> list[EmailMessage]:
    files = sorted((project / "outbox" / key / "messages").glob("*.eml"))
    return [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]  # type: ignore[misc]


def test_the_kind_is_found_and_known_everywhere_by_its_key(bulletin: MailingKind) -> None:
    assert isinstance(bulletin, PeriodicKind)
    assert "bulletin" in kinds.all_keys()
    assert kinds.labels()["bulletin"] == "Weekbericht voor de Commissarissen van de Koning"


def test_a_kind_defined_in_one_module_runs_end_to_end(service: Service, project: Path) -> None:
    assert "ok:" in comms(project, "check")  # its template and schedule are checked like any

    with time_machine.travel(local(4, 11, 59), tick=False) as traveller:
        runner = ScheduleRunner(service, SystemClock())
        runner.start()
        run_until(runner, traveller, local(4, 12, 1))  # Friday 12.00: built, waiting for approval
        with service.db.session() as session:
            assert find_edition(session, KEY).status == EditionStatus.DRAFT
        assert f"approved {KEY} by redacteur" in comms(project, "approve", KEY, "--by", "redacteur")
        run_until(runner, traveller, local(7, 9, 1))  # Monday 9.00: the send step starts it
        runner.stop()
        delivered = Worker(service, SystemClock(), threading.Event()).run(exit_when_idle=True)

    assert delivered == 12  # one Commissaris van de Koning per province
    notices = [str(m["Subject"]) for m in outbox(project, "meldingen")]
    assert notices == [f"Ter goedkeuring: {KEY}"]
    messages = outbox(project, KEY)
    assert len(messages) == 12
    first = messages[0]
    assert str(first["Subject"]) == "Weekbericht week 50"
    assert "weekbericht-cdk." in str(first["List-Id"])
    text = first.get_body(("plain",))
    assert text is not None and text.get_content().startswith("Beste ")

    address = first["To"].addresses[0].addr_spec
    unsubscribe = re.search(r"<(https://[^>]+)>", str(first["List-Unsubscribe"]))
    preferences = re.search(r"Uw voorkeuren:\s+(https://\S+)", text.get_content())
    assert unsubscribe and preferences
    app = create_app(service)
    with serve(app) as base, httpx.Client(base_url=base) as client:
        path = unsubscribe[1].removeprefix(service.config.web_base_url)
        done = client.post(path, data={"List-Unsubscribe": "One-Click"})
        page = client.get(preferences[1].removeprefix(service.config.web_base_url))

    assert done.status_code == 200
    assert "Weekbericht voor de Commissarissen van de Koning" in done.text
    with service.db.session() as session:
        stopped = session.scalars(select(Suppression.scope).where(Suppression.email == address)).all()
    assert stopped == ["bulletin"]  # that kind only
    checkbox = re.search(r'<input type="checkbox" name="kind" value="bulletin"[^>]*>', page.text)
    assert checkbox and "checked" not in checkbox[0]
    assert "Weekbericht voor de Commissarissen van de Koning" in page.text
    offered = re.findall(r'<input type="checkbox" name="kind" value="([^"]+)"', page.text)
    assert offered == ["survey", "bulletin"]  # what reaches a Commissaris: not the newsletter
