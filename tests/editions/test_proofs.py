"""`comms test-send`: a marked copy to the named addresses only, the ledger untouched."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner

from comms.cli import main
from comms.deliver.transports import make_transport
from comms.editions import delivery, views
from comms.editions.proofs import MAX_ADDRESSES, check_addresses, send_proofs
from comms.problems import ValidationFailed
from comms.store.editions import find_edition
from tests.deliver.conftest import Edition as Sending
from tests.deliver.conftest import EditionFactory
from tests.fakes.smtp import FakeSMTPServer

TEAM = ["redactie@ipo.example.org", "Communicatie@IPO.example.org"]
SMTP = 'transport = "smtp"'


def smtp_settings(server: FakeSMTPServer) -> str:
    return f'[smtp]\nhost = "{server.host}"\nport = {server.port}\nsecurity = "none"\n'


def set_status(edition: Sending, status: str) -> None:
    with edition.service.db.session() as session:
        find_edition(session, edition.key).status = status


def ledger(edition: Sending) -> dict[str, int]:
    [report] = views.status(edition.service, edition.key)
    return {status: n for status, n in report.counts.items() if n}


def parts(message: EmailMessage) -> tuple[str, str]:
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    return html.get_content(), text.get_content()


@pytest.mark.parametrize(
    ("status", "shown"),
    [
        ("draft", "concept"),
        ("approved", "goedgekeurd"),
        ("sending", "wordt verstuurd"),
        ("sent", "verstuurd"),
    ],
)
def test_a_marked_copy_with_every_block_goes_to_the_named_addresses_only(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer, status: str, shown: str
) -> None:
    edition = approved_edition(20, smtp_settings(smtp_server), SMTP)
    set_status(edition, status)

    outcome = send_proofs(edition.service, edition.key, TEAM, edition.clock)

    assert outcome.delivered == ["redactie@ipo.example.org", "Communicatie@ipo.example.org"]
    assert (
        outcome.failed == [] and outcome.destination == f"SMTP server {smtp_server.host}:{smtp_server.port}"
    )
    # Over parallel connections the relay may receive them in either order.
    assert sorted(m.rcpt_tos for m in smtp_server.messages) == sorted((a,) for a in outcome.delivered)
    preview_html, preview_text = views.preview(edition.service, edition.key, None)
    for received in smtp_server.messages:
        message = received.message
        assert message["Subject"] == "[TEST] IPO-nieuwsbrief voor Statenleden – december 2026"
        assert message["To"] == received.rcpt_tos[0]  # no name: nobody's personal data
        assert message["Message-ID"].startswith(f"<{edition.key}-test.")
        # Not a list: no List-Unsubscribe that could not work, and the body's links are examples.
        assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None
        assert message["List-Id"] is None
        html, text = (part.replace("\r\n", "\n") for part in parts(message))
        notice = f"Dit is een testversie van „IPO-nieuwsbrief voor Statenleden – december 2026” (editie {edition.key}, status: {shown}) en is niet verstuurd aan de ontvangers."  # noqa: E501
        assert " ".join(text.split()).startswith("TESTVERSIE – " + notice)  # wrapped in the text
        # Exactly the preview with every block and the sample values, plus the notice on top.
        assert text.endswith(preview_text.replace("\r\n", "\n"))
        start, end = html.index('<div role="note"'), html.index("</div>", html.index('<div role="note"')) + 6
        assert notice in html[start:end] and html[:start].rstrip().endswith(">")
        assert html[:start] + html[end:] == preview_html.replace("\r\n", "\n")
    assert ledger(edition) == {} and _status(edition) == status  # the ledger never saw them


def _status(edition: Sending) -> str:
    with edition.service.db.session() as session:
        return find_edition(session, edition.key).status


def test_the_real_send_afterwards_is_unaffected(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer
) -> None:
    edition = approved_edition(20, smtp_settings(smtp_server), SMTP)
    send_proofs(edition.service, edition.key, ["lid2@fryslan.example.org"], edition.clock)  # a recipient too
    transport = make_transport(edition.service.config, edition.key, edition.clock)

    outcome = delivery.send(edition.service, edition.key, transport, edition.clock)

    assert outcome.counts["sent"] == 20 and outcome.is_complete
    real = [m for m in smtp_server.messages if not m.message["Subject"].startswith("[TEST]")]
    assert len(real) == 20 and len({m.rcpt_tos for m in real}) == 20
    test_copy = smtp_server.messages[0].message
    copy_of_lid2 = next(m.message for m in real if m.rcpt_tos == ("lid2@fryslan.example.org",))
    assert test_copy["Message-ID"] != copy_of_lid2["Message-ID"]  # not taken for a duplicate


def test_the_outbox_copy_has_a_folder_of_its_own(approved_edition: EditionFactory) -> None:
    edition = approved_edition(5)
    outbox = edition.service.outbox_dir

    outcome = send_proofs(edition.service, edition.key, TEAM[:1], edition.clock)

    [eml] = list((outbox / f"{edition.key}-test" / "messages").glob("*.eml"))
    assert outcome.destination == f"outbox {outbox / f'{edition.key}-test' / 'messages'}"
    assert message_from_bytes(eml.read_bytes(), policy=policy.default)["To"] == TEAM[0]
    assert not (outbox / edition.key).exists()


@pytest.mark.parametrize(
    ("addresses", "reason"),
    [
        (["Redactie <redactie@ipo.example.org>"], "not a plain address"),
        (["redactie@ipo.example.org\r\nBcc: iedereen@example.org"], "line break"),
        (["redactie@ipo.example.org\nSubject: x"], "line break"),
        (["redactie@ipo.example.org, lid1@zeeland.example.org"], "not a plain address"),
        (["redactie"], "not a plain address"),
        (["redactie@localhost"], "should have a period"),
        (["rédactie@ipo.example.org"], "not a plain address"),
        ([f"lid{n}@ipo.example.org" for n in range(MAX_ADDRESSES + 1)], "at most 10 addresses, got 11"),
        (["redactie@ipo.example.org", "kapot@"], "'kapot@'"),
        ([], "at least one address"),
    ],
)
def test_bad_addresses_are_refused_each_with_its_reason(addresses: list[str], reason: str) -> None:
    with pytest.raises(ValidationFailed, match=reason):
        check_addresses(addresses)


def test_good_addresses_are_normalised_and_repeats_dropped() -> None:
    given = ["redactie@IPO.example.org", "Redactie@ipo.example.org", "lid1@zeeland.example.org"]

    assert check_addresses(given) == ["redactie@ipo.example.org", "lid1@zeeland.example.org"]


def test_one_bad_address_among_good_ones_sends_nothing(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer
) -> None:
    edition = approved_edition(5, smtp_settings(smtp_server), SMTP)

    with pytest.raises(ValidationFailed, match="line break"):
        send_proofs(
            edition.service, edition.key, [*TEAM, "a@ipo.example.org\r\nBcc: x@example.org"], edition.clock
        )

    assert smtp_server.messages == []


@pytest.mark.parametrize("status", ["held", "cancelled"])
def test_an_edition_without_sendable_content_has_no_test_copy(
    approved_edition: EditionFactory, smtp_server: FakeSMTPServer, status: str
) -> None:
    edition = approved_edition(5, smtp_settings(smtp_server), SMTP)
    set_status(edition, status)

    with pytest.raises(ValidationFailed, match=f"no test copy: the edition is {status}"):
        send_proofs(edition.service, edition.key, TEAM, edition.clock)

    assert smtp_server.messages == []


def test_the_command_says_where_the_copies_went(approved_edition: EditionFactory, project: Path) -> None:
    edition = approved_edition(5)
    run = CliRunner().invoke

    sent = run(
        main,
        ["--config", str(project / "comms.toml"), "test-send", edition.key, "--to", TEAM[0], "--by", "els"],
    )
    refused = run(
        main,
        [
            "--config",
            str(project / "comms.toml"),
            "test-send",
            edition.key,
            "--to",
            "x\ny@a.nl",
            "--by",
            "els",
        ],
    )

    assert sent.exit_code == 0, sent.output
    assert f"test copy of {edition.key} sent to {TEAM[0]} (outbox " in sent.output
    assert f"{edition.key}-test" in sent.output
    assert refused.exit_code == 1 and "line break" in refused.output and "nothing was sent" in refused.output
    assert _status(edition) == "approved" and ledger(edition) == {}
