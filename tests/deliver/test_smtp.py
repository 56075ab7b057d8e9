"""Delivery through a real SMTP server on loopback (aiosmtpd), with faults injected."""

from __future__ import annotations

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from comms.deliver.smtp import DkimSigner, SmtpTransport
from comms.deliver.transport import TransportUnavailable
from comms.deliver.transports import make_transport
from comms.editions import delivery, views
from tests.deliver.conftest import EditionFactory
from tests.fakes.smtp import FakeSMTPServer


def smtp_config(server: FakeSMTPServer, **settings: object) -> str:
    values = {"host": server.host, "port": server.port, "security": "none", "timeout_seconds": 2} | settings
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
    assert outcome.counts == {"pending": 0, "claimed": 0, "sent": 5000, "failed": 0, "suppressed": 0}


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
    edition = approved_edition(10, smtp_config(smtp_server, timeout_seconds=0.5), 'transport = "smtp"')
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
    transport = SmtpTransport(
        config.smtp, config.sender.address, dkim=DkimSigner("comms", "ipo.example.org", private_pem)
    )

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
