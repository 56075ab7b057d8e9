"""Logs in both formats (`comms --log-format`), and without personal data: a send with
failures and webhook posts with every kind of event, whose whole log output is searched for
the recipients' addresses and names."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from comms import logs
from comms.cli import main
from comms.deliver.transports import make_transport
from comms.editions import delivery
from comms.operations import recipients
from comms.store.models import Contact, Message
from tests.deliver.conftest import KEY, NOW, EditionFactory
from tests.deliver.conftest import approved_edition as approved_edition  # the fixture
from tests.deliver.test_smtp import smtp_config
from tests.fakes.smtp import FakeSMTPServer

REJECTED = "lid2@fryslan.example.org"
FULL = "lid3@gelderland.example.org"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything logged at INFO and above, through the handler the processes use."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    relay = logging.getLogger("mail.log")  # aiosmtpd: the stand-in relay's own log, not comms'
    relay_level = relay.level
    relay.setLevel(logging.WARNING)
    buffer = io.StringIO()
    yield buffer
    relay.setLevel(relay_level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logs._chosen = None


@pytest.mark.parametrize("log_format", logs.FORMATS)
def test_a_send_and_its_events_log_no_address_and_no_name(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer, captured: io.StringIO, log_format: str
) -> None:
    logs.choose(log_format)
    logs.setup(logging.INFO, captured)
    edition = approved_edition(12, smtp_config(smtp_server), 'transport = "smtp"')
    smtp_server.reject = {REJECTED}
    smtp_server.replies = {FULL: "452 4.2.2 Mailbox full"}
    service, clock = edition.service, edition.clock

    delivery.start_sending(service, KEY, clock)
    delivery.deliver_edition(
        service, KEY, make_transport(service.config, KEY, clock), clock, wait_for_retries=False
    )
    recipients.apply_sendgrid_events(service, _events_of_every_kind(edition.service), NOW)

    with service.db.session() as session:
        people = session.execute(select(Contact.email, Contact.first_name, Contact.last_name)).all()
    output = captured.getvalue()
    assert "SendGrid events: applied=" in output  # the webhook did log (and so could leak)
    assert "suppressions: " in output
    leaked = {value for person in people for value in person if value in output}
    assert leaked == set()
    if log_format == "json":
        lines = [json.loads(line) for line in output.splitlines()]
        assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)


def _events_of_every_kind(service) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    with service.db.session() as session:
        ledger = session.execute(select(Message.id, Contact.email).join(Contact).order_by(Message.id)).all()
    stamp = int(NOW.timestamp())
    events: list[dict[str, object]] = []
    for n, (mid, email) in enumerate(ledger):
        base = {"email": email, "timestamp": stamp + n, "comms_edition": KEY, "comms_message": str(mid)}
        events += [base | {"event": name} for name in ("processed", "delivered", "open", "click")]
    (_, first), (_, second), (third_id, third) = ledger[:3]
    return [
        *events,
        {"email": first, "event": "bounce", "type": "bounce", "timestamp": stamp, "reason": "550 unknown"},
        {"email": second, "event": "unsubscribe", "timestamp": stamp},
        {"email": second, "event": "group_resubscribe", "asm_group_id": 999, "timestamp": stamp},
        {"email": second, "event": "spamreport", "timestamp": stamp, "comms_message": str(third_id)},
        {"email": third, "event": "dropped", "reason": "Bounced Address", "timestamp": stamp},
        {"event": "open", "timestamp": stamp},  # no address: a problem, counted
    ]


def test_a_json_line_carries_time_level_logger_message_and_extra_fields() -> None:
    record = logging.LogRecord(
        "comms.worker", logging.WARNING, __file__, 1, "edition %s: %d sent", ("x", 3), None
    )
    record.created = datetime(2026, 12, 1, 7, 0, 0, 250_000, tzinfo=UTC).timestamp()
    record.edition = "nieuwsbrief-2026-12"

    line = json.loads(logs.JsonFormatter().format(record))

    assert line == {
        "time": "2026-12-01T07:00:00.250+00:00",
        "level": "WARNING",
        "logger": "comms.worker",
        "message": "edition x: 3 sent",
        "edition": "nieuwsbrief-2026-12",
    }


@pytest.mark.parametrize(
    ("arguments", "environment", "expected"),
    [
        (["--log-format", "json"], {}, "json"),
        ([], {"COMMS_LOG_FORMAT": "json"}, "json"),
        (["--log-format", "text"], {"COMMS_LOG_FORMAT": "json"}, "text"),
        ([], {}, "text"),
    ],
    ids=["option", "environment", "option-wins", "default"],
)
def test_the_cli_chooses_the_format(
    captured: io.StringIO, arguments: list[str], environment: dict[str, str], expected: str
) -> None:
    chosen = {}

    @main.command("log-format-probe")
    def probe() -> None:
        chosen["format"] = logs.chosen()

    try:
        result = CliRunner().invoke(
            main, [*arguments, "log-format-probe"], env={"COMMS_LOG_FORMAT": "", **environment}
        )
    finally:
        main.commands.pop("log-format-probe")

    assert result.exit_code == 0, result.output
    assert chosen == {"format": expected}


def test_an_unknown_format_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["--log-format", "xml", "status"])

    assert result.exit_code == 2
    assert "'xml' is not one of 'text', 'json'" in result.output
