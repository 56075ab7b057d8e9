"""The console's session cookie: signed, stateless, short-lived.

The cookie holds the member's username, the account's session stamp (it changes with the
password, role or state, so such a change ends every session), a random session id (new at each
sign-in; the CSRF token is derived from it) and when the session began and was last used. It is
signed with HMAC-SHA256 under a key derived from COMMS_SECRET_KEY for this use only, the way
comms.tokens derives the link key: no extra dependency, and neither key can mint the other's
tokens. A visitor who has not signed in gets an anonymous session (no username), so the sign-in
form has a CSRF token too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from comms.config import ConsoleConfig

COOKIE = "comms_console"
FLASH_COOKIE = "comms_console_melding"
PATH = "/console"
FLASH_MAX_CHARS = 300


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    session_id: str
    started_at: datetime
    seen_at: datetime
    username: str = ""  # empty: not signed in
    stamp: str = ""

    @property
    def signed_in(self) -> bool:
        return bool(self.username)

    def expired(self, now: datetime, policy: ConsoleConfig) -> bool:
        idle = now - self.seen_at >= timedelta(minutes=policy.session_idle_minutes)
        old = now - self.started_at >= timedelta(hours=policy.session_lifetime_hours)
        return idle or old or self.started_at > now + timedelta(minutes=5)

    def seen(self, now: datetime) -> ConsoleSession:
        return replace(self, seen_at=now)


def new_session(now: datetime, username: str = "", stamp: str = "") -> ConsoleSession:
    """A fresh session with a new id: at the first visit and at every sign-in."""
    return ConsoleSession(secrets.token_urlsafe(18), now, now, username, stamp)


class SessionCodec:
    """Signs and reads the session cookie, the flash cookie and the CSRF tokens."""

    def __init__(self, secret_key: str):
        self._key = hmac.new(secret_key.encode(), b"comms-console-sessions", hashlib.sha256).digest()

    def encode(self, session: ConsoleSession) -> str:
        body = [
            session.session_id,
            session.username,
            session.stamp,
            _epoch(session.started_at),
            _epoch(session.seen_at),
        ]
        return self._sign("s", json.dumps(body, separators=(",", ":")))

    def decode(self, value: str | None) -> ConsoleSession | None:
        body = self._unsign("s", value)
        if body is None:
            return None
        try:
            session_id, username, stamp, started, seen = json.loads(body)
            return ConsoleSession(session_id, _moment(started), _moment(seen), username, stamp)
        except (ValueError, TypeError):
            return None

    def csrf_token(self, session: ConsoleSession) -> str:
        return _b64(hmac.new(self._key, f"csrf\0{session.session_id}".encode(), hashlib.sha256).digest()[:24])

    def csrf_valid(self, session: ConsoleSession, token: str) -> bool:
        return hmac.compare_digest(self.csrf_token(session).encode(), token.encode())

    def encode_flash(self, message: str) -> str:
        return self._sign("f", message[:FLASH_MAX_CHARS])

    def decode_flash(self, value: str | None) -> str | None:
        return self._unsign("f", value)

    def _sign(self, use: str, body: str) -> str:
        encoded = _b64(body.encode())
        return f"{encoded}.{_b64(self._mac(use, encoded))}"

    def _unsign(self, use: str, value: str | None) -> str | None:
        if not value or value.count(".") != 1:
            return None
        encoded, mac = value.split(".")
        if not hmac.compare_digest(mac.encode(), _b64(self._mac(use, encoded)).encode()):
            return None
        try:
            return _unb64(encoded).decode()
        except (ValueError, UnicodeDecodeError):
            return None

    def _mac(self, use: str, encoded: str) -> bytes:
        return hmac.new(self._key, f"{use}\0{encoded}".encode(), hashlib.sha256).digest()


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _moment(epoch: object) -> datetime:
    if not isinstance(epoch, int):
        raise TypeError("not a timestamp")
    return datetime.fromtimestamp(epoch, UTC)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
