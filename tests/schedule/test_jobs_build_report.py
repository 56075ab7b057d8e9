"""The scheduled build tells the team what its build report says: items left out over the cap
(and a copy too large for Gmail) are in the approval request."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import time_machine

from comms.audience.contacts import read_audience
from comms.audience.sync import import_contacts
from comms.clock import SystemClock
from comms.config import load_config
from comms.dates import AMSTERDAM
from comms.serve import ScheduleRunner
from comms.service import Service


def test_the_approval_request_names_what_the_build_left_out(project: Path) -> None:
    for other in (project / "schedules").glob("*.toml"):
        if other.name != "newsletter.toml":
            other.unlink()
    config, problems = load_config(project / "comms.toml")
    assert config, problems
    service = Service.open(
        dataclasses.replace(config, newsletter=dataclasses.replace(config.newsletter, max_items=5))
    )
    with service.db.session() as session:
        import_contacts(
            session, read_audience(config.contact_files()).contacts, datetime(2026, 11, 1, tzinfo=UTC)
        )

    with time_machine.travel(datetime(2026, 11, 23, 7, 0, tzinfo=AMSTERDAM), tick=False):
        runner = ScheduleRunner(service, SystemClock())
        runner.start()
        runner.tick()
        runner.stop()
    service.db.dispose()

    [notice] = (project / "outbox" / "meldingen" / "messages").glob("*.eml")
    message = message_from_bytes(notice.read_bytes(), policy=policy.default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    body = " ".join(text.split())  # phrases are found across wrapped lines
    assert message["Subject"] == "Ter goedkeuring: nieuwsbrief-2026-12"
    assert "Meldingen bij het opbouwen:" in body
    assert "item(s) left out: an edition holds at most 5; the newest news and the soonest events" in body
