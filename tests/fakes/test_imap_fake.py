"""The Dovecot fixture itself: it starts, takes mail, and speaks TLS with the test certificate."""

from __future__ import annotations

import imaplib

from tests.fakes.imap import DovecotServer


def test_dovecot_takes_mail_and_keeps_keywords(imap_server: DovecotServer) -> None:
    imap_server.deliver(b"Subject: one\r\n\r\nfirst\r\n")
    client = imap_server.client()
    client.select("INBOX")
    client.store("1", "+FLAGS", "($CommsHandled)")
    client.logout()

    [flags] = imap_server.flags()
    assert "$CommsHandled" in flags


def test_dovecot_speaks_implicit_tls_and_starttls(imap_server: DovecotServer) -> None:
    context = imap_server.tls.client_context()
    implicit = imaplib.IMAP4_SSL(imap_server.host, imap_server.tls_port, ssl_context=context, timeout=5)
    assert implicit.login(imap_server.username, imap_server.password)[0] == "OK"
    implicit.logout()
    upgraded = imaplib.IMAP4(imap_server.host, imap_server.port, timeout=5)
    upgraded.starttls(ssl_context=context)
    assert upgraded.login(imap_server.username, imap_server.password)[0] == "OK"
    upgraded.logout()
