"""The SMTP stand-in itself: what it records and the faults it injects, seen through smtplib."""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage

import pytest

from tests.fakes.smtp import (
    TRANSIENT_REPLY,
    UNKNOWN_USER_REPLY,
    FakeSMTPServer,
    Refusal,
)

SENDER = "communicatie@ipo.example.org"


def _client(server: FakeSMTPServer) -> smtplib.SMTP:
    return smtplib.SMTP(server.host, server.port, timeout=5)


def _message(*recipients: str, subject: str = "Nieuwsbrief Statenleden — mei 2026") -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message.set_content("Beste Statenleden,\n\nDe agenda van de AV staat online.\n")
    return message


def _rcpt_codes(server: FakeSMTPServer, count: int) -> list[int]:
    """RCPT TO answers for `count` fresh transactions on one connection."""
    codes = []
    with _client(server) as client:
        client.ehlo()
        for n in range(count):
            client.mail(SENDER)
            codes.append(client.rcpt(f"lid{n}@utrecht.example.org")[0])
            client.rset()
    return codes


def test_accepted_messages_are_recorded_and_counted(smtp_server: FakeSMTPServer) -> None:
    with _client(smtp_server) as client:
        client.send_message(_message("a@example.org", "b@example.org"))
        client.send_message(_message("a@example.org"))

    counts = smtp_server.count_by_recipient()
    assert counts == {"a@example.org": 2, "b@example.org": 1}
    first = smtp_server.messages[0]
    assert first.mail_from == SENDER
    assert first.rcpt_tos == ("a@example.org", "b@example.org")
    assert first.message["Subject"] == "Nieuwsbrief Statenleden — mei 2026"
    assert b"Subject: " in first.raw
    assert "De agenda van de AV" in first.message.get_content()
    assert not first.tls

    smtp_server.reset()
    assert smtp_server.messages == []


@pytest.mark.parametrize(("rate", "low", "high"), [(0.0, 0.0, 0.0), (0.25, 0.15, 0.35), (1.0, 1.0, 1.0)])
def test_transient_share_follows_the_rate(
    smtp_server: FakeSMTPServer, rate: float, low: float, high: float
) -> None:
    smtp_server.transient_rate = rate
    codes = _rcpt_codes(smtp_server, 200)

    assert set(codes) <= {250, 451}
    assert low <= codes.count(451) / len(codes) <= high
    assert len(smtp_server.refusals) == codes.count(451)


def test_transient_failures_are_reproducible_with_the_seed() -> None:
    with FakeSMTPServer(seed=2026) as server:
        server.transient_rate = 0.3
        first = _rcpt_codes(server, 100)
        server.reset()  # restarts the seeded sequence
        assert _rcpt_codes(server, 100) == first
    with FakeSMTPServer(seed=2026) as other:
        other.transient_rate = 0.3
        assert _rcpt_codes(other, 100) == first


@pytest.mark.parametrize(
    ("address", "code"),
    [("weg@example.org", 550), ("WEG@Example.ORG", 550), ("blijft@example.org", 250)],
)
def test_rejected_addresses_get_550(smtp_server: FakeSMTPServer, address: str, code: int) -> None:
    smtp_server.reject = {"weg@example.org"}
    with _client(smtp_server) as client:
        client.ehlo()
        client.mail(SENDER)
        reply_code, reply = client.rcpt(address)

    assert reply_code == code
    if code == 550:
        assert f"{reply_code} {reply.decode()}" == UNKNOWN_USER_REPLY
        assert smtp_server.refusals == [Refusal(address, UNKNOWN_USER_REPLY)]


def test_a_partly_rejected_message_reaches_the_others(smtp_server: FakeSMTPServer) -> None:
    smtp_server.reject = {"weg@example.org"}
    with _client(smtp_server) as client:
        refused = client.send_message(_message("weg@example.org", "blijft@example.org"))

    assert refused == {"weg@example.org": (550, b"5.1.1 User unknown")}
    assert smtp_server.count_by_recipient() == {"blijft@example.org": 1}


def test_transient_reply_text(smtp_server: FakeSMTPServer) -> None:
    smtp_server.transient_rate = 1.0
    with _client(smtp_server) as client:
        client.ehlo()
        client.mail(SENDER)
        code, reply = client.rcpt("lid@example.org")
    assert f"{code} {reply.decode()}" == TRANSIENT_REPLY


@pytest.mark.parametrize(
    ("credentials", "login_code", "mail_code"),
    [(None, None, 530), (("ipo", "fout"), 535, 530), (("ipo", "geheim"), 235, 250)],
    ids=["no-login", "wrong-password", "right-password"],
)
def test_auth_required(
    smtp_server: FakeSMTPServer,
    credentials: tuple[str, str] | None,
    login_code: int | None,
    mail_code: int,
) -> None:
    smtp_server.require_auth = ("ipo", "geheim")
    with _client(smtp_server) as client:
        client.ehlo()
        if credentials is not None:
            try:
                code = client.login(*credentials)[0]
            except smtplib.SMTPAuthenticationError as error:
                code = error.smtp_code
            assert code == login_code
        assert client.mail(SENDER)[0] == mail_code
        if mail_code == 250:
            client.rcpt("a@example.org")
            client.data(_message("a@example.org").as_bytes())

    if mail_code == 250:
        assert [m.auth_login for m in smtp_server.messages] == ["ipo"]


def test_starttls_with_the_generated_certificate(smtp_tls_server: FakeSMTPServer) -> None:
    assert smtp_tls_server.cert_path is not None and smtp_tls_server.cert_path.exists()
    with _client(smtp_tls_server) as client:
        client.starttls(context=smtp_tls_server.client_ssl_context())  # verifies 127.0.0.1
        client.send_message(_message("a@example.org"))

    assert [m.tls for m in smtp_tls_server.messages] == [True]


def test_starttls_refuses_a_client_that_does_not_trust_the_certificate(
    smtp_tls_server: FakeSMTPServer,
) -> None:
    with _client(smtp_tls_server) as client, pytest.raises(ssl.SSLCertVerificationError):
        client.starttls(context=ssl.create_default_context())


def test_require_starttls_refuses_mail_in_the_clear(smtp_tls_server: FakeSMTPServer) -> None:
    smtp_tls_server.require_starttls = True
    with _client(smtp_tls_server) as client:
        client.ehlo()
        assert client.mail(SENDER)[0] == 530


def test_implicit_tls(smtps_server: FakeSMTPServer) -> None:
    context = smtps_server.client_ssl_context()
    with smtplib.SMTP_SSL(smtps_server.host, smtps_server.port, context=context, timeout=5) as client:
        client.send_message(_message("a@example.org"))
    assert [m.tls for m in smtps_server.messages] == [True]


def test_hang_after_connect_shows_as_a_client_timeout(smtp_server: FakeSMTPServer) -> None:
    smtp_server.hang_after_connect = True
    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
        smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=0.5)

    smtp_server.hang_after_connect = False  # new connections are greeted again
    with _client(smtp_server) as client:
        assert client.noop()[0] == 250


@pytest.mark.parametrize("let_go", ["release", "stop"])
def test_held_connections_are_closed_on_release_and_teardown(let_go: str) -> None:
    server = FakeSMTPServer().start()
    try:
        server.hang_after_connect = True
        with socket.create_connection((server.host, server.port), timeout=0.5) as sock:
            with pytest.raises(TimeoutError):
                sock.recv(1)  # no greeting
            getattr(server, let_go)()
            assert sock.recv(1) == b""  # closed, not left hanging
    finally:
        server.stop()


def test_drop_connection_after_n_messages_forces_a_reconnect(smtp_server: FakeSMTPServer) -> None:
    smtp_server.drop_connection_after = 2
    with _client(smtp_server) as client:
        client.send_message(_message("lid0@example.org"))
        client.send_message(_message("lid1@example.org"))
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.send_message(_message("lid2@example.org"))

    with _client(smtp_server) as client:
        client.send_message(_message("lid2@example.org"))

    assert sorted(smtp_server.count_by_recipient()) == [f"lid{n}@example.org" for n in range(3)]
