"""Each recipient's message, from the edition's compiled output.

The MIME structure is written directly rather than through email.message: for
100,000 recipients the stdlib generator is the bottleneck, while this costs one
string join and one C-level quoted-printable encode per part. The output is
checked against the stdlib parser in the tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.header import Header
from email.utils import format_datetime, formataddr
from functools import cached_property
from urllib.parse import quote

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
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


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
    return Header(value, charset, header_name="Subject").encode(linesep=CRLF)


def _qp(text: str) -> str:
    """Quoted-printable with CRLF line ends, soft breaks included."""
    normalised = text.replace("\r\n", "\n").replace("\n", CRLF)
    encoded = binascii.b2a_qp(normalised.encode("utf-8"), istext=True).decode("ascii")
    if CRLF not in normalised:
        # b2a_qp takes its line ending from the data; without one it soft-breaks with "\n".
        encoded = encoded.replace("\n", CRLF)
    return encoded


class EncodedBody:
    """One selection's body, quoted-printable encoded once; per recipient only the values are.

    Each value sits between soft line breaks ("=" CRLF), which decode to nothing, so the
    pre-encoded literal parts never need re-wrapping and no line exceeds 76 characters.
    """

    SOFT_BREAK = "=" + CRLF

    def __init__(self, selected: Selected):
        self.selected = selected
        self.literals = [_qp(text) for text in selected.literals]

    def fill(self, values: dict[str, str]) -> str:
        escaped = self.selected.escaped(values)
        pieces = [self.literals[0]]
        for name, literal in zip(self.selected.fields, self.literals[1:], strict=True):
            pieces += (self.SOFT_BREAK, _qp(escaped[name]), self.SOFT_BREAK, literal)
        return "".join(pieces)


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

    @cached_property
    def address(self) -> MailAddress:
        """Raises AddressError for an address that cannot be written at all (a broken IDN)."""
        return MailAddress.parse(self.recipient.email)

    @property
    def needs_smtputf8(self) -> bool:
        """Its address has no ASCII form: only a relay with SMTPUTF8 can take it."""
        return self.address.needs_smtputf8

    @cached_property
    def data(self) -> bytes:
        """The MIME bytes: ASCII, except the To address when it has no ASCII form (RFC 6532)."""
        return self.mailing.mime(self)

    def check(self) -> None:
        """Raise now, for this message alone, what would stop it being written (its To header)."""
        self.mailing.to_header(self)


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
        self._encoded: dict[frozenset[str], tuple[EncodedBody, EncodedBody]] = {}
        # "=_" cannot occur in quoted-printable output, so the boundary never collides with a body.
        self._boundary = "=_comms_" + hashlib.sha256(identity.edition_key.encode()).hexdigest()[:24]
        self._mixed_boundary = self._boundary + "_mixed"
        self._common = self._common_headers()
        self._expires = now + TOKEN_LIFETIME
        self._domain = identity.sender.domain

    @property
    def blocks(self) -> frozenset[str]:
        return self.html.blocks | self.text.blocks

    def _common_headers(self) -> str:
        identity = self.identity
        lines = [
            f"From: {formataddr((header_text(identity.sender.name), identity.sender.address), 'utf-8')}",
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
        kind = self.identity.kind
        unsubscribe = self.signer.sign(Purpose.UNSUBSCRIBE, recipient.public_id, kind, self._expires)
        preferences = self.signer.sign(Purpose.PREFERENCES, recipient.public_id, kind, self._expires)
        base = self.identity.base_url
        mail_subject = quote(f"afmelden {unsubscribe}")
        return {
            "unsubscribe_url": f"{base}/afmelden/{unsubscribe}",
            "preferences_url": f"{base}/voorkeuren/{preferences}",
            "unsubscribe_mailto": f"mailto:afmelden@{self._domain}?subject={mail_subject}",
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

    def _bodies(self, blocks: frozenset[str]) -> tuple[EncodedBody, EncodedBody]:
        bodies = self._encoded.get(blocks)
        if bodies is None:
            bodies = (EncodedBody(self.text.select(blocks)), EncodedBody(self.html.select(blocks)))
            self._encoded[blocks] = bodies
        return bodies

    def to_header(self, message: OutgoingMessage) -> str:
        """The To line: the name encoded (RFC 2047), an IDN domain as punycode; an address with
        a non-ASCII local part as UTF-8 (RFC 6532, for SMTPUTF8 relays only)."""
        address = message.address
        name = header_text(message.recipient.display_name)
        if not address.needs_smtputf8:
            return f"To: {formataddr((name, address.ascii), 'utf-8')}"
        # formataddr insists on an ASCII address: it writes the name part, the address goes beside it.
        named = formataddr((name, "@"), "utf-8")
        return f"To: {named[: -len('<@>')]}<{address.utf8}>" if name else f"To: {address.utf8}"

    def mime(self, message: OutgoingMessage) -> bytes:
        """RFC 5322 bytes, multipart/alternative, CRLF line ends, ASCII only (but for a UTF-8 To)."""
        text_body, html_body = self._bodies(message.blocks)
        lines = [
            self._common,
            self.to_header(message),
            f"Date: {format_datetime(self.now)}",
            f"Message-ID: {message.message_id}",
        ]
        if self.identity.bulk:
            lines.append(
                f"List-Unsubscribe: <{message.links['unsubscribe_url']}>,{CRLF}"
                f" <{message.links['unsubscribe_mailto']}>"
            )
        headers = CRLF.join(lines)
        boundary = self._boundary
        body = CRLF.join(
            [
                f"--{boundary}",
                'Content-Type: text/plain; charset="utf-8"',
                "Content-Transfer-Encoding: quoted-printable",
                "",
                text_body.fill(message.values),
                f"--{boundary}",
                'Content-Type: text/html; charset="utf-8"',
                "Content-Transfer-Encoding: quoted-printable",
                "",
                html_body.fill(message.values),
                f"--{boundary}--",
                "",
            ]
        )
        if self.attachments:
            body = self._with_attachments(body)
        return f"{headers}{CRLF}{CRLF}{body}".encode("utf-8" if message.needs_smtputf8 else "ascii")

    def _with_attachments(self, alternative: str) -> str:
        """multipart/mixed: the text and HTML alternatives first, then each attachment."""
        mixed = self._mixed_boundary
        parts = [f'Content-Type: multipart/alternative; boundary="{self._boundary}"{CRLF}{CRLF}{alternative}']
        parts += [attachment.mime_part() for attachment in self.attachments]
        return "".join(f"--{mixed}{CRLF}{part}{CRLF}" for part in parts) + f"--{mixed}--{CRLF}"
