"""Link tokens: signing many at once gives the very tokens one at a time does, and they verify."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from comms.tokens import Purpose, Signer, _KeyedMac

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
SECRET = "a-secret-key-that-is-long-enough-0123456789"


def reference_token(purpose: Purpose, subject: str, scope: str, expires_at: datetime) -> str:
    """The token as hmac.new makes it (the form before the signer was made fast)."""
    key = hmac.new(SECRET.encode(), b"comms-link-tokens", hashlib.sha256).digest()
    body = f"{purpose.value}.{subject}.{scope}.{int(expires_at.timestamp()):x}".encode()
    mac = hmac.new(key, body, hashlib.sha256).digest()[:18]

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return f"{b64(body)}.{b64(mac)}"


@pytest.mark.parametrize("purpose", list(Purpose))
@pytest.mark.parametrize("subject", ["a1b2c3d4e5f60718", "x", "0" * 32])
@pytest.mark.parametrize("scope", ["newsletter", "2026-H2", "team"])
def test_signing_many_gives_the_reference_token_and_it_verifies(
    purpose: Purpose, subject: str, scope: str
) -> None:
    signer = Signer(SECRET)
    expires = NOW + timedelta(days=400)
    token = signer.signing(purpose, scope, expires)(subject)

    assert (
        token
        == reference_token(purpose, subject, scope, expires)
        == signer.sign(purpose, subject, scope, expires)
    )
    claims = signer.verify(token, purpose, NOW)
    assert (claims.subject, claims.scope, claims.expires_at) == (subject, scope, expires)


@pytest.mark.parametrize("key_length", [0, 1, 32, 64, 65, 200])
@pytest.mark.parametrize("message", [b"", b"u.abc.newsletter.6a0b1c2d", bytes(range(256)) * 3])
def test_the_keyed_mac_is_hmac_sha256(key_length: int, message: bytes) -> None:
    key = bytes(i % 251 for i in range(key_length))  # longer than a block (64) is hashed first
    assert _KeyedMac(key).digest(message) == hmac.new(key, message, hashlib.sha256).digest()
