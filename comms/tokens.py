"""Signed tokens for the links in messages (unsubscribe, preferences, surveys).

A token binds a contact to one purpose and an expiry, signed with HMAC-SHA256
under COMMS_SECRET_KEY. It is unguessable without the key and useless for any
other purpose, so a forwarded unsubscribe link cannot open a preference centre.
No page turns one token into another: the unsubscribe page mails a preference
link to the contact's own address instead of showing one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from comms.errors import Rejected


class Purpose(StrEnum):
    UNSUBSCRIBE = "u"
    PREFERENCES = "p"
    PREVIEW = "v"  # the team's preview link in an approval request
    SURVEY = "s"  # an invitee's personal survey link: one per invitee and round
    RESTORE = "r"  # undo of an unsubscribe from forward-safe mail, in the notice to the owner


class InvalidToken(Rejected, ValueError):
    """The token was tampered with, expired, or made for another purpose."""


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> str:
    """URL-safe base64 without padding (what base64.urlsafe_b64encode gives, in fewer calls)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class TokenClaims:
    purpose: Purpose
    subject: str  # a contact's public id
    scope: str  # the mailing kind it applies to
    expires_at: datetime


class _KeyedMac:
    """HMAC-SHA256 (RFC 2104) under one key, for many short messages: the key's two padded
    blocks are hashed once, so a MAC costs two copies of a hash state and two short updates.
    hmac.HMAC.copy() does the same in C but wraps it in Python, at three times the cost; the
    result is the same (verify checks with hmac.new, and so do the tests)."""

    def __init__(self, key: bytes):
        block = hashlib.sha256().block_size
        key = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


class Signer:
    MIN_KEY_LENGTH = 32

    def __init__(self, secret_key: str):
        if len(secret_key) < self.MIN_KEY_LENGTH:
            raise ValueError(f"COMMS_SECRET_KEY must be at least {self.MIN_KEY_LENGTH} characters")
        # Derive a key for links only, so a future use of the secret cannot mint link tokens.
        self._key = hmac.new(secret_key.encode(), b"comms-link-tokens", hashlib.sha256).digest()
        self._mac = _KeyedMac(self._key)

    def sign(self, purpose: Purpose, subject: str, scope: str, expires_at: datetime) -> str:
        return self.signing(purpose, scope, expires_at)(subject)

    def signing(self, purpose: Purpose, scope: str, expires_at: datetime) -> Callable[[str], str]:
        """`sign` for one purpose, scope and expiry, for many subjects (a mailing's recipients):
        what they share is worked out once, so a token costs one short HMAC and two base64
        encodes."""
        head = f"{purpose.value}.".encode()
        tail = f".{scope}.{int(expires_at.timestamp()):x}".encode()
        mac = self._mac

        def sign(subject: str) -> str:
            body = head + subject.encode() + tail
            return f"{_b64(body)}.{_b64(mac.digest(body)[:18])}"

        return sign

    def verify(self, token: str, purpose: Purpose, now: datetime) -> TokenClaims:
        try:
            encoded_body, encoded_mac = token.split(".")
            body = _unb64(encoded_body)
            mac = _unb64(encoded_mac)
        except ValueError as exc:
            raise InvalidToken("malformed token") from exc
        expected = hmac.new(self._key, body, hashlib.sha256).digest()[:18]
        if not hmac.compare_digest(mac, expected):
            raise InvalidToken("signature does not match")
        kind, subject, scope, expiry = body.decode().split(".")
        if kind != purpose.value:
            raise InvalidToken("token is for another purpose")
        expires_at = datetime.fromtimestamp(int(expiry, 16), UTC)
        if now >= expires_at:
            raise InvalidToken("token has expired")
        return TokenClaims(Purpose(kind), subject, scope, expires_at)


class ReturnPathSigner:
    """The signed part of a VERP envelope sender: `bounces+<ledger id>-<mac>@domain`.

    Lower-case base 36 and hex only, because some mail systems lower-case the local part of
    a bounce's recipient. No expiry: a DSN may come days after the message. The key is
    derived apart from the link tokens', so one can never stand in for the other.
    """

    MAC_CHARS = 20  # 80 bits

    def __init__(self, secret_key: str):
        if len(secret_key) < Signer.MIN_KEY_LENGTH:
            raise ValueError(f"COMMS_SECRET_KEY must be at least {Signer.MIN_KEY_LENGTH} characters")
        self._key = hmac.new(secret_key.encode(), b"comms-return-path", hashlib.sha256).digest()

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[: self.MAC_CHARS]

    def sign(self, ledger_id: int) -> str:
        body = _base36(ledger_id)
        return f"{body}-{self._mac(body)}"

    def verify(self, tag: str) -> int:
        """The ledger id the tag was made for; InvalidToken when it was not made by us."""
        body, _, mac = tag.strip().lower().partition("-")
        if not body or not body.isalnum() or not body.isascii():
            raise InvalidToken("malformed return path")
        if not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            raise InvalidToken("signature does not match")
        return int(body, 36)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text
