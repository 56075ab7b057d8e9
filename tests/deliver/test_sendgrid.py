"""Delivery through a stand-in for SendGrid that checks every body against SendGrid's OpenAPI description."""

from __future__ import annotations

import json
import socket
from collections import defaultdict
from datetime import timedelta

import pytest

from comms.audience.profile import Profile
from comms.deliver.queue import recipient as ledger_recipient
from comms.deliver.sendgrid import SendgridTransport
from comms.deliver.transport import TransportUnavailable
from comms.deliver.transports import make_transport
from comms.editions import delivery, lifecycle, views
from comms.render.newsletter import blocks_for
from comms.store.editions import find_edition
from comms.store.models import Contact, Preference
from tests.deliver.conftest import EditionFactory
from tests.fakes.sendgrid import FakeSendGrid, rendered


def sendgrid_config(server: FakeSendGrid, **settings: object) -> str:
    values = {"api_host": server.url, "timeout_seconds": 2} | settings
    lines = [f"{k} = {json.dumps(v)}" for k, v in values.items()]  # TOML reads these JSON values
    return "[sendgrid]\n" + "\n".join(lines) + "\n[sendgrid.asm_groups]\nnewsletter = 4242\n"


@pytest.fixture
def sendgrid_key(sendgrid_server: FakeSendGrid, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COMMS_SENDGRID_API_KEY", sendgrid_server.api_key)
    return sendgrid_server.api_key


def make(approved_edition: EditionFactory, server: FakeSendGrid, recipients: int, **settings: object):  # type: ignore[no-untyped-def]
    return approved_edition(recipients, sendgrid_config(server, **settings), 'transport = "sendgrid"')


def send(edition):  # type: ignore[no-untyped-def]
    transport = make_transport(edition.service.config, edition.key, edition.clock)
    return delivery.send(edition.service, edition.key, transport, edition.clock), transport


@pytest.mark.slow
def test_5000_recipients_take_five_valid_requests(
    approved_edition: EditionFactory, sendgrid_server: FakeSendGrid, sendgrid_key: str
) -> None:
    edition = make(approved_edition, sendgrid_server, 5000)

    outcome, transport = send(edition)

    assert sendgrid_server.schema_violations == []
    assert len(sendgrid_server.requests) == transport.requests_made <= 5
    received = sendgrid_server.count_by_recipient()
    assert len(received) == 5000 and set(received.values()) == {1}
    assert outcome.counts["sent"] == 5000
    body = sendgrid_server.requests[0].body
    assert body["categories"] == ["newsletter"]
    assert body["asm"] == {"group_id": 4242}
    assert "mail_settings" not in body
    personalization = body["personalizations"][0]
    assert set(personalization["custom_args"]) == {"comms_edition", "comms_message", "comms_kind"}
    assert personalization["custom_args"]["comms_edition"] == "nieuwsbrief-2026-12"
    assert body["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"  # the same for all
    assert personalization["headers"]["List-Unsubscribe"].startswith(
        "<https://comms.ipo.example.org/afmelden/"
    )


# Every variant of the newsletter: provinces with and without news of their own, AV members or
# not, all themes or a choice; names that HTML-escaping changes (&, <, quotes) and that it does not.
NAMES = ["Zoë", "Anne & Co", "<b>Vet</b>", 'Kees "de Kat"', "d'Ancona", "Ümit 🎉", "Jan"]
VARIANT_PROVINCES = [("Fryslân", "fryslan"), ("Gelderland", "gelderland"), ("Zeeland", "zeeland"),
                     ("Noord-Brabant", "noord-brabant"), ("Utrecht", "utrecht")]  # fmt: skip
THEME_CHOICES = ["", "Landelijk Gebied", "Wonen & Bereikbaarheid, Financiën & Openbaar Bestuur"]


def variant_rows() -> str:
    rows = []
    for n, ((province, slug), roles, themes) in enumerate(
        (p, r, t)
        for p in VARIANT_PROVINCES
        for r in ("statenlid", "statenlid, av-lid")
        for t in THEME_CHOICES
    ):
        first, last = NAMES[n % len(NAMES)], NAMES[(n + 3) % len(NAMES)]
        rows.append(f"variant{n}@{slug}.example.org;{first};;{last};{province};{roles};;{themes}\n")
    return "".join(rows)


@pytest.mark.parametrize("sections", [False, True], ids=["substitutions", "sections"])
def test_each_recipient_sees_exactly_their_own_copy(
    approved_edition: EditionFactory, sendgrid_server: FakeSendGrid, sendgrid_key: str, sections: bool
) -> None:
    """The content as SendGrid renders it for each personalization is, byte for byte, the copy the
    outbox and SMTP would send."""
    edition = approved_edition(
        90,
        sendgrid_config(sendgrid_server, sections=sections),
        'transport = "sendgrid"',
        extra_rows=variant_rows(),
    )
    with edition.service.db.session() as session:
        session.add(
            Preference(
                email="lid5@zeeland.example.org", themes=",landelijk-gebied,", updated_at=edition.clock.now()
            )
        )

    outcome, _ = send(edition)

    assert sendgrid_server.schema_violations == [] and outcome.counts["sent"] == 120
    mailing = editions_mailing(edition)
    variants = set()
    themes_by_request: dict[int, set[frozenset[str]]] = defaultdict(set)
    for index, personalization in sendgrid_server.accepted_personalizations():
        body = sendgrid_server.requests[index].body
        email = personalization["to"][0]["email"]
        expected = expected_copy(
            edition, mailing, email, int(personalization["custom_args"]["comms_message"])
        )
        copy = rendered(body, personalization)
        assert copy["text/html"] == mailing.html.select(expected.blocks).fill(expected.values)
        assert copy["text/plain"] == mailing.text.select(expected.blocks).fill(expected.values)
        assert personalization["headers"]["List-Unsubscribe"] == expected.list_unsubscribe
        variants.add(expected.blocks)
        themes_by_request[index].add(frozenset(b for b in expected.blocks if b.startswith("thema:")))
    assert len(variants) >= 30  # 5 provinces × AV or not × 3 theme choices, and more
    assert all(len(themes) == 1 for themes in themes_by_request.values())  # a theme choice splits requests


@pytest.mark.parametrize(
    ("sections", "in_personalizations", "in_sections"),
    [(False, True, False), (True, False, True)],
    ids=["substitutions", "sections"],
)
def test_a_province_block_and_each_personal_value_travel_once(
    approved_edition: EditionFactory,
    sendgrid_server: FakeSendGrid,
    sendgrid_key: str,
    sections: bool,
    in_personalizations: bool,
    in_sections: bool,
) -> None:
    # Her own theme choice puts her in a request of her own; the others share one.
    rows = "anne@fryslan.example.org;Anne & Co;;Bakker;Fryslân;statenlid;;Landelijk Gebied\n"
    edition = approved_edition(
        40, sendgrid_config(sendgrid_server, sections=sections), 'transport = "sendgrid"', extra_rows=rows
    )

    send(edition)

    assert sendgrid_server.schema_violations == []
    [anne_body] = [r.body for r in sendgrid_server.requests if len(r.body["personalizations"]) == 1]
    [body] = [r.body for r in sendgrid_server.requests if len(r.body["personalizations"]) == 40]
    news = "Nieuws uit Fryslân"
    assert (
        any(news in json.dumps(p, ensure_ascii=False) for p in body["personalizations"])
        is in_personalizations
    )
    assert (news in json.dumps(body.get("sections", {}), ensure_ascii=False)) is in_sections
    for personalization in body["personalizations"]:
        assert not any(
            tag.startswith("@@t.") for tag in personalization["substitutions"]
        )  # one value, both parts
        assert set(personalization["headers"]) == {"List-Unsubscribe"}
    [anne] = anne_body["personalizations"]
    assert anne["substitutions"]["@@c.first_name@@"] == "Anne &amp; Co"  # the HTML part's value
    assert anne["substitutions"]["@@t.first_name@@"] == "Anne & Co"  # the text part's own
    assert "Beste Anne & Co" in rendered(anne_body, anne)["text/plain"]


def editions_mailing(edition):  # type: ignore[no-untyped-def]
    with edition.service.db.session() as session:
        row = find_edition(session, edition.key)
        return delivery.mailing_for(edition.service, row, edition.service.signer(), edition.clock.now())


def expected_copy(edition, mailing, email: str, ledger_id: int):  # type: ignore[no-untyped-def]
    with edition.service.db.session() as session:
        contact = session.query(Contact).filter_by(email=email).one()
        preference = session.query(Preference).filter_by(email=email).one_or_none()
        profile = Profile.from_columns(
            contact.province, contact.roles, preference.themes if preference else contact.themes
        )
        return mailing.message(ledger_recipient(ledger_id, contact), blocks_for(profile))


@pytest.mark.slow
def test_a_500_on_every_third_request_still_ends_with_one_copy_each(
    approved_edition: EditionFactory, sendgrid_server: FakeSendGrid, sendgrid_key: str
) -> None:
    edition = make(approved_edition, sendgrid_server, 5000, max_retries=0)
    sendgrid_server.fail_every = 3

    outcome, _ = send(edition)

    statuses = [status for _, status in sendgrid_server.exchanges]
    assert statuses.count(500) >= 2
    received = sendgrid_server.count_by_recipient()
    assert len(received) == 5000 and set(received.values()) == {1}
    assert outcome.counts["sent"] == 5000


def test_a_429_storm_waits_for_the_rate_limit_reset(
    approved_edition: EditionFactory, sendgrid_server: FakeSendGrid, sendgrid_key: str
) -> None:
    edition = make(approved_edition, sendgrid_server, 50)
    sendgrid_server.rate_limit_next = 4
    sendgrid_server.rate_limit_reset = int((edition.clock.now() + timedelta(seconds=30)).timestamp())

    outcome, _ = send(edition)

    assert [s for _, s in sendgrid_server.exchanges] == [429, 429, 429, 429, 202]
    assert edition.clock.slept >= 30  # waited for the reset (on the fake clock), not hammered
    assert outcome.counts["sent"] == 50


def test_a_wrong_api_key_stops_the_run_and_changes_no_message(
    approved_edition: EditionFactory, sendgrid_server: FakeSendGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMMS_SENDGRID_API_KEY", "SG.wrong")
    edition = make(approved_edition, sendgrid_server, 30)

    with pytest.raises(
        TransportUnavailable, match=r"SendGrid refused the API key \(401\).*COMMS_SENDGRID_API_KEY"
    ):
        send(edition)

    [report] = views.status(edition.service, edition.key)
    assert report.counts["pending"] == 30 and report.status == "sending"


@pytest.mark.parametrize(
    ("status", "body", "shown"),
    [
        (
            400,
            {
                "errors": [
                    {"message": "The from address does not match a verified Sender Identity", "field": "from"}
                ]
            },
            "SendGrid 400: The from address does not match a verified Sender Identity (field from)",
        ),
        (413, {"errors": [{"message": "Payload too large"}]}, "SendGrid 413: Payload too large"),
    ],
)
def test_a_refused_request_fails_its_messages_permanently_with_sendgrids_reason(
    approved_edition: EditionFactory,
    sendgrid_server: FakeSendGrid,
    sendgrid_key: str,
    status: int,
    body: dict,
    shown: str,
) -> None:
    edition = make(approved_edition, sendgrid_server, 10)
    sendgrid_server.status_override = status
    sendgrid_server.status_body = body

    outcome, _ = send(edition)

    assert outcome.counts["failed"] == 10
    [report] = views.status(edition.service, edition.key)
    assert report.failures == [(shown, 10)]


def deliver_round(edition):  # type: ignore[no-untyped-def]
    """One worker round: what is due now, no waiting for retries."""
    transport = make_transport(edition.service.config, edition.key, edition.clock)
    return delivery.deliver_edition(
        edition.service, edition.key, transport, edition.clock, wait_for_retries=False
    )


def test_a_request_sendgrid_never_answers_is_uncertain_and_sent_once_more_only_after_the_delay(
    approved_edition: EditionFactory, sendgrid_server: FakeSendGrid, sendgrid_key: str
) -> None:
    edition = make(approved_edition, sendgrid_server, 10, timeout_seconds=0.5)
    sendgrid_server.hang_next = 1  # received in full, never answered: it may have been accepted
    lifecycle.start_sending(edition.service, edition.key, edition.clock)

    first = deliver_round(edition)

    assert first.counts["uncertain"] == 10 and first.counts["sent"] == first.counts["pending"] == 0
    assert sendgrid_server.received == 1  # not sent again at once
    [report] = views.status(edition.service, edition.key)
    [(reason, count)] = report.uncertainties
    assert count == 10 and reason.startswith("uncertain: SendGrid gave no answer")

    edition.clock.sleep(3599)
    assert deliver_round(edition).delivered_now == 0 and sendgrid_server.received == 1

    edition.clock.sleep(1)
    last = deliver_round(edition)

    assert last.counts["sent"] == 10 and sendgrid_server.received == 2
    assert set(sendgrid_server.count_by_recipient().values()) == {1}  # the fake dropped the first
    assert views.status(edition.service, edition.key)[0].status == "sent"


def test_a_request_that_never_reached_sendgrid_is_tried_again_at_once(
    approved_edition: EditionFactory, sendgrid_server: FakeSendGrid, sendgrid_key: str
) -> None:
    with socket.socket() as closed:  # a port nobody listens on: the connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    edition = make(approved_edition, sendgrid_server, 3, api_host=f"http://127.0.0.1:{port}", max_retries=2)
    lifecycle.start_sending(edition.service, edition.key, edition.clock)
    transport = make_transport(edition.service.config, edition.key, edition.clock)
    assert isinstance(transport, SendgridTransport)

    outcome = delivery.deliver_edition(
        edition.service, edition.key, transport, edition.clock, wait_for_retries=False
    )

    assert transport.requests_made == 3  # never received, so safe to send again: not uncertain
    assert outcome.counts["uncertain"] == 0  # a transient failure: the queue retries it as usual
    [report] = views.status(edition.service, edition.key)
    assert report.status == "sending" and not report.uncertainties
    [(reason, count)] = report.failures
    assert count == 3 and reason.startswith("SendGrid 0: network error")


def test_dry_run_uses_the_sandbox_and_leaves_the_ledger_alone(
    approved_edition: EditionFactory, sendgrid_server: FakeSendGrid, sendgrid_key: str
) -> None:
    edition = make(approved_edition, sendgrid_server, 30)
    transport = make_transport(edition.service.config, edition.key, edition.clock, dry_run=True)
    assert isinstance(transport, SendgridTransport)

    outcome = delivery.dry_run(edition.service, edition.key, transport, edition.clock)

    assert outcome.accepted == 30 and outcome.failures == []
    assert all(
        r.body["mail_settings"] == {"sandbox_mode": {"enable": True}} for r in sendgrid_server.requests
    )
    [report] = views.status(edition.service, edition.key)
    assert sum(report.counts.values()) == 0 and report.status == "approved"


def test_international_addresses_go_as_punycode_and_a_non_ascii_local_part_fails_alone(
    approved_edition: EditionFactory, sendgrid_server: FakeSendGrid, sendgrid_key: str
) -> None:
    rows = (
        "jan@xn--bcher-kva.example;Jan;;Bakker;Utrecht;statenlid;;\n"
        "anna@bücher.example;Anna;;de Vries;Zeeland;statenlid;;\n"
        "jörg@example.org;Jörg;;Müller;Limburg;statenlid;;\n"
    )
    edition = approved_edition(
        20, sendgrid_config(sendgrid_server), 'transport = "sendgrid"', extra_rows=rows
    )

    outcome, _ = send(edition)

    assert sendgrid_server.schema_violations == []
    received = sendgrid_server.count_by_recipient()
    assert received["jan@xn--bcher-kva.example"] == received["anna@xn--bcher-kva.example"] == 1
    assert set(received.values()) == {1} and len(received) == 22
    assert not any("jörg" in address for address in received)  # never in a request
    assert outcome.counts["sent"] == 22 and outcome.counts["failed"] == 1
    assert outcome.counts["claimed"] == outcome.counts["pending"] == 0
    [report] = views.status(edition.service, edition.key)
    [(reason, count)] = report.failures
    assert count == 1 and "jörg@example.org has non-ASCII characters before the @" in reason
    assert reason.endswith("SendGrid offers no SMTPUTF8")
    assert report.status == "sent"


def test_a_message_that_cannot_be_built_fails_alone_and_its_request_goes_out(
    approved_edition: EditionFactory, sendgrid_server: FakeSendGrid, sendgrid_key: str
) -> None:
    edition = make(approved_edition, sendgrid_server, 30)
    with edition.service.db.session() as session:
        session.add(
            Contact(
                public_id="poison0000000001", email="piet@bü\u200dcher.example", first_name="Piet", infix="",
                last_name="Gif", province="Utrecht", roles=",statenlid,", themes=",", active=True,
                source_file="oud", updated_at=edition.clock.now(),
            )
        )  # fmt: skip

    outcome, _ = send(edition)

    assert len(sendgrid_server.count_by_recipient()) == 30
    assert outcome.counts["sent"] == 30 and outcome.counts["failed"] == 1
    [report] = views.status(edition.service, edition.key)
    [(reason, _)] = report.failures
    assert reason.startswith("cannot be sent: the domain")
    assert report.status == "sent"
