"""A recipient's address as it goes on the wire: IDN domains as punycode, and SMTPUTF8 only
where the part before the @ leaves no choice.

`anna@bücher.example` and `anna@xn--bcher-kva.example` are the same mailbox (RFC 5890: a
U-label and its A-label name one domain), so the domain is always sent in ASCII: that works
through every relay, with or without SMTPUTF8, and through the relays behind it. A local part
with non-ASCII characters (`jörg@example.org`) has no ASCII form; only a relay that offers
SMTPUTF8 (RFC 6531) can take it, with the address in UTF-8 in the envelope and the headers.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import idna

from comms.errors import CommsError


class AddressError(CommsError):
    """An address that cannot be written where it has to go; the message concerned fails alone."""


SMTPUTF8_NEEDED = "has non-ASCII characters before the @, which only a relay with SMTPUTF8 accepts"


@dataclass(frozen=True, slots=True)
class MailAddress:
    local: str
    domain: str  # as given (NFC): U-labels or A-labels
    ascii_domain: str  # A-labels (punycode)

    @classmethod
    def parse(cls, text: str) -> MailAddress:
        given = text.strip()
        if not given.isascii():  # ASCII is its own NFC
            given = unicodedata.normalize("NFC", given)
        local, at, domain = given.rpartition("@")
        if not at or not local or not domain:
            raise AddressError(f"{text!r} is not an e-mail address")
        return cls(local, domain, _ascii_domain(domain))

    @property
    def needs_smtputf8(self) -> bool:
        return not self.local.isascii()

    @property
    def utf8(self) -> str:
        """For a relay that offers SMTPUTF8."""
        return f"{self.local}@{self.domain}"

    @property
    def ascii(self) -> str:
        """For every relay; raises AddressError when the local part has no ASCII form."""
        if self.needs_smtputf8:
            raise AddressError(f"{self.utf8} {SMTPUTF8_NEEDED}")
        return f"{self.local}@{self.ascii_domain}"

    @property
    def wire(self) -> str:
        """The form the message carries: ASCII where one exists, else UTF-8 (SMTPUTF8 only)."""
        return self.utf8 if self.needs_smtputf8 else self.ascii


def _ascii_domain(domain: str) -> str:
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise AddressError(
            f"the domain {domain!r} is not a valid internationalised domain name: {exc}"
        ) from exc
