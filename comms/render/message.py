"""Each recipient's message, from the edition's compiled output.

The MIME structure is written directly rather than through email.message: for
100,000 recipients the stdlib generator is the bottleneck. Everything the recipients of
one variant (selection of blocks) share is encoded once, as bytes: the part headers, the
quoted-printable literals between the personal values, the attachments. Per recipient
there is one short header string, one C-level quoted-printable encode per personal value,
and one bytes join. tests/render/test_message_equivalence.py checks the output against
the standard library's, part for part.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.header import Header
from email.utils import format_datetime, formataddr
from typing import Any

from comms.config import Sender
from comms.render.address import MailAddress
from comms.render.personalise import Personaliser, Selected
from comms.render.templates import Rendered
from comms.tokens import Purpose, Signer

CRLF = "\r\n"
# On every message, whatever its kind or transport:
# - Content-Language: every mail is Dutch (RFC 3282).
# - Auto-Submitted: every mail is made and sent by the service, none is a person's own reply
#   (RFC 3834 §5); auto-responders must not answer it, so out-of-office replies stay away.
# - X-Auto-Response-Suppress: what Exchange and Outlook read instead. OOF and AutoReply only:
#   "All" would suppress non-delivery reports too, which the bounce handling needs.
AUTOMATIC_HEADERS = {
    "Content-Language": "nl",
    "Auto-Submitted": "auto-generated",
    "X-Auto-Response-Suppress": "OOF, AutoReply",
}
TOKEN_LIFETIME = timedelta(days=400)  # an unsubscribe link in an old mail must still work
MAX_LINE = 78  # RFC 5322 §2.1.1: a header line SHOULD be no longer; folded where it can be
MAX_LINE_HARD = 998  # … and MUST be no longer
MAX_ENCODED_WORD = 75  # RFC 2047 §2
FOLD_MAILBOX_AT = MAX_LINE_HARD  # see mailbox_line
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_HTML_SPECIAL = re.compile(r"[&<>\"']")  # what html.escape(quote=True) changes
# A display name formataddr writes as it is: ASCII atoms (RFC 5322 atext) with single spaces
# between them, so header_text leaves it alone and it needs no quotes (most names).
_PLAIN_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?: [A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*")


@dataclass(frozen=True, slots=True)
class Recipient:
    ledger_id: int
    public_id: str
    email: str
    first_name: str
    display_name: str


@dataclass(frozen=True, slots=True)
class MailingIdentity:
    """What every message of one edition shares."""

    edition_key: str
    kind: str  # mailing kind: scope of tokens and suppressions
    subject: str
    sender: Sender
    list_name: str  # "IPO-nieuwsbrief voor Statenleden"
    list_id: str  # "nieuwsbrief-statenleden"
    base_url: str  # https://… of the web app
    # Meant to be forwarded (the griffies' agenda digest): the body holds no personal link and
    # no tracking, so a reader cannot act for the one who forwarded it.
    forward_safe: bool = False
    # Sent to a list (every mailing kind so far): List-Id and the one-click List-Unsubscribe
    # (RFC 2919, RFC 8058; Gmail's and Yahoo's bulk-sender rules). Mail to one person (a team
    # notice, a requested preference link, a test copy) has none: it has no link that works.
    bulk: bool = True


def header_text(value: str) -> str:
    """One header line's worth of text: no CR, LF or other controls (no header injection)."""
    return " ".join(_CONTROL.sub(" ", value).split())


def encode_header(value: str) -> str:
    value = header_text(value)
    charset = "us-ascii" if value.isascii() else "utf-8"
    encoded = Header(value, charset, header_name="Subject").encode(linesep=CRLF)
    if charset == "us-ascii" and any(
        len(line) > MAX_LINE_HARD - len("Subject: ") for line in encoded.split(CRLF)
    ):
        # An ASCII word too long for any line cannot be folded: as encoded words it can.
        encoded = Header(value, "utf-8", header_name="Subject").encode(linesep=CRLF)
    return encoded


def mailbox_line(field_name: str, name: str, address: str) -> str:
    """`To: Name <address>` as formataddr writes it: a non-ASCII name as one RFC 2047 encoded
    word, unless that would be longer than an encoded word may be (75), then as several; and
    folded only where a line would pass the hard limit of 998. Lines between 78 and 998 stay
    as they always were (RFC 5322 makes 78 a SHOULD), so mail already sent and mail sent now
    are byte for byte alike; FOLD_MAILBOX_AT = MAX_LINE would fold them too. `address` may be
    UTF-8 (RFC 6532): formataddr insists on ASCII, so it writes the name part only."""
    if _PLAIN_NAME.fullmatch(name):
        line = f"{field_name}: {name} <{address}>"  # what formataddr gives, without its checks
    else:
        name = header_text(name)
        if not name:
            return f"{field_name}: {address}"
        named = formataddr((name, "@"), "utf-8")[: -len("<@>")]  # the name part, quoted or encoded
        if not name.isascii() and len(named) - 1 > MAX_ENCODED_WORD:
            words = Header(name, "utf-8", MAX_ENCODED_WORD + 1, header_name=field_name)
            named = words.encode(linesep=CRLF) + " "
        line = f"{field_name}: {named}<{address}>"
    if len(line) <= FOLD_MAILBOX_AT or max(len(part) for part in line.split(CRLF)) <= FOLD_MAILBOX_AT:
        return line
    return fold(line)


def fold(header: str) -> str:
    """Each line longer than MAX_LINE broken before a space where one is (RFC 5322 §2.2.3):
    unfolding (dropping the CRLF) gives the header back."""
    lines: list[str] = []
    for number, line in enumerate(header.split(CRLF)):
        if len(line) <= MAX_LINE:
            lines.append(line)
            continue
        words = line.split(" ")
        keep = 2 if number == 0 else 1 + (words[0] == "")  # never break right after "To:"
        current = " ".join(words[:keep])
        for word in words[keep:]:
            if len(current) + 1 + len(word) > MAX_LINE:
                lines.append(current)
                current = " " + word
            else:
                current = f"{current} {word}"
        lines.append(current)
    return CRLF.join(lines)


def _qp(text: str) -> str:
    """Quoted-printable with CRLF line ends, soft breaks included."""
    normalised = text.replace("\r\n", "\n").replace("\n", CRLF)
    encoded = binascii.b2a_qp(normalised.encode("utf-8"), istext=True).decode("ascii")
    if CRLF not in normalised:
        # b2a_qp takes its line ending from the data; without one it soft-breaks with "\n".
        encoded = encoded.replace("\n", CRLF)
    return encoded


def _qp_value(value: str) -> bytes:
    """_qp(value) as bytes, for a personal value: on one line it needs only the C encoder."""
    if "\r" in value or "\n" in value:
        return _qp(value).encode("ascii")
    # Without a line end in the data b2a_qp soft-breaks with a bare "\n".
    return binascii.b2a_qp(value.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


SOFT_BREAK = "=" + CRLF


@dataclass(frozen=True, slots=True)
class _Slot:
    field: str
    is_html: bool


class Frame:
    """One variant's message below its headers, as bytes with a slot for each personal value.

    A part's quoted-printable literals are encoded once. Each value sits between soft line
    breaks ("=" CRLF), which decode to nothing, so the literals never need re-wrapping and no
    line exceeds 76 characters. pieces[0] is the place of the recipient's headers.
    """

    def __init__(self, parts: list[str | _Slot]):
        pieces: list[bytes] = [b""]
        literal: list[str] = []
        for part in parts:
            if isinstance(part, _Slot):
                pieces += ["".join(literal).encode("ascii"), b""]
                literal = []
            else:
                literal.append(part)
        pieces.append("".join(literal).encode("ascii"))
        self.pieces = pieces
        # Per field: where its text encoding goes, and where its HTML-escaped encoding goes.
        places: dict[str, tuple[list[int], list[int]]] = {}
        for index, part in zip(
            range(2, len(pieces), 2), (p for p in parts if isinstance(p, _Slot)), strict=True
        ):
            places.setdefault(part.field, ([], []))[part.is_html].append(index)
        self.places = tuple((name, tuple(text), tuple(html)) for name, (text, html) in places.items())

    @classmethod
    def of(cls, text: Selected, html_body: Selected, boundary: str, around: tuple[str, str]) -> Frame:
        """multipart/alternative of the text and the HTML, between around[0] and around[1]."""
        parts: list[str | _Slot] = [around[0]]
        for subtype, selected in (("plain", text), ("html", html_body)):
            parts += [
                f'--{boundary}{CRLF}Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
                f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}",
                _qp(selected.literals[0]),
            ]
            for name, literal in zip(selected.fields, selected.literals[1:], strict=True):
                parts += [SOFT_BREAK, _Slot(name, selected.is_html), SOFT_BREAK, _qp(literal)]
            parts.append(CRLF)
        parts += [f"--{boundary}--{CRLF}", around[1]]
        return cls(parts)

    def fill(self, head: bytes, values: dict[str, str]) -> bytes:
        pieces = self.pieces.copy()
        pieces[0] = head
        for name, text_places, html_places in self.places:
            value = values[name]
            encoded = _qp_value(value)
            for index in text_places:
                pieces[index] = encoded
            if html_places:
                if _HTML_SPECIAL.search(value):  # most values (every link) need no escaping
                    encoded = _qp_value(html.escape(value, quote=True))
                for index in html_places:
                    pieces[index] = encoded
        return b"".join(pieces)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file every recipient of the mailing gets (the meeting's .ics)."""

    filename: str
    content_type: str  # with parameters: 'text/calendar; charset="utf-8"; method=PUBLISH'
    data: bytes

    def mime_part(self) -> str:
        encoded = base64.encodebytes(self.data).decode("ascii").replace("\n", CRLF)
        name = header_text(self.filename).replace('"', "")
        return CRLF.join(
            [
                f'Content-Type: {self.content_type}; name="{name}"',
                f'Content-Disposition: attachment; filename="{name}"',
                "Content-Transfer-Encoding: base64",
                "",
                encoded,
            ]
        )


@dataclass(eq=False)
class OutgoingMessage:
    """One recipient's copy; transports read what they need (MIME bytes, or the parts)."""

    ledger_id: int
    recipient: Recipient
    blocks: frozenset[str]  # the optional blocks this recipient gets
    values: dict[str, str]  # personal values, unescaped
    links: dict[str, str]
    mailing: Mailing = field(repr=False)

    @property
    def message_id(self) -> str:
        """ "<…@domain>", the same on every attempt: a repeat is recognisable."""
        return self.mailing.message_id(self.recipient)

    @property
    def variant(self) -> str:
        return variant_key(self.blocks)

    @property
    def list_unsubscribe(self) -> str:
        return f"<{self.links['unsubscribe_url']}>, <{self.links['unsubscribe_mailto']}>"

    # Worked out once, when first asked for. Not functools.cached_property: in Python 3.11 it
    # takes a lock on every first access, a measurable share of a message's cost at this rate.
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def _once(self, name: str, make: Callable[[], Any]) -> Any:
        value = self._cache.get(name)
        if value is None:
            value = self._cache[name] = make()
        return value

    @property
    def address(self) -> MailAddress:
        """Raises AddressError for an address that cannot be written at all (a broken IDN)."""
        address: MailAddress = self._once("address", lambda: MailAddress.parse(self.recipient.email))
        return address

    @property
    def needs_smtputf8(self) -> bool:
        """Its address has no ASCII form: only a relay with SMTPUTF8 can take it."""
        return self.address.needs_smtputf8

    @property
    def data(self) -> bytes:
        """The MIME bytes: ASCII, except the To address when it has no ASCII form (RFC 6532)."""
        data: bytes = self._once("data", lambda: self.mailing.mime(self))
        return data

    @property
    def to_line(self) -> str:
        """The To header (see Mailing.to_header); raises AddressError as `address` does."""
        line: str = self._once("to_line", lambda: self.mailing.to_header(self))
        return line

    def check(self) -> None:
        """Raise now, for this message alone, what would stop it being written (its To header)."""
        _ = self.to_line


def variant_key(blocks: frozenset[str]) -> str:
    return ",".join(sorted(blocks))


class Mailing:
    """One edition's messages: its compiled output, identity, and signed links."""

    def __init__(
        self,
        identity: MailingIdentity,
        rendered: Rendered,
        signer: Signer,
        now: datetime,
        attachments: tuple[Attachment, ...] = (),
        personal_links: Callable[[Recipient], dict[str, str]] | None = None,
    ):
        self.identity = identity
        self.attachments = attachments
        self.personal_links = personal_links  # more links per recipient (a survey invitation's)
        self.signer = signer
        self.now = now
        self.html = Personaliser.cut(rendered.html, is_html=True)
        self.text = Personaliser.cut(rendered.text, is_html=False)
        self.blocks = self.html.blocks | self.text.blocks
        self._frames: dict[frozenset[str], Frame] = {}
        # "=_" cannot occur in quoted-printable output, so the boundary never collides with a body.
        self._boundary = "=_comms_" + hashlib.sha256(identity.edition_key.encode()).hexdigest()[:24]
        self._mixed_boundary = self._boundary + "_mixed"
        self._common = self._common_headers()
        self._expires = now + TOKEN_LIFETIME
        self._domain = identity.sender.domain
        # What every recipient's headers and links share, worked out once.
        self._sign_unsubscribe = signer.signing(Purpose.UNSUBSCRIBE, identity.kind, self._expires)
        self._sign_preferences = signer.signing(Purpose.PREFERENCES, identity.kind, self._expires)
        self._unsubscribe_base = f"{identity.base_url}/afmelden/"
        self._preferences_base = f"{identity.base_url}/voorkeuren/"
        # quote(f"afmelden {token}"): a token is URL-safe base64 and dots, which quote keeps.
        self._mailto_base = f"mailto:afmelden@{self._domain}?subject=afmelden%20"
        self._head_start = f"{self._common}{CRLF}"
        self._head_date = f"{CRLF}Date: {format_datetime(now)}{CRLF}Message-ID: "

    def _common_headers(self) -> str:
        identity = self.identity
        lines = [
            mailbox_line("From", identity.sender.name, identity.sender.address),
            f"Subject: {encode_header(identity.subject)}",
            *self._list_headers(),
            *(f"{name}: {value}" for name, value in AUTOMATIC_HEADERS.items()),
            "MIME-Version: 1.0",
            self._content_type(),
        ]
        if identity.sender.reply_to:
            lines.insert(1, f"Reply-To: {identity.sender.reply_to}")
        return CRLF.join(lines)

    def _list_headers(self) -> list[str]:
        if not self.identity.bulk:
            return []
        return [f"List-Id: {self.list_id}", "List-Unsubscribe-Post: List-Unsubscribe=One-Click"]

    def _content_type(self) -> str:
        if self.attachments:
            return f'Content-Type: multipart/mixed; boundary="{self._mixed_boundary}"'
        return f'Content-Type: multipart/alternative; boundary="{self._boundary}"'

    @property
    def list_id(self) -> str:
        identity = self.identity
        return f"{encode_header(identity.list_name)} <{identity.list_id}.{identity.sender.domain}>"

    def message_id(self, recipient: Recipient) -> str:
        return f"<{self.identity.edition_key}.{recipient.public_id}@{self._domain}>"

    def links(self, recipient: Recipient) -> dict[str, str]:
        unsubscribe = self._sign_unsubscribe(recipient.public_id)
        return {
            "unsubscribe_url": self._unsubscribe_base + unsubscribe,
            "preferences_url": self._preferences_base + self._sign_preferences(recipient.public_id),
            "unsubscribe_mailto": self._mailto_base + unsubscribe,
        }

    def values(self, recipient: Recipient, links: dict[str, str] | None = None) -> dict[str, str]:
        """The recipient's personal values, as the templates' `recipient.*` fields."""
        links = links or self.links(recipient)
        values = {
            "first_name": recipient.first_name,
            "name": recipient.display_name,
            "email": recipient.email,
            "unsubscribe_url": links["unsubscribe_url"],
            "preferences_url": links["preferences_url"],
        }
        if self.personal_links:
            values |= self.personal_links(recipient)
        return values

    def message(self, recipient: Recipient, blocks: frozenset[str]) -> OutgoingMessage:
        links = self.links(recipient)
        chosen = blocks & self.blocks
        return OutgoingMessage(
            recipient.ledger_id, recipient, chosen, self.values(recipient, links), links, self
        )

    def preview_html(self, blocks: frozenset[str], values: dict[str, str]) -> str:
        return self.html.select(blocks).fill(values)

    def _frame(self, blocks: frozenset[str]) -> Frame:
        frame = self._frames.get(blocks)
        if frame is None:
            around = ("", "")
            if self.attachments:
                mixed = self._mixed_boundary
                alternative = f'Content-Type: multipart/alternative; boundary="{self._boundary}"'
                around = (
                    f"--{mixed}{CRLF}{alternative}{CRLF}{CRLF}",
                    CRLF
                    + "".join(f"--{mixed}{CRLF}{a.mime_part()}{CRLF}" for a in self.attachments)
                    + f"--{mixed}--{CRLF}",
                )
            frame = Frame.of(self.text.select(blocks), self.html.select(blocks), self._boundary, around)
            self._frames[blocks] = frame
        return frame

    def to_header(self, message: OutgoingMessage) -> str:
        """The To line: the name encoded (RFC 2047), an IDN domain as punycode; an address with
        a non-ASCII local part as UTF-8 (RFC 6532, for SMTPUTF8 relays only)."""
        address = message.address
        return mailbox_line("To", message.recipient.display_name, address.wire)

    def mime(self, message: OutgoingMessage) -> bytes:
        """RFC 5322 bytes, multipart/alternative, CRLF line ends, ASCII only (but for a UTF-8 To)."""
        frame = self._frame(message.blocks)
        links = message.links
        head = f"{self._head_start}{message.to_line}{self._head_date}{message.message_id}"
        if self.identity.bulk:
            head += (
                f"{CRLF}List-Unsubscribe: <{links['unsubscribe_url']}>,{CRLF} <{links['unsubscribe_mailto']}>"
            )
        head += CRLF + CRLF
        return frame.fill(head.encode("utf-8" if message.needs_smtputf8 else "ascii"), message.values)
