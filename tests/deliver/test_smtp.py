"""Delivery through a real SMTP server on loopback (aiosmtpd), with faults injected."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from comms.config import load_config
from comms.deliver.smtp import DkimSigner, SmtpTransport, _by_code
from comms.deliver.transport import TransportUnavailable
from comms.deliver.transports import make_transport
from comms.editions import delivery, lifecycle, views
from comms.store.models import Contact
from tests.deliver.conftest import EditionFactory
from tests.fakes.smtp import FakeSMTPServer


def smtp_config(server: FakeSMTPServer, **settings: object) -> str:
    values = {"host": server.host, "port": server.port, "security": "none", "command_timeout_seconds": 2}
    values |= settings
    lines = [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}" for k, v in values.items()]
    return "[smtp]\n" + "\n".join(lines) + "\n"


def send(edition, transport=None):  # type: ignore[no-untyped-def]
    transport = transport or make_transport(edition.service.config, edition.key, edition.clock)
    return delivery.send(edition.service, edition.key, transport, edition.clock)


def test_every_recipient_gets_exactly_one_message(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer
) -> None:
    edition = approved_edition(300, smtp_config(smtp_server), 'transport = "smtp"')

    outcome = send(edition)

    received = smtp_server.count_by_recipient()
    assert len(received) == 300 and set(received.values()) == {1}
    assert outcome.counts["sent"] == 300 and outcome.is_complete
    message = smtp_server.messages[0].message
    assert message.get_content_type() == "multipart/alternative"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.slow
def test_transient_failures_are_retried_until_everyone_has_one_copy(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer
) -> None:
    edition = approved_edition(5000, smtp_config(smtp_server), 'transport = "smtp"\nretry_base_seconds = 30')
    smtp_server.transient_rate = 0.2

    outcome = send(edition)

    received = smtp_server.count_by_recipient()
    refused = len(smtp_server.refusals)
    print(f"5000 recipients, {refused} transient refusals, waited {edition.clock.slept:.0f} s (fake clock)")
    assert refused > 800  # the faults really happened
    assert len(received) == 5000 and set(received.values()) == {1}
    assert {status: n for status, n in outcome.counts.items() if n} == {"sent": 5000}


def test_a_rejected_address_fails_permanently_with_the_servers_reason(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer
) -> None:
    edition = approved_edition(20, smtp_config(smtp_server), 'transport = "smtp"')
    smtp_server.reject = {"lid2@fryslan.example.org"}

    outcome = send(edition)

    assert outcome.counts["sent"] == 19 and outcome.counts["failed"] == 1
    [report] = views.status(edition.service, edition.key)
    assert report.failures == [("550 5.1.1 User unknown", 1)]
    assert report.status == "sent"  # settled: nothing is left to try


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("hang", "did not answer within 0.5 s"),
        ("closed", "cannot connect to SMTP server 127.0.0.1:"),
    ],
)
def test_an_unreachable_or_hanging_server_stops_the_run_and_leaves_the_ledger_true(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer, fault: str, reason: str
) -> None:
    config = smtp_config(smtp_server, command_timeout_seconds=0.5)
    edition = approved_edition(10, config, 'transport = "smtp"')
    if fault == "hang":
        smtp_server.hang_after_connect = True
    else:
        smtp_server.stop()

    with pytest.raises(TransportUnavailable, match=reason):
        send(edition)

    [report] = views.status(edition.service, edition.key)
    assert report.counts["pending"] == 10 and report.counts["sent"] == 0
    assert report.status == "sending"  # resumable with `comms send`


def test_a_dropped_connection_is_reopened(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer
) -> None:
    edition = approved_edition(40, smtp_config(smtp_server), 'transport = "smtp"')
    smtp_server.drop_connection_after = 7

    outcome = send(edition)

    assert set(smtp_server.count_by_recipient().values()) == {1}
    assert outcome.counts["sent"] == 40


@pytest.mark.parametrize(("password", "works"), [("geheim", True), ("fout", False)])
def test_login_with_the_password_from_the_environment(
    approved_edition: EditionFactory,
    smtp_server: FakeSMTPServer,
    monkeypatch: pytest.MonkeyPatch,
    password: str,
    works: bool,
) -> None:
    smtp_server.require_auth = ("comms", "geheim")
    monkeypatch.setenv("COMMS_SMTP_PASSWORD", password)
    edition = approved_edition(5, smtp_config(smtp_server, username="comms"), 'transport = "smtp"')

    if works:
        send(edition)
        assert {m.auth_login for m in smtp_server.messages} == {"comms"}
    else:
        with pytest.raises(TransportUnavailable, match=r"refused the login of 'comms'.*COMMS_SMTP_PASSWORD"):
            send(edition)
        assert smtp_server.messages == []


def test_starttls_with_the_relays_certificate(
    approved_edition: EditionFactory, smtp_tls_server: FakeSMTPServer
) -> None:
    config = smtp_config(smtp_tls_server, security="starttls", ca_file=str(smtp_tls_server.cert_path))
    edition = approved_edition(5, config, 'transport = "smtp"')

    send(edition)

    assert [m.tls for m in smtp_tls_server.messages] == [True] * 5


def test_messages_are_dkim_signed_over_the_list_unsubscribe_headers(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    edition = approved_edition(3, smtp_config(smtp_server), 'transport = "smtp"')
    config = edition.service.config
    transport = SmtpTransport(config.smtp, dkim=DkimSigner("comms", "ipo.example.org", private_pem))

    send(edition, transport)

    import base64

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)
    for received in smtp_server.messages:
        signature = received.message["DKIM-Signature"]
        assert "list-unsubscribe:list-unsubscribe-post" in signature.lower().replace(" ", "")
        assert dkim.verify(received.raw, dnsfunc=lambda name, timeout=5: record)
        tampered = received.raw.replace(
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: x"
        )
        assert not dkim.verify(tampered, dnsfunc=lambda name, timeout=5: record)


# -- RFC 5321 timeouts: a late verdict is one copy; no verdict is uncertain ----------------------


def test_a_250_later_than_the_command_timeout_but_within_the_data_timeout_is_one_copy_each(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer
) -> None:
    config = smtp_config(smtp_server, command_timeout_seconds=1, data_timeout_seconds=3)
    edition = approved_edition(4, config, 'transport = "smtp"')
    smtp_server.final_reply_delay = 2.0  # longer than any command may take, as a busy relay does

    outcome = send(edition)

    assert len(smtp_server.messages) == 4
    assert set(smtp_server.count_by_recipient().values()) == {1}
    assert outcome.counts["sent"] == 4 and outcome.counts["uncertain"] == 0
    assert views.status(edition.service, edition.key)[0].status == "sent"


NO_VERDICT = {
    "no reply in time": ("final_reply_delay", 3.0, "did not confirm it within 1 s"),
    "connection dropped": ("drop_before_final_reply", True, "connection to 127.0.0.1:"),
}


def deliver_round(edition):  # type: ignore[no-untyped-def]
    """One worker round: what is due now, no waiting for retries."""
    transport = make_transport(edition.service.config, edition.key, edition.clock)
    service, key, clock = edition.service, edition.key, edition.clock
    return delivery.deliver_edition(service, key, transport, clock, wait_for_retries=False)


@pytest.mark.parametrize("fault", NO_VERDICT)
def test_no_verdict_on_the_final_dot_is_uncertain_and_sent_once_more_only_after_the_delay(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer, fault: str
) -> None:
    setting, value, reason = NO_VERDICT[fault]
    config = smtp_config(smtp_server, command_timeout_seconds=1, data_timeout_seconds=1)
    edition = approved_edition(3, config, 'transport = "smtp"\nuncertain_retry_seconds = 3600')
    setattr(smtp_server, setting, value)
    lifecycle.start_sending(edition.service, edition.key, edition.clock)

    first = deliver_round(edition)

    assert first.counts["uncertain"] == 3 and first.counts["sent"] == first.counts["pending"] == 0
    assert first.counts["claimed"] == 0  # the batch was acknowledged
    assert set(smtp_server.count_by_recipient().values()) == {1}  # not sent again at once
    [report] = views.status(edition.service, edition.key)
    assert report.status == "sending"  # not settled: one more try is due
    [(uncertainty, count)] = report.uncertainties
    assert count == 3 and uncertainty.startswith("uncertain: the message was sent") and reason in uncertainty

    edition.clock.sleep(3599)
    assert deliver_round(edition).delivered_now == 0  # not before the delay
    assert set(smtp_server.count_by_recipient().values()) == {1}

    setattr(smtp_server, setting, type(value)())  # the relay answers again
    edition.clock.sleep(1)
    last = deliver_round(edition)

    assert last.counts["sent"] == 3 and last.counts["uncertain"] == 0
    assert set(smtp_server.count_by_recipient().values()) == {2}  # at most one more copy each
    copies = {m.message["Message-ID"] for m in smtp_server.messages}
    assert len(copies) == 3  # the repeat carries the same Message-ID
    assert views.status(edition.service, edition.key)[0].status == "sent"


def test_a_relay_that_never_confirms_gets_one_more_try_then_the_message_is_settled_as_uncertain(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer
) -> None:
    config = smtp_config(smtp_server, command_timeout_seconds=1, data_timeout_seconds=1)
    edition = approved_edition(2, config, 'transport = "smtp"')
    smtp_server.drop_before_final_reply = True

    outcome = send(edition)  # `comms send` waits for the one retry (the fixed clock jumps)

    assert edition.clock.slept >= 3600  # the default delay: an hour
    assert outcome.counts["uncertain"] == 2 and outcome.is_complete
    assert set(smtp_server.count_by_recipient().values()) == {2}  # never more than two copies
    [report] = views.status(edition.service, edition.key)
    assert report.status == "sent"  # settled: nothing more will be tried
    [(reason, _)] = report.uncertainties
    assert reason.startswith("still uncertain after one more try")


# -- poison messages and international addresses --------------------------------------------------

IDN_ROWS = (
    "jan@xn--bcher-kva.example;Jan;;Bakker;Utrecht;statenlid;;\n"
    "anna@bücher.example;Anna;;de Vries;Zeeland;statenlid;;\n"
    "jörg@example.org;Jörg;;Müller;Limburg;statenlid;;\n"
)


@pytest.mark.parametrize("smtputf8", [True, False], ids=["relay with SMTPUTF8", "relay without"])
def test_international_addresses_get_one_copy_or_fail_alone_with_a_clear_reason(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer, smtputf8: bool
) -> None:
    smtp_server.offer_smtputf8 = smtputf8
    edition = approved_edition(20, smtp_config(smtp_server), 'transport = "smtp"', extra_rows=IDN_ROWS)

    outcome = send(edition)

    received = smtp_server.count_by_recipient()
    assert received["jan@xn--bcher-kva.example"] == received["anna@xn--bcher-kva.example"] == 1
    assert set(received.values()) == {1}
    to = {m.rcpt_tos[0]: m.message["To"].addresses[0] for m in smtp_server.messages}
    assert (to["anna@xn--bcher-kva.example"].display_name, to["anna@xn--bcher-kva.example"].addr_spec) == (
        "Anna de Vries",
        "anna@xn--bcher-kva.example",
    )
    assert outcome.counts["claimed"] == outcome.counts["pending"] == 0  # every batch acknowledged
    [report] = views.status(edition.service, edition.key)
    assert report.status == "sent"  # settled
    if smtputf8:
        assert received["jörg@example.org"] == 1 and outcome.counts["sent"] == 23
        [utf8] = [m for m in smtp_server.messages if m.rcpt_tos == ("jörg@example.org",)]
        assert "SMTPUTF8" in utf8.mail_options
        parsed = email.message_from_string(utf8.raw.decode("utf-8"), policy=email.policy.SMTPUTF8)
        [address] = parsed["To"].addresses  # RFC 6532: the address in UTF-8, the name encoded
        assert (address.display_name, address.addr_spec) == ("Jörg Müller", "jörg@example.org")
        assert all(m.mail_options == () for m in smtp_server.messages if m is not utf8)  # only where needed
    else:
        assert "jörg@example.org" not in received and outcome.counts["sent"] == 22
        [(reason, count)] = report.failures
        assert count == 1
        assert "non-ASCII characters before the @" in reason and "does not offer SMTPUTF8" in reason


def add_contact(edition, email: str) -> None:  # type: ignore[no-untyped-def]
    """A contact straight into the database, as an older import may have left one."""
    with edition.service.db.session() as session:
        session.add(
            Contact(
                public_id="poison0000000001", email=email, first_name="Piet", infix="", last_name="Gif",
                province="Utrecht", roles=",statenlid,", themes=",", active=True, source_file="oud",
                updated_at=edition.clock.now(),
            )
        )  # fmt: skip


def test_a_message_that_cannot_be_built_fails_alone_and_its_batch_goes_on(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer
) -> None:
    edition = approved_edition(45, smtp_config(smtp_server), 'transport = "smtp"')
    add_contact(edition, "piet@bü\u200dcher.example")  # a joiner: no valid IDNA form

    outcome = send(edition)

    received = smtp_server.count_by_recipient()
    assert len(received) == 45 and set(received.values()) == {1}
    assert outcome.counts == outcome.counts | {"sent": 45, "failed": 1, "claimed": 0, "pending": 0}
    [report] = views.status(edition.service, edition.key)
    [(reason, count)] = report.failures
    assert count == 1 and reason.startswith("cannot be sent: the domain")
    assert "is not a valid internationalised domain name" in reason
    assert report.status == "sent"


@pytest.mark.parametrize(
    ("code", "reply", "enhanced", "permanent", "hard_bounce"),
    [
        (550, b"5.1.1 User unknown", "5.1.1", True, True),
        (552, b"5.2.2 Mailbox full", "5.2.2", True, True),
        (554, b"Transaction failed", None, True, True),
        (451, b"4.3.0 Try again later", "4.3.0", False, False),
        (421, b"Service not available", None, False, False),
    ],
)
def test_a_refusal_keeps_the_reply_code_and_enhanced_status_code_for_bounce_handling(
    code: int, reply: bytes, enhanced: str | None, permanent: bool, hard_bounce: bool
) -> None:
    result = _by_code(7, code, reply)

    assert (result.reply_code, result.enhanced_code) == (code, enhanced)
    assert result.is_permanent_failure is permanent and result.is_permanent_refusal is hard_bounce
    assert result.reason == f"{code} {reply.decode()}"


# -- the settings ----------------------------------------------------------------------------------

REPO_CONFIG = Path(__file__).resolve().parents[2] / "comms.toml"


@pytest.mark.parametrize(
    ("smtp", "command", "data", "warning"),
    [
        ("", 300, 600, None),  # RFC 5321 §4.5.3.2
        ("command_timeout_seconds = 60\ndata_timeout_seconds = 900", 60, 900, None),
        ("timeout_seconds = 30", 30, 600, "timeout_seconds is replaced by command_timeout_seconds"),
        ("timeout_seconds = 30\ncommand_timeout_seconds = 120", 120, 600, "timeout_seconds is ignored"),
    ],
)
def test_smtp_timeouts_follow_rfc_5321_and_the_old_setting_still_works_with_a_warning(
    tmp_path: Path, smtp: str, command: float, data: float, warning: str | None
) -> None:
    path = tmp_path / "comms.toml"
    path.write_text(REPO_CONFIG.read_text(encoding="utf-8") + f"\n[smtp]\n{smtp}\n", encoding="utf-8")

    config, problems = load_config(path)

    assert config is not None, problems
    assert (config.smtp.command_timeout_seconds, config.smtp.data_timeout_seconds) == (command, data)
    assert config.delivery.uncertain_retry_seconds == 3600
    warnings = [p.reason for p in problems if not p.is_error]
    about_timeouts = [w for w in warnings if "timeout_seconds" in w]
    assert (
        about_timeouts == [] if warning is None else len(about_timeouts) == 1 and warning in about_timeouts[0]
    )


def test_a_timeout_of_zero_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "comms.toml"
    path.write_text(REPO_CONFIG.read_text(encoding="utf-8") + "\n[smtp]\ndata_timeout_seconds = 0\n")

    config, problems = load_config(path)

    assert config is None
    assert any("[smtp] data_timeout_seconds must be more than 0" in p.reason for p in problems)
