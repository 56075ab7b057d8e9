"""The fast message path says what the standard library's email package says, part for part.

Each case builds one recipient's message both ways from the same inputs: the fast path
(Mailing.message(...).data) and an EmailMessage with the same headers and MIME parts. Both
are parsed with the standard library's parser; every header's decoded value, the MIME
structure, each part's content type, charset and decoded content must agree. The fast path's
bytes must also be valid on the wire: CRLF only, no line over 998 octets, the Subject at most
78 octets a line wherever it can be folded that short, and a recipient's name in encoded words
of at most 75 characters (RFC 2047).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

import pytest

from comms.config import Sender
from comms.render.message import AUTOMATIC_HEADERS, Attachment, Mailing, MailingIdentity, Recipient
from comms.render.personalise import block_start, marker
from comms.render.templates import Rendered
from comms.tokens import Signer

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
SENDER = Sender("IPO", "nieuwsbrief@ipo.example.org", "statenleden@ipo.example.org")
LONG_TEXT_LINE = " ".join(["provinciale"] * 120)  # 1,439 characters on one line
HTML = (
    f"<html><body><p>Beste {marker('first_name')},</p><p>Aan: {marker('name')}</p>"
    f"{block_start('av')}<p>Over de AV: één agenda — {'lang ' * 40}</p>@@/b@@"
    f"<p>{LONG_TEXT_LINE}</p>"
    f'<a href="{marker("unsubscribe_url")}">Afmelden</a> '
    f'<a href="{marker("preferences_url")}">Voorkeuren</a></body></html>'
)
TEXT = (
    f"Beste {marker('first_name')},\n\nAan: {marker('name')}\n\n"
    f"{block_start('av')}Over de AV: één agenda\n\n@@/b@@"
    f"{LONG_TEXT_LINE}\n\nAfmelden: {marker('unsubscribe_url')}\n"
)
ICS = Attachment(
    "vergadering.ics",
    'text/calendar; charset="utf-8"; method=PUBLISH',
    "BEGIN:VCALENDAR\r\nSUMMARY:BAC Landelijk Gebied – één\r\nEND:VCALENDAR\r\n".encode(),
)
# The header whose lines the fast path folds to 78 (Header does). To, From and List-Id keep the line
# they always had, up to 998 octets (see comms.render.message.mailbox_line): sent mail stays alike.
FOLDED_TO_78 = ("subject",)
ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")

CASES = {
    # id: (first_name, display name, subject)
    "plain": ("Anna", "Anna de Vries", "IPO-nieuwsbrief voor Statenleden – december 2026"),
    "accents": ("Zoë", "Zoë Çelik-Verhoeven", "Café, coördinatie en één overzicht: ruimtelijke ordening"),
    "emoji": ("Anna 😀", "Anna 😀 de Vries 🇳🇱", "Nieuws 📬 uit de provincies 🎉"),
    "long ascii word": ("A" * 120, "B" * 120, "C" * 120),
    "long accented word": ("é" * 120, "Ö" * 120, "ü" * 120),
    "emoji word": ("😀" * 40, "🇳🇱" * 40, "📬" * 60),
    "over 78 octets": (
        "Maria",
        "Maria Johanna Wilhelmina Theodora van der Berg-Oosterhuis tot Nijland en Scholten",
        "De agenda van het IPO-bestuur en de BAC's, te bespreken in de GS-vergadering van dinsdag",
    ),
    "over 78 accented": (
        "Chloë",
        "Chloë Aurélie Bénédicte Müller-Lüdenscheidt van der Kerkhove-Çelik en Ørsted",
        "Één overzicht van café, coördinatie, ruimtelijke ordening en de Gedeputeerde Staten",
    ),
    "over 998 ascii": ("Jan", " ".join(["Jan"] * 300), " ".join(["woord"] * 200)),
    "over 998 accented": ("Jörg", " ".join(["Jörg"] * 300), " ".join(["één"] * 300)),
    "one 1000-char word": ("Piet", "Piet de Boer", "x" * 1000),
    "specials": ('Jan "Jr."', 'Bakker, Jan "Jr." (IPO)', "Vragen? Antwoorden: <hier> & [daar]"),
}


def mailing(subject: str, attachments: tuple[Attachment, ...]) -> Mailing:
    identity = MailingIdentity(
        edition_key="nieuwsbrief-2026-12",
        kind="newsletter",
        subject=subject,
        sender=SENDER,
        list_name="IPO-nieuwsbrief voor Statenleden",
        list_id="nieuwsbrief-statenleden",
        base_url="https://comms.ipo.example.org",
    )
    return Mailing(identity, Rendered(HTML, TEXT), Signer("x" * 40), NOW, attachments)


def standard_library(built: Mailing, recipient: Recipient, blocks: frozenset[str]) -> bytes:
    """The same message, written by email.message.EmailMessage from the same inputs."""
    values = built.values(recipient)
    links = built.links(recipient)
    message = EmailMessage()
    message["From"] = Address(SENDER.name, addr_spec=SENDER.address)
    message["Reply-To"] = SENDER.reply_to
    message["Subject"] = built.identity.subject
    message["List-Id"] = f"{built.identity.list_name} <nieuwsbrief-statenleden.ipo.example.org>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["To"] = Address(recipient.display_name, addr_spec=recipient.email)
    message["Date"] = format_datetime(NOW)
    message["Message-ID"] = built.message_id(recipient)
    message["List-Unsubscribe"] = f"<{links['unsubscribe_url']}>, <{links['unsubscribe_mailto']}>"
    message.set_content(built.text.select(blocks).fill(values), cte="quoted-printable")
    message.add_alternative(built.html.select(blocks).fill(values), subtype="html", cte="quoted-printable")
    for attachment in built.attachments:
        message.add_attachment(
            attachment.data,
            "text",
            "calendar",
            filename=attachment.filename,
            params={"charset": "utf-8", "method": "PUBLISH"},
        )
    for name, value in AUTOMATIC_HEADERS.items():  # after the parts: they take Content-* along
        message[name] = value
    return message.as_bytes()


def parse(data: bytes) -> EmailMessage:
    return message_from_bytes(data, _class=EmailMessage, policy=policy.default)


def mailboxes(data: bytes, name: str) -> list[tuple[str, str]]:
    """An address header's (name, address) pairs, decoded as RFC 2047 §6.2 says: policy.default's
    parser puts a space between two encoded words of one name, where the RFC drops it."""
    raw = message_from_bytes(data, policy=policy.compat32)[name]
    return getaddresses([str(make_header(decode_header(re.sub(r"\r?\n", "", raw))))])


def header_values(data: bytes) -> dict[str, object]:
    message = parse(data)
    values: dict[str, object] = {}
    for name in message:
        header = message[name]
        if name.lower() in ("from", "to", "reply-to"):
            values[name.lower()] = mailboxes(data, name)
        elif name.lower() == "date":
            values["date"] = header.datetime
        elif name.lower() not in ("content-type", "content-transfer-encoding"):  # compared per part
            values[name.lower()] = str(header).strip()  # the stdlib may fold right after the colon
    return values


def parts(message: EmailMessage) -> list[tuple[str, str | None, str | None, object]]:
    """Every part: content type, charset, file name and decoded content (line ends as "\\n";
    set_content ends a text with a line end where the template may not)."""
    found: list[tuple[str, str | None, str | None, object]] = []
    for part in message.walk():
        content: object = None
        if not part.is_multipart():
            content = part.get_content()
            if isinstance(content, str):
                content = content.replace("\r\n", "\n").rstrip("\n")
        found.append((part.get_content_type(), part.get_content_charset(), part.get_filename(), content))
    return found


@pytest.mark.parametrize("attachments", [(), (ICS,)], ids=["alternative", "with attachment"])
@pytest.mark.parametrize("blocks", [frozenset(), frozenset({"av"})], ids=["no blocks", "av block"])
@pytest.mark.parametrize(("first_name", "display_name", "subject"), CASES.values(), ids=CASES.keys())
def test_the_fast_path_equals_the_standard_library_part_for_part(
    first_name: str,
    display_name: str,
    subject: str,
    blocks: frozenset[str],
    attachments: tuple[Attachment, ...],
) -> None:
    built = mailing(subject, attachments)
    recipient = Recipient(
        7, "a1b2c3d4e5f60718", "anna.de.vries@utrecht.example.org", first_name, display_name
    )
    fast = built.message(recipient, blocks).data
    standard = standard_library(built, recipient, blocks)

    assert parse(fast).defects == []
    assert header_values(fast) == header_values(standard)
    assert mailboxes(fast, "To") == [(display_name, recipient.email)]
    assert parts(parse(fast)) == parts(parse(standard))


@pytest.mark.parametrize("attachments", [(), (ICS,)], ids=["alternative", "with attachment"])
@pytest.mark.parametrize(("first_name", "display_name", "subject"), CASES.values(), ids=CASES.keys())
def test_the_fast_path_writes_valid_wire_format(
    first_name: str, display_name: str, subject: str, attachments: tuple[Attachment, ...]
) -> None:
    recipient = Recipient(
        7, "a1b2c3d4e5f60718", "anna.de.vries@utrecht.example.org", first_name, display_name
    )
    data = mailing(subject, attachments).message(recipient, frozenset({"av"})).data

    assert data.isascii()
    assert b"\n" not in data.replace(b"\r\n", b"") and b"\r" not in data.replace(b"\r\n", b"")
    lines = data.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    for field in re.split(r"\r\n(?=\S)", head):
        name = field.split(":", 1)[0].lower()
        if name == "to":
            assert all(len(word) <= 75 for word in ENCODED_WORD.findall(field)), field
        if name in FOLDED_TO_78:
            for line in field.split("\r\n"):
                unbreakable = " " not in line.strip()  # one word, nowhere to fold it
                assert len(line) <= 78 or unbreakable, (name, line)
