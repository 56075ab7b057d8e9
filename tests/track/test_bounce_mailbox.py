"""The bounce mailbox end to end: a newsletter goes out over SMTP with VERP return paths, the
bounce, the complaint and the mailto unsubscribe come back through a real IMAP server
(Dovecot on loopback), and the next edition skips those contacts."""

from __future__ import annotations

import dataclasses
import imaplib
import threading
from collections import Counter
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from comms import serve as serve_module
from comms.cli import main
from comms.clock import FixedClock
from comms.config import load_config
from comms.deliver.transports import make_transport
from comms.editions import delivery, proofs
from comms.operations.bounces import MailboxOutcome, apply_report, read_bounce_mailbox
from comms.store.models import Contact, Suppression
from comms.tokens import Purpose
from comms.track.mailbox import HANDLED, UNREADABLE, BounceMailbox, MailboxUnavailable
from comms.track.reports import IncomingReport
from comms.track.suppressions import EVERY_KIND, HARD_BOUNCE, SPAM_REPORT, UNSUBSCRIBED
from comms.track.verp import ReturnPaths
from tests.conftest import SECRET
from tests.deliver.conftest import NOW, Edition, EditionFactory
from tests.fakes.imap import DovecotServer
from tests.fakes.smtp import FakeSMTPServer, ReceivedMessage
from tests.track import samples
from tests.track.support import ledger_status, send_next_edition

BOUNCED, COMPLAINED, LEFT, REFUSED_US = (
    "lid0@utrecht.example.org",
    "lid1@zeeland.example.org",
    "lid2@fryslan.example.org",
    "lid3@gelderland.example.org",
)


def config(smtp: FakeSMTPServer, imap: DovecotServer, **bounces: object) -> str:
    settings = {
        "address": "bounces@ipo.example.org",
        "imap_host": imap.host,
        "imap_port": imap.port,
        "imap_security": "starttls",
        "imap_ca_file": str(imap.tls.cert_path),
        "imap_username": imap.username,
    } | bounces
    lines = [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}" for k, v in settings.items()]
    return (
        f'[smtp]\nhost = "{smtp.host}"\nport = {smtp.port}\nsecurity = "none"\ntimeout_seconds = 5\n\n'
        "[bounces]\n" + "\n".join(lines) + "\n"
    )


@pytest.fixture
def sent(
    approved_edition: EditionFactory,
    smtp_server: FakeSMTPServer,
    imap_server: DovecotServer,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Edition, dict[str, ReceivedMessage]]:
    """December's newsletter to 8 Statenleden, sent over SMTP; what the relay received, by address."""
    monkeypatch.setenv("COMMS_BOUNCES_IMAP_PASSWORD", imap_server.password)
    edition = approved_edition(8, config(smtp_server, imap_server), 'transport = "smtp"')
    transport = make_transport(edition.service.config, edition.key, edition.clock, ledger=True)
    outcome = delivery.send(edition.service, edition.key, transport, edition.clock)
    assert outcome.counts["sent"] == 8
    return edition, {m.rcpt_tos[0]: m for m in smtp_server.messages}


def mailto(received: ReceivedMessage) -> str:
    header = str(message_from_bytes(received.raw, policy=policy.default)["List-Unsubscribe"])
    return next(part.strip(" <>") for part in header.split(",") if "mailto:" in part)


def suppressions(edition: Edition) -> set[tuple[str, str, str]]:
    with edition.service.db.session() as session:
        return {(s.email, s.scope, s.reason) for s in session.query(Suppression)}


def test_every_message_has_its_own_signed_return_path(
    sent: tuple[Edition, dict[str, ReceivedMessage]],
) -> None:
    _, received = sent
    paths = ReturnPaths("bounces@ipo.example.org", SECRET)
    ledger_ids = {paths.ledger_id(m.mail_from) for m in received.values()}

    assert None not in ledger_ids and len(ledger_ids) == 8
    assert all(
        m.mail_from.startswith("bounces+") and m.mail_from.endswith("@ipo.example.org")
        for m in received.values()
    )


def test_bounce_complaint_and_mailto_unsubscribe_through_imap_keep_them_out_of_the_next_edition(
    sent: tuple[Edition, dict[str, ReceivedMessage]], imap_server: DovecotServer, smtp_server: FakeSMTPServer
) -> None:
    edition, received = sent
    service = edition.service
    bounced, complained = received[BOUNCED], received[COMPLAINED]
    imap_server.deliver(
        samples.dsn(
            bounced.mail_from, original_headers=samples.original_headers(bounced.raw, bounced.mail_from)
        )
    )
    imap_server.deliver(
        samples.arf("abuse@ipo.example.org", samples.original_message(complained.raw, complained.mail_from))
    )
    imap_server.deliver(samples.unsubscribe_mail(mailto(received[LEFT]), LEFT))
    refused = received[REFUSED_US].mail_from
    imap_server.deliver(samples.dsn(refused, "5.7.1", "smtp; 550 5.7.1 Message rejected as spam"))
    imap_server.deliver(samples.auto_reply(received["lid4@utrecht.example.org"].mail_from))
    imap_server.deliver(b"From: someone@example.net\r\nSubject: Vraag\r\n\r\nWanneer is de volgende AV?\r\n")

    outcome = read_bounce_mailbox(service, FixedClock(NOW + timedelta(days=1)))

    assert outcome.read == Counter(
        {"bounce (hard)": 1, "complaint": 1, "unsubscribe": 1, "bounce (about us)": 1, "ignored": 1}
    )
    assert outcome.unreadable == ["not a DSN, complaint or unsubscribe request"]
    assert outcome.suppressed == 3
    assert suppressions(edition) == {
        (BOUNCED, EVERY_KIND, HARD_BOUNCE),
        (COMPLAINED, EVERY_KIND, SPAM_REPORT),
        (LEFT, "newsletter", UNSUBSCRIBED),
    }
    flags = imap_server.flags()
    assert sum(HANDLED in f and "\\Seen" in f for f in flags) == 5
    set_aside = [f for f in flags if UNREADABLE in f]
    assert len(set_aside) == 1 and "\\Seen" not in set_aside[0]  # still unread, for a person

    again = read_bounce_mailbox(service, FixedClock(NOW + timedelta(days=1, hours=1)))
    assert again.read == Counter() and again.unreadable == []  # each message is read once

    smtp_server.reset()
    january = send_next_edition(service, NOW + timedelta(days=31))

    sent_to = set(smtp_server.count_by_recipient())
    assert sent_to == set(received) - {BOUNCED, COMPLAINED, LEFT}
    assert january.counts["sent"] == 5 and january.counts["suppressed"] == 3
    for address in (BOUNCED, COMPLAINED, LEFT):
        assert ledger_status(service, january.edition_key, address) == "suppressed"
    assert ledger_status(service, january.edition_key, REFUSED_US) == "sent"


@pytest.mark.parametrize("server_moves", [True, False], ids=["MOVE", "COPY-and-expunge"])
def test_handled_mail_is_moved_when_a_folder_is_set(
    approved_edition: EditionFactory,
    smtp_server: FakeSMTPServer,
    imap_server: DovecotServer,
    monkeypatch: pytest.MonkeyPatch,
    server_moves: bool,
) -> None:
    monkeypatch.setenv("COMMS_BOUNCES_IMAP_PASSWORD", imap_server.password)
    if not server_moves:  # an older server: what Dovecot announces, without MOVE
        announced = BounceMailbox.capabilities_after_login

        def without_move(mailbox: BounceMailbox, imap: imaplib.IMAP4) -> frozenset[str]:
            return announced(mailbox, imap) - {"MOVE"}

        monkeypatch.setattr(BounceMailbox, "capabilities_after_login", without_move)
    extra = config(smtp_server, imap_server, imap_handled_folder="Verwerkt", imap_security="none")
    edition = approved_edition(2, extra, 'transport = "smtp"')
    delivery.send(
        edition.service,
        edition.key,
        make_transport(edition.service.config, edition.key, edition.clock, ledger=True),
        edition.clock,
    )
    message = smtp_server.messages[0]
    imap_server.deliver(samples.dsn(message.mail_from, "5.2.2", "smtp; 552 5.2.2 Mailbox full"))

    outcome = read_bounce_mailbox(edition.service, edition.clock)

    assert outcome.read == Counter({"bounce (soft)": 1}) and outcome.suppressed == 0
    assert imap_server.flags("INBOX") == []
    [moved] = imap_server.flags("Verwerkt")
    assert HANDLED in moved


@pytest.mark.parametrize(
    ("setting", "reason"),
    [
        ({"imap_security": "tls", "imap_port": 1}, "bounce mailbox 127.0.0.1:1"),
        ({"imap_folder": "Bestaat-niet"}, "cannot select the folder"),
    ],
)
def test_a_mailbox_that_cannot_be_used_is_reported_not_a_crash(
    approved_edition: EditionFactory,
    smtp_server: FakeSMTPServer,
    imap_server: DovecotServer,
    monkeypatch: pytest.MonkeyPatch,
    setting: dict[str, object],
    reason: str,
) -> None:
    monkeypatch.setenv("COMMS_BOUNCES_IMAP_PASSWORD", imap_server.password)
    edition = approved_edition(1, config(smtp_server, imap_server, **setting), 'transport = "smtp"')

    with pytest.raises(MailboxUnavailable, match=reason):
        read_bounce_mailbox(edition.service, edition.clock)


def test_a_wrong_password_is_reported(
    approved_edition: EditionFactory,
    smtp_server: FakeSMTPServer,
    imap_server: DovecotServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COMMS_BOUNCES_IMAP_PASSWORD", "wrong")
    edition = approved_edition(1, config(smtp_server, imap_server), 'transport = "smtp"')

    with pytest.raises(MailboxUnavailable, match=r"AUTHENTICATIONFAILED|Authentication failed"):
        read_bounce_mailbox(edition.service, edition.clock)


def test_the_read_command_reports_what_it_set_aside(
    sent: tuple[Edition, dict[str, ReceivedMessage]], imap_server: DovecotServer
) -> None:
    edition, received = sent
    imap_server.deliver(samples.dsn(received[BOUNCED].mail_from))
    imap_server.deliver(b"Subject: hallo\r\n\r\nniets\r\n")
    config_path = Path(edition.service.config.path)

    result = CliRunner().invoke(main, ["--config", str(config_path), "bounces", "read"])

    assert result.exit_code == 1, result.output
    assert "bounce (hard) 1" in result.output and "1 address(es) suppressed" in result.output
    assert "set aside (left unread in the mailbox): not a DSN" in result.output
    assert BOUNCED not in result.output  # no addresses in what operators read


def test_comms_serve_reads_the_mailbox_every_poll_and_outlives_a_broken_one(
    sent: tuple[Edition, dict[str, ReceivedMessage]],
    imap_server: DovecotServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    edition, received = sent
    service = edition.service
    service.config = dataclasses.replace(
        service.config, bounces=dataclasses.replace(service.config.bounces, poll_seconds=0.05)
    )
    stop = threading.Event()
    reader = threading.Thread(target=serve_module._read_bounces, args=(service, edition.clock, stop))
    imap_server.stop()  # the mailbox is away at first: logged, and tried again next round
    restarted = DovecotServer(imap_server.tls)
    restarted.port, restarted.tls_port, restarted.password = (
        imap_server.port,
        imap_server.tls_port,
        imap_server.password,
    )
    reader.start()
    try:
        restarted.start()
        restarted.deliver(samples.dsn(received[BOUNCED].mail_from))
        for _ in range(200):  # a real poll loop: wait for it, bounded (10 s)
            if suppressions(edition):
                break
            stop.wait(0.05)
    finally:
        stop.set()
        reader.join(timeout=10)
        restarted.stop()

    assert not reader.is_alive()
    assert suppressions(edition) == {(BOUNCED, EVERY_KIND, HARD_BOUNCE)}
    assert "bounce mailbox not read: bounce mailbox 127.0.0.1" in caplog.text
    assert BOUNCED not in caplog.text  # no addresses in the log


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ('address = "bounces"', "[bounces] address is not an e-mail address"),
        ('address = "bounces+x@ipo.example.org"', "must not hold a '+'"),
        ('imap_security = "ssl"', "imap_security must be one of tls, starttls, none"),
        ("soft_bounce_limit = 0", "must be 1 or more"),
        ('imap_host = "imap.example.org"', "imap_host needs imap_username"),
        ('imap_port = "993"', "imap_port"),
        ("imap_passwort = 1", "imap_passwort"),
    ],
)
def test_bounce_settings_are_checked(project: Path, settings: str, problem: str) -> None:
    path = project / "comms.toml"
    path.write_text(path.read_text() + f"\n[bounces]\n{settings}\n")

    config, problems = load_config(path)

    assert config is None
    assert any(problem in str(p) for p in problems), [str(p) for p in problems]


def test_a_test_copy_has_no_return_path_that_could_name_a_ledger_row(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer, imap_server: DovecotServer
) -> None:
    edition = approved_edition(2, config(smtp_server, imap_server), 'transport = "smtp"')

    proofs.send_proofs(edition.service, edition.key, ["redactie@ipo.example.org"], edition.clock)

    [copy] = smtp_server.messages
    assert copy.mail_from == "nieuwsbrief@ipo.example.org"  # its From: its ids are not ledger rows


@pytest.mark.parametrize(("kind", "told"), [("agenda-digest", True), ("newsletter", False)])
def test_a_mailto_unsubscribe_from_forward_safe_mail_is_told_to_the_owner_once(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer, kind: str, told: bool
) -> None:
    smtp = f'[smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\nsecurity = "none"\n'
    edition = approved_edition(2, smtp, 'transport = "smtp"')
    service = edition.service
    with service.db.session() as session:
        contact = session.query(Contact).order_by(Contact.id).first()
        assert contact is not None
        email, public_id = contact.email, contact.public_id
    # The mailto of a forwarded digest's List-Unsubscribe, sent by whoever read its headers.
    token = service.signer().sign(Purpose.UNSUBSCRIBE, public_id, kind, NOW + timedelta(days=400))
    outcome = MailboxOutcome()

    for key in ("first", "again"):  # a second request finds her unsubscribed: no second notice
        assert apply_report(service, IncomingReport("unsubscribe", key, token=token), NOW, outcome) is None

    assert suppressions(edition) == {(email, kind, UNSUBSCRIBED)}
    assert [m.rcpt_tos for m in smtp_server.messages] == ([(email,)] if told else [])
    if told:
        notice = smtp_server.messages[0].message
        assert notice["Subject"] == "U bent afgemeld voor het wekelijkse agendaoverzicht voor griffies"
        assert "/afmelding-ongedaan/" in notice.get_body(("plain",)).get_content()
