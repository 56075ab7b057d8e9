"""What a message in the bounce mailbox is: only our signed identifiers name a recipient."""

from __future__ import annotations

import pytest

from comms.track.bounces import Verdict
from comms.track.reports import read_report
from comms.track.verp import ReturnPaths
from tests.conftest import SECRET
from tests.track import samples

PATHS = ReturnPaths("bounces@ipo.example.org", SECRET)
VERP = PATHS.envelope_sender(42)
OURS = "Message-ID: <nieuwsbrief-2026-12.0123456789abcdef@ipo.example.org>\nSubject: IPO-nieuwsbrief"
THEIRS = "Message-ID: <abc@elsewhere.example.net>\nSubject: something else"
FORGED = "bounces+16-00000000000000000000@ipo.example.org"
MAILTO = (
    "mailto:afmelden@ipo.example.org?subject=afmelden%20dTEuYWJjZGVmMTIzNDU2Nzg5MA.c2lnbmF0dXJlMTIzNDU2Nzg"
)


@pytest.mark.parametrize(
    ("raw", "kind", "ledger_id", "reference", "verdict"),
    [
        pytest.param(samples.dsn(VERP), "bounce", 42, None, Verdict.HARD, id="dsn-to-verp"),
        pytest.param(samples.dsn(VERP.upper()), "bounce", 42, None, Verdict.HARD, id="verp-upper-cased"),
        pytest.param(
            samples.dsn(VERP, "5.2.2", "smtp; 552 5.2.2 Mailbox full"),
            "bounce",
            42,
            None,
            Verdict.SOFT,
            id="full",
        ),
        pytest.param(
            samples.dsn(VERP, "5.7.1", "smtp; 550 5.7.1 Spam"),
            "bounce",
            42,
            None,
            Verdict.ABOUT_US,
            id="policy",
        ),
        pytest.param(samples.dsn(VERP, "5.1.1", None), "bounce", 42, None, Verdict.HARD, id="status-only"),
        pytest.param(
            samples.dsn(VERP, "4.4.7", "smtp; 451 4.4.7 expired"),
            "bounce",
            42,
            None,
            Verdict.SOFT,
            id="gave-up",
        ),
        pytest.param(
            samples.dsn(VERP, "4.2.2", None, action="delayed"), "ignored", 42, None, None, id="delayed"
        ),
        pytest.param(
            samples.dsn("bounces@ipo.example.org", original_headers=OURS),
            "bounce",
            None,
            ("nieuwsbrief-2026-12", "0123456789abcdef"),
            Verdict.HARD,
            id="no-verp-our-message-id",
        ),
        pytest.param(
            samples.dsn(FORGED, original_headers=THEIRS), "unreadable", None, None, None, id="forged"
        ),
        pytest.param(
            samples.plain_bounce(VERP, "Remote host said: 550 5.1.1 no such user"),
            "bounce",
            42,
            None,
            Verdict.HARD,
            id="qmail-style",
        ),
        pytest.param(samples.plain_bounce(VERP, "It is gone."), "unreadable", 42, None, None, id="no-status"),
        pytest.param(samples.auto_reply(VERP), "ignored", None, None, None, id="auto-reply"),
        pytest.param(
            samples.arf("abuse@ipo.example.org", f"Return-Path: <{VERP}>\n{OURS}\n\nbody"),
            "complaint",
            42,
            ("nieuwsbrief-2026-12", "0123456789abcdef"),
            None,
            id="arf",
        ),
        pytest.param(
            samples.arf("abuse@ipo.example.org", THEIRS), "unreadable", None, None, None, id="arf-not-ours"
        ),
        pytest.param(
            samples.unsubscribe_mail(MAILTO, "x@example.org"), "unsubscribe", None, None, None, id="mailto"
        ),
        pytest.param(b"\xff\xfe garbage \x00\r\n\r\n", "unreadable", None, None, None, id="garbage"),
        pytest.param(b"", "unreadable", None, None, None, id="empty"),
    ],
)
def test_what_each_message_is(
    raw: bytes, kind: str, ledger_id: int | None, reference: tuple[str, str] | None, verdict: Verdict | None
) -> None:
    report = read_report(raw, PATHS)

    assert report.kind == kind, report.reason
    assert report.original.ledger_id == ledger_id
    assert report.original.message_ref == reference
    assert (report.reply.verdict(given_up=True) if report.reply else None) == verdict


def test_the_unsubscribe_token_is_taken_from_the_subject() -> None:
    report = read_report(samples.unsubscribe_mail(MAILTO, "x@example.org"), PATHS)
    assert report.token == "dTEuYWJjZGVmMTIzNDU2Nzg5MA.c2lnbmF0dXJlMTIzNDU2Nzg"


def test_the_same_message_has_the_same_key() -> None:
    assert read_report(samples.dsn(VERP), PATHS).key == read_report(samples.dsn(VERP), PATHS).key
    assert read_report(samples.dsn(VERP), PATHS).key != read_report(samples.dsn(VERP, "5.1.2"), PATHS).key


def test_verp_addresses_round_trip_and_refuse_forgeries() -> None:
    assert PATHS.envelope_sender(42).startswith("bounces+16-")
    assert PATHS.ledger_id(PATHS.envelope_sender(123456789)) == 123456789
    assert PATHS.ledger_id(FORGED) is None
    assert PATHS.ledger_id(VERP.replace("ipo.example.org", "other.example.org")) is None
    assert ReturnPaths("bounces@ipo.example.org", SECRET + "x").ledger_id(VERP) is None
