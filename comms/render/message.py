"""Assemble each recipient's RFC 5322 message from the variant's compiled parts.

The MIME structure is written directly rather than through email.message: for
100,000 recipients the stdlib generator is the bottleneck, while this costs one
string join and one C-level quoted-printable encode per part. The output is
checked against the stdlib parser in the tests.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.header import Header
from email.utils import format_datetime, formataddr
from urllib.parse import quote

from comms.config import Sender
from comms.render.personalise import Personaliser
from comms.render.templates import Rendered
from comms.tokens import Purpose, Signer

CRLF = "\r\n"
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
class OutgoingMessage:
    ledger_id: int
    message_id: str  # "<…@domain>", the same on every attempt
    recipient: Recipient
    data: bytes


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
    """A variant's body, quoted-printable encoded once; per recipient only the values are.

    Each value sits between soft line breaks ("=" CRLF), which decode to nothing, so the
    pre-encoded literal parts never need re-wrapping and no line exceeds 76 characters.
    """

    SOFT_BREAK = "=" + CRLF

    def __init__(self, personaliser: Personaliser):
        self.personaliser = personaliser
        self.literals = [_qp(text) for text in personaliser.literals]
        self.fields = personaliser.fields

    def fill(self, values: dict[str, str]) -> str:
        escaped = self.personaliser.escaped(values)
        pieces = [self.literals[0]]
        for field, literal in zip(self.fields, self.literals[1:], strict=True):
            pieces += (self.SOFT_BREAK, _qp(escaped[field]), self.SOFT_BREAK, literal)
        return "".join(pieces)


class MessageBuilder:
    """Builds messages for one edition; variants are compiled once and cut once."""

    def __init__(
        self,
        identity: MailingIdentity,
        variants: dict[str, Rendered],
        signer: Signer,
        now: datetime,
    ):
        self.identity = identity
        self.signer = signer
        self.now = now
        self._bodies: dict[str, tuple[EncodedBody, EncodedBody]] = {}
        for key, rendered in variants.items():
            self.add_variant(key, rendered)
        sender = identity.sender
        # "=_" cannot occur in quoted-printable output, so the boundary never collides with a body.
        self._boundary = "=_comms_" + hashlib.sha256(identity.edition_key.encode()).hexdigest()[:24]
        self._common = self._common_headers()
        self._expires = now + TOKEN_LIFETIME
        self._domain = sender.domain

    def _common_headers(self) -> str:
        identity = self.identity
        lines = [
            f"From: {formataddr((header_text(identity.sender.name), identity.sender.address), 'utf-8')}",
            f"Subject: {encode_header(identity.subject)}",
            f"List-Id: {encode_header(identity.list_name)} <{identity.list_id}.{identity.sender.domain}>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            "MIME-Version: 1.0",
            f'Content-Type: multipart/alternative; boundary="{self._boundary}"',
        ]
        if identity.sender.reply_to:
            lines.insert(1, f"Reply-To: {identity.sender.reply_to}")
        return CRLF.join(lines)

    def message_id(self, recipient: Recipient) -> str:
        return f"<{self.identity.edition_key}.{recipient.public_id}@{self._domain}>"

    def links(self, recipient: Recipient) -> dict[str, str]:
        kind = self.identity.kind
        unsubscribe = self.signer.sign(Purpose.UNSUBSCRIBE, recipient.public_id, kind, self._expires)
        preferences = self.signer.sign(Purpose.PREFERENCES, recipient.public_id, kind, self._expires)
        base = self.identity.base_url
        return {
            "unsubscribe_url": f"{base}/afmelden/{unsubscribe}",
            "preferences_url": f"{base}/voorkeuren/{preferences}",
            "unsubscribe_mailto": (
                f"mailto:afmelden@{self._domain}?subject={quote('afmelden ' + unsubscribe)}"
            ),
        }

    @property
    def variant_keys(self) -> set[str]:
        return set(self._bodies)

    def add_variant(self, key: str, rendered: Rendered) -> None:
        self._bodies[key] = (
            EncodedBody(Personaliser.cut(rendered.text, is_html=False)),
            EncodedBody(Personaliser.cut(rendered.html, is_html=True)),
        )

    def preview_html(self, variant: str, values: dict[str, str]) -> str:
        return self._bodies[variant][1].personaliser.fill(values)

    def values(self, recipient: Recipient, links: dict[str, str] | None = None) -> dict[str, str]:
        """The recipient's personal values, as the templates' `recipient.*` fields."""
        links = links or self.links(recipient)
        return {
            "first_name": recipient.first_name,
            "name": recipient.display_name,
            "email": recipient.email,
            "unsubscribe_url": links["unsubscribe_url"],
            "preferences_url": links["preferences_url"],
        }

    def build(self, recipient: Recipient, variant: str) -> OutgoingMessage:
        text_body, html_body = self._bodies[variant]
        links = self.links(recipient)
        values = self.values(recipient, links)
        message_id = self.message_id(recipient)
        headers = CRLF.join(
            [
                self._common,
                f"To: {formataddr((header_text(recipient.display_name), recipient.email), 'utf-8')}",
                f"Date: {format_datetime(self.now)}",
                f"Message-ID: {message_id}",
                f"List-Unsubscribe: <{links['unsubscribe_url']}>,{CRLF} <{links['unsubscribe_mailto']}>",
            ]
        )
        boundary = self._boundary
        body = CRLF.join(
            [
                f"--{boundary}",
                'Content-Type: text/plain; charset="utf-8"',
                "Content-Transfer-Encoding: quoted-printable",
                "",
                text_body.fill(values),
                f"--{boundary}",
                'Content-Type: text/html; charset="utf-8"',
                "Content-Transfer-Encoding: quoted-printable",
                "",
                html_body.fill(values),
                f"--{boundary}--",
                "",
            ]
        )
        data = f"{headers}{CRLF}{CRLF}{body}".encode("ascii")
        return OutgoingMessage(recipient.ledger_id, message_id, recipient, data)
