"""Several connections and RFC 2920 pipelining: the same fate for every message as one
connection in lock-step, with faults injected by a loopback server that offers PIPELINING."""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from comms.audience.contacts import read_audience
from comms.audience.sync import import_contacts
from comms.collect.run import collect_all
from comms.config import SmtpConfig, load_config
from comms.deliver import queue
from comms.deliver.smtp import RETRY_SOON, RETRY_THROTTLED, SmtpTransport, _content
from comms.deliver.transport import DeliveryResult
from comms.deliver.transports import make_transport
from comms.editions import delivery, lifecycle
from comms.editions.delivery import mailing_for
from comms.kinds import BuildRequest
from comms.operations import editions
from comms.render.message import OutgoingMessage
from comms.service import Service
from comms.store.editions import find_edition
from comms.store.models import Contact
from tests.conftest import REPO, SECRET
from tests.deliver.conftest import NOW, EditionFactory, synthetic_audience
from tests.fakes.smtp_pipelining import PipeliningServer

RECIPIENTS = 48


def address(n: int) -> str:
    """The synthetic audience's n-th address (tests/deliver/conftest.py)."""
    return f"lid{n}@{('utrecht', 'zeeland', 'fryslan', 'gelderland')[n % 4]}.example.org"


@pytest.fixture(scope="module")
def messages(tmp_path_factory: pytest.TempPathFactory) -> list[OutgoingMessage]:
    """The sample newsletter for RECIPIENTS synthetic Statenleden; the contact id stands for the
    ledger id. Built once: the transport only reads them."""
    with pytest.MonkeyPatch.context() as patch:  # the autouse fixture is per test: too late here
        patch.setenv("COMMS_SECRET_KEY", SECRET)
        return build_messages(tmp_path_factory.mktemp("project"))


def build_messages(root: Path) -> list[OutgoingMessage]:
    for folder in ("templates", "audiences", "schedules", "sample"):
        shutil.copytree(REPO / folder, root / folder)
    text = (REPO / "comms.toml").read_text(encoding="utf-8")
    (root / "comms.toml").write_text(text.replace("var/comms.sqlite3", str(root / "db.sqlite3")))
    for path in (root / "audiences" / "contacts").glob("*.csv"):
        path.unlink()
    (root / "audiences" / "contacts" / "synthetic.csv").write_text(synthetic_audience(RECIPIENTS))
    config, problems = load_config(root / "comms.toml")
    assert config is not None, problems
    service = Service.open(config)
    with service.db.session() as session:
        import_contacts(session, read_audience(config.contact_files()).contacts, NOW)
    collect_all(config, service.db, NOW)
    key = editions.build(service, "newsletter", BuildRequest(NOW, period="2026-12")).key
    lifecycle.approve(service, key, "test", NOW)
    with service.db.session() as session:
        mailing = mailing_for(service, find_edition(session, key), service.signer(), NOW)
        contacts = session.scalars(select(Contact).order_by(Contact.id)).all()
        built = [mailing.message(queue.recipient(c.id, c), frozenset()) for c in contacts]
    for message in built:
        _ = message.data  # built now, while the service is open
    service.db.dispose()
    return built


@pytest.fixture
def server() -> Iterator[PipeliningServer]:
    with PipeliningServer() as running:
        yield running


def transport(server: PipeliningServer, connections: int, pipelining: bool, **more: object) -> SmtpTransport:
    settings = SmtpConfig(
        host=server.host,
        port=server.port,
        security="none",
        command_timeout_seconds=2,
        data_timeout_seconds=2,
        connections=connections,
        pipelining=pipelining,
    )
    return SmtpTransport(dataclasses.replace(settings, **more))  # type: ignore[arg-type]


def send_all(smtp: SmtpTransport, messages: list[OutgoingMessage]) -> dict[int, DeliveryResult]:
    """Every message in the transport's own batches, as `comms send` hands them over."""
    results: dict[int, DeliveryResult] = {}
    try:
        for start in range(0, len(messages), smtp.batch_size):
            batch = messages[start : start + smtp.batch_size]
            found = smtp.send_batch(batch)
            assert sorted(r.ledger_id for r in found) == sorted(m.ledger_id for m in batch)
            results |= {r.ledger_id: r for r in found}
    finally:
        smtp.close()
    return results


def fate(result: DeliveryResult) -> tuple[object, ...]:
    """What the ledger and the bounce policy take from a result; the reason without the socket
    error's own words (a reset or an end of file, depending on what was still unread)."""
    reason = re.sub(r" \([^()]*\)$", "", result.reason or "")
    return (
        result.delivered,
        result.uncertain,
        result.retry_after,
        result.reply_code,
        result.enhanced_code,
        reason,
    )


REFUSE_AT_RCPT = {address(3): "450 4.2.0 Mailbox busy", address(7): "550 5.1.1 User unknown"}
REFUSE_AT_DATA = {address(5): "451 4.3.0 Try again later", address(11): "554 5.6.0 Content rejected"}
CLOSE_AT_RCPT = {address(13): "421 4.3.2 Service shutting down"}
CLOSE_AT_DATA = {address(22): "421 4.3.2 Service shutting down"}
DROP = {address(9), address(30)}
FAULTS = {
    "refused at RCPT": (REFUSE_AT_RCPT, {}, set()),
    "refused at the final dot": ({}, REFUSE_AT_DATA, set()),
    "421 at RCPT, mid-stream": (CLOSE_AT_RCPT, {}, set()),
    "421 at the final dot": ({}, CLOSE_AT_DATA, set()),
    "dropped after the content": ({}, {}, DROP),
    "all of them": (REFUSE_AT_RCPT | CLOSE_AT_RCPT, REFUSE_AT_DATA | CLOSE_AT_DATA, DROP),
}


@pytest.mark.parametrize("connections", [2, 4])
@pytest.mark.parametrize("faults", FAULTS)
def test_parallel_pipelined_sending_gives_every_message_the_fate_lock_step_gives_it(
    messages: list[OutgoingMessage], server: PipeliningServer, faults: str, connections: int
) -> None:
    server.rcpt_replies, server.data_replies, server.drop_after_data = FAULTS[faults]
    simple = send_all(transport(server, 1, False, messages_per_connection=0), messages)
    simple_copies = server.count_by_recipient()
    server.reset()

    fast = send_all(transport(server, connections, True, messages_per_connection=7), messages)

    assert {i: fate(r) for i, r in fast.items()} == {i: fate(r) for i, r in simple.items()}
    assert server.count_by_recipient() == simple_copies  # the same messages reached the relay
    assert set(simple_copies.values()) == {1}
    assert server.pipelined >= len(simple_copies)  # and it really was pipelined
    refused = {address(3), address(7), address(5), address(11), address(13), address(22)}
    expected = {m.ledger_id for m in messages if m.recipient.email not in refused | DROP}
    delivered = {i for i, r in fast.items() if r.delivered}
    assert expected - delivered == set()  # no one behind a fault was held up


def test_the_faults_give_the_fates_a_relay_means(
    messages: list[OutgoingMessage], server: PipeliningServer
) -> None:
    server.rcpt_replies, server.data_replies, server.drop_after_data = FAULTS["all of them"]

    results = send_all(transport(server, 4, True), messages)

    by_address = {m.recipient.email: results[m.ledger_id] for m in messages}
    assert by_address[address(7)].is_permanent_refusal and by_address[address(11)].is_permanent_refusal
    for transient in (address(3), address(5), address(13), address(22)):
        assert by_address[transient].retry_after == RETRY_SOON
    assert by_address[address(13)].reason == "421 4.3.2 Service shutting down"
    assert all(by_address[a].is_uncertain for a in DROP)
    assert sum(r.delivered for r in results.values()) == RECIPIENTS - 8


@pytest.mark.parametrize("offered", [True, False], ids=["offered", "not offered"])
def test_pipelining_is_used_exactly_when_the_relay_offers_it(
    messages: list[OutgoingMessage], server: PipeliningServer, offered: bool
) -> None:
    server.offer_pipelining = offered
    batch = messages[:20]

    results = send_all(transport(server, 1, True), batch)

    assert all(r.delivered for r in results.values())
    if offered:
        # MAIL, RCPT and DATA come together, and with the content before them: at least 2 per message
        assert server.pipelined >= 2 * len(batch)
    else:
        assert server.pipelined == 0  # each command waited for its reply


@pytest.mark.parametrize("pipelining", [True, False])
def test_a_connection_carries_at_most_messages_per_connection(
    messages: list[OutgoingMessage], server: PipeliningServer, pipelining: bool
) -> None:
    results = send_all(transport(server, 1, pipelining, messages_per_connection=5), messages[:20])

    assert all(r.delivered for r in results.values())
    per_connection = sorted(sum(1 for r in server.received if r.connection == c) for c in range(1, 5))
    assert per_connection == [5, 5, 5, 5] and server.connections == 4


def test_the_batch_is_shared_by_the_configured_number_of_connections(
    messages: list[OutgoingMessage], server: PipeliningServer
) -> None:
    results = send_all(transport(server, 4, True, messages_per_connection=0), messages)

    assert all(r.delivered for r in results.values())
    assert len({r.connection for r in server.received}) == 4 == server.connections
    assert set(server.count_by_recipient().values()) == {1}


def test_a_throttling_reply_halves_the_connections_and_is_retried_later(
    messages: list[OutgoingMessage], server: PipeliningServer
) -> None:
    server.rcpt_replies = {address(2): "451 4.7.1 Too many messages, slow down"}
    smtp = transport(server, 4, True, messages_per_connection=0)
    first, second = messages[:20], messages[20:40]

    results = {r.ledger_id: r for r in smtp.send_batch(first)}
    server.reset()
    later = smtp.send_batch(second)
    smtp.close()

    throttled = results[first[2].ledger_id]
    assert (throttled.reply_code, throttled.enhanced_code) == (451, "4.7.1")
    assert throttled.retry_after == RETRY_THROTTLED and not throttled.is_permanent_failure
    assert smtp.connection_limit == 2
    assert all(r.delivered for r in later)
    assert len({r.connection for r in server.received}) <= 2  # fewer connections from then on


def test_comms_send_through_a_pipelining_relay_gives_everyone_one_copy(
    approved_edition: EditionFactory, server: PipeliningServer
) -> None:
    settings = f'[smtp]\nhost = "{server.host}"\nport = {server.port}\nsecurity = "none"\n'
    edition = approved_edition(60, settings + "messages_per_connection = 9\n", 'transport = "smtp"')
    server.rcpt_replies = {address(4): "550 5.1.1 User unknown"}

    smtp = make_transport(edition.service.config, edition.key, edition.clock)
    outcome = delivery.send(edition.service, edition.key, smtp, edition.clock)

    assert outcome.counts["sent"] == 59 and outcome.counts["failed"] == 1 and outcome.is_complete
    assert len(server.count_by_recipient()) == 59 and set(server.count_by_recipient().values()) == {1}
    assert server.pipelined > 0


@pytest.mark.parametrize(
    ("data", "content", "end"),
    [
        (b"a\r\nb\r\n", b"a\r\nb\r\n", b".\r\n"),  # nothing to stuff: the very same bytes
        (b"a\r\n.b\r\n", b"a\r\n..b\r\n", b".\r\n"),
        (b".a\r\n.\r\n", b"..a\r\n..\r\n", b".\r\n"),  # a lone dot inside the message is stuffed
        (b"a\r\n.\r\n.\r\nb", b"a\r\n..\r\n..\r\nb", b"\r\n.\r\n"),  # no final line break: one is added
    ],
)
@pytest.mark.parametrize("whole", [False, True], ids=["slices", "one copy for TLS"])
def test_content_is_dot_stuffed_only_where_a_line_starts_with_a_dot(
    data: bytes, content: bytes, end: bytes, whole: bool
) -> None:
    *stuffed, tail = _content(data, whole)

    assert (b"".join(stuffed), tail) == (content, end)
    if content == data:
        assert stuffed == [data] and stuffed[0] is data  # no copy


def test_a_line_starting_with_a_dot_arrives_intact(
    messages: list[OutgoingMessage], server: PipeliningServer
) -> None:
    message = messages[0]
    original = message.data
    message._cache["data"] = original.replace(b"\r\n", b"\r\n.\r\n..x\r\n", 1)  # its bytes, made once
    try:
        [result] = send_all(transport(server, 1, True), [message]).values()
    finally:
        message._cache["data"] = original

    assert result.delivered
    assert server.received[0].raw == original.replace(b"\r\n", b"\r\n.\r\n..x\r\n", 1)


@pytest.mark.parametrize(
    ("setting", "error"),
    [
        ("connections = 0", "[smtp] connections must be 1 to 32, not 0"),
        ("connections = 33", "[smtp] connections must be 1 to 32, not 33"),
        ("messages_per_connection = -1", "[smtp] messages_per_connection must be 0 or more, not -1"),
        ('pipelining = "yes"', "pipelining"),
    ],
)
def test_connection_settings_out_of_range_are_refused_with_their_limits(
    tmp_path: Path, setting: str, error: str
) -> None:
    path = tmp_path / "comms.toml"
    path.write_text((REPO / "comms.toml").read_text(encoding="utf-8") + f"\n[smtp]\n{setting}\n")

    config, problems = load_config(path)

    assert config is None
    assert any(error in p.reason for p in problems), [p.reason for p in problems]


def test_the_defaults_use_four_pipelined_connections(tmp_path: Path) -> None:
    config, _ = load_config(REPO / "comms.toml")

    assert config is not None
    smtp = SmtpTransport(config.smtp)
    assert (config.smtp.connections, config.smtp.pipelining, config.smtp.messages_per_connection) == (
        4,
        True,
        100,
    )
    assert smtp.batch_size == 80  # 20 per connection: the crash window grows with the connections
