from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, message_from_string, policy
from urllib.parse import unquote

import pytest

from comms.config import Sender
from comms.render.address import AddressError
from comms.render.message import Mailing, MailingIdentity, Recipient
from comms.render.personalise import Personaliser, marker
from comms.render.templates import Rendered
from comms.tokens import InvalidToken, Purpose, Signer

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
SIGNER = Signer("x" * 40)
HTML = (
    f"<html><body><p>Beste {marker('first_name')},</p><p>Ä é — {'lang ' * 40}</p>"
    f'<a href="{marker("unsubscribe_url")}">Afmelden</a>'
    f'<a href="{marker("preferences_url")}">Voorkeuren</a></body></html>'
)
TEXT = f"Beste {marker('first_name')},\n\nAfmelden: {marker('unsubscribe_url')}\n"


def builder(bulk: bool = True) -> Mailing:
    identity = MailingIdentity(
        edition_key="nieuwsbrief-2026-12",
        kind="newsletter",
        subject="IPO-nieuwsbrief voor Statenleden – december 2026",
        sender=Sender("IPO", "nieuwsbrief@ipo.example.org", "statenleden@ipo.example.org"),
        list_name="IPO-nieuwsbrief voor Statenleden",
        list_id="nieuwsbrief-statenleden",
        base_url="https://comms.ipo.example.org",
        bulk=bulk,
    )
    return Mailing(identity, Rendered(HTML, TEXT), SIGNER, NOW)


def recipient(**changes: str) -> Recipient:
    values = {
        "public_id": "a1b2c3d4e5f60718",
        "email": "anna.de.vries@utrecht.example.org",
        "first_name": "Anna",
        "display_name": "Anna de Vries",
    }
    values.update(changes)
    return Recipient(ledger_id=7, **values)  # type: ignore[arg-type]


def parse(data: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(data, policy=policy.default)


def test_message_is_multipart_alternative_with_every_required_header() -> None:
    message = parse(builder().message(recipient(), frozenset()).data)

    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["From"] == "IPO <nieuwsbrief@ipo.example.org>"
    assert message["To"] == "Anna de Vries <anna.de.vries@utrecht.example.org>"
    assert message["Subject"] == "IPO-nieuwsbrief voor Statenleden – december 2026"
    assert message["Date"].datetime == NOW
    assert message["Message-ID"] == "<nieuwsbrief-2026-12.a1b2c3d4e5f60718@ipo.example.org>"
    assert message["List-Id"] == "IPO-nieuwsbrief voor Statenleden <nieuwsbrief-statenleden.ipo.example.org>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = (part.strip(" <>") for part in message["List-Unsubscribe"].split(","))
    assert https.startswith("https://comms.ipo.example.org/afmelden/")
    assert mailto.startswith("mailto:afmelden@ipo.example.org?subject=")
    assert message.defects == []


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "to-one-person"])
def test_only_bulk_mail_carries_the_list_headers(bulk: bool) -> None:
    message = parse(builder(bulk).message(recipient(), frozenset()).data)
    for name in ("List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert (name in message) is bulk, name
    assert message.defects == []


def test_personal_values_land_in_both_parts_and_links_carry_signed_tokens() -> None:
    message = parse(builder().message(recipient(), frozenset()).data)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()

    assert text.startswith("Beste Anna,")
    assert "Beste Anna," in html
    assert "lang " * 40 in html  # quoted-printable soft breaks decode back to the long line
    token = html.split("/afmelden/")[1].split('"')[0]
    claims = SIGNER.verify(token, Purpose.UNSUBSCRIBE, NOW)
    assert (claims.subject, claims.scope) == ("a1b2c3d4e5f60718", "newsletter")
    mailto = message["List-Unsubscribe"].split("mailto:")[1].rstrip(">")
    assert unquote(mailto.split("subject=")[1]) == f"afmelden {token}"
    with pytest.raises(InvalidToken, match="another purpose"):
        SIGNER.verify(token, Purpose.PREFERENCES, NOW)


def test_message_id_is_stable_across_attempts() -> None:
    first = parse(builder().message(recipient(), frozenset()).data)
    again = parse(builder().message(recipient(), frozenset()).data)
    other = parse(builder().message(recipient(public_id="ffff000011112222"), frozenset()).data)
    assert first["Message-ID"] == again["Message-ID"] != other["Message-ID"]


@pytest.mark.parametrize(
    ("first_name", "display_name", "expected_html"),
    [
        ("<script>", "X <script>", "Beste &lt;script&gt;,"),
        ('Jan"', 'Jan" & Co', "Beste Jan&quot;,"),
        ("Sjoukje", "Sjoukje Hoekstra-Dijkstra", "Beste Sjoukje,"),
    ],
)
def test_personal_values_are_escaped_in_html(first_name: str, display_name: str, expected_html: str) -> None:
    message = parse(
        builder().message(recipient(first_name=first_name, display_name=display_name), frozenset()).data
    )
    assert expected_html in message.get_body(("html",)).get_content()


@pytest.mark.parametrize(
    "display_name",
    ["Anna\r\nBcc: victim@example.org", "Anna\nX-Injected: yes", "Ängela\r\n\r\n<b>body</b>"],
)
def test_line_breaks_in_names_cannot_inject_headers(display_name: str) -> None:
    message = parse(builder().message(recipient(display_name=display_name), frozenset()).data)
    assert message["Bcc"] is None
    assert message["X-Injected"] is None
    assert "\n" not in str(message["To"])
    assert message.get_content_type() == "multipart/alternative"


def test_non_ascii_names_are_encoded_in_headers() -> None:
    data = builder().message(recipient(display_name="Ingrid Bakker-Ömer"), frozenset()).data
    assert data.isascii()
    assert parse(data)["To"].addresses[0].display_name == "Ingrid Bakker-Ömer"


@pytest.mark.parametrize("first_name", ["Anna", "A" * 200, "Ünal ", "=?utf-8?", ""])
def test_encoded_bodies_decode_to_the_personalised_text_with_short_lines(first_name: str) -> None:
    make = builder()
    person = recipient(first_name=first_name)
    built = make.message(person, frozenset())
    body = built.data.split(b"\r\n\r\n", 1)[1]

    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    assert b"\n" not in body.replace(b"\r\n", b"")  # CRLF line ends only
    expected = Personaliser.cut(HTML, is_html=True).fill(built.values)
    assert parse(built.data).get_body(("html",)).get_content() == expected


@pytest.mark.parametrize(
    ("email", "display_name", "header", "ascii_only"),
    [
        ("anna@bücher.example", "Anna de Vries", "To: Anna de Vries <anna@xn--bcher-kva.example>", True),
        ("jan@xn--bcher-kva.example", "Jan", "To: Jan <jan@xn--bcher-kva.example>", True),
        ("anna@BÜCHER.example", "", "To: anna@xn--bcher-kva.example", True),
        ("jörg@example.org", "Jörg Müller", "To: =?utf-8?b?SsO2cmcgTcO8bGxlcg==?= <jörg@example.org>", False),
        ("jörg@bücher.example", "", "To: jörg@bücher.example", False),
        ("x@a.example", "Bakker, Jan", 'To: "Bakker, Jan" <x@a.example>', True),
    ],
)
def test_the_to_header_writes_an_idn_domain_as_punycode_and_only_a_non_ascii_local_part_in_utf8(
    email: str, display_name: str, header: str, ascii_only: bool
) -> None:
    message = builder().message(recipient(email=email, display_name=display_name), frozenset())

    assert header.encode("utf-8") in message.data.split(b"\r\n")
    assert message.data.isascii() is ascii_only and message.needs_smtputf8 is not ascii_only
    parsed = message_from_string(message.data.decode("utf-8"), policy=policy.SMTPUTF8)
    assert parsed["To"].addresses[0].display_name == display_name


def test_an_address_that_cannot_be_written_fails_that_message_only_with_the_reason() -> None:
    mailing = builder()
    good = mailing.message(recipient(), frozenset())
    bad = mailing.message(recipient(email="piet@bü\u200dcher.example"), frozenset())

    good.check()
    with pytest.raises(AddressError, match=r"'bü\\u200dcher.example' is not a valid internationalised"):
        bad.check()
