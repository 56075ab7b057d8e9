"""The bounce mailbox over IMAP (RFC 3501): fetch what is new, mark what was read.

Messages are fetched with BODY.PEEK (nothing is marked \\Seen by fetching) and marked only
after their effect is in the database: a crash in between means the message is read again,
and the effects are keyed on the message, so it counts once. Handled mail gets the keyword
`$CommsHandled` (and \\Seen), and is moved to `imap_handled_folder` when one is set; mail that
could not be read gets `$CommsUnreadable` and stays unread for a person to look at. Neither
is fetched again.
"""

from __future__ import annotations

import contextlib
import imaplib
import ssl
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from comms.config import BouncesConfig
from comms.errors import Unavailable

HANDLED = "$CommsHandled"
UNREADABLE = "$CommsUnreadable"


class MailboxUnavailable(Unavailable):
    """The IMAP server cannot be reached, refuses the login or the folder: try again later."""


class BounceMailbox:
    def __init__(self, settings: BouncesConfig, password: str | None):
        self.settings = settings
        self.password = password
        self._imap: imaplib.IMAP4 | None = None
        self._capabilities: frozenset[str] = frozenset()

    @property
    def address(self) -> str:
        return f"{self.settings.imap_host}:{self.settings.imap_port}"

    def __enter__(self) -> BounceMailbox:
        try:
            self._imap = self._connect()
            self._imap.login(self.settings.imap_username, self.password or "")
            self._capabilities = self.capabilities_after_login(self._imap)
            self._check(self._imap.select(_quoted(self.settings.imap_folder)), "select the folder")
        except (OSError, imaplib.IMAP4.error) as exc:
            self.close()
            raise MailboxUnavailable(f"bounce mailbox {self.address}: {_reason(exc)}") from exc
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._imap is not None:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                self._imap.logout()
            self._imap = None

    def unread(self, limit: int = 500) -> Iterator[tuple[str, bytes]]:
        """(uid, raw message) of up to `limit` messages not yet handled or set aside."""
        imap = self._session()
        search = ("UNKEYWORD", HANDLED, "UNKEYWORD", UNREADABLE)
        found = self._call(lambda: imap.uid("SEARCH", *search), "search")
        uids = found[0].decode().split() if found and isinstance(found[0], bytes) else []
        for uid in uids[:limit]:
            raw = self._fetch(imap, uid)
            if raw is not None:
                yield uid, raw

    def _fetch(self, imap: imaplib.IMAP4, uid: str) -> bytes | None:
        data = self._call(lambda: imap.uid("FETCH", uid, "(BODY.PEEK[])"), "fetch")
        raw = next((item[1] for item in data if isinstance(item, tuple) and len(item) == 2), None)
        return raw if isinstance(raw, bytes) else None

    def mark_handled(self, uid: str) -> None:
        imap = self._session()
        self._call(lambda: imap.uid("STORE", uid, "+FLAGS", f"(\\Seen {HANDLED})"), "flag")
        folder = self.settings.imap_handled_folder
        if folder:
            imap.create(_quoted(folder))  # NO when it exists already: fine
            self._move(imap, uid, _quoted(folder))

    def _move(self, imap: imaplib.IMAP4, uid: str, folder: str) -> None:
        if "MOVE" in self._capabilities:  # RFC 6851
            self._call(lambda: imap.uid("MOVE", uid, folder), "move")
            return
        # Without MOVE: copy, then mark deleted; expunge only this message (UIDPLUS), never others.
        self._call(lambda: imap.uid("COPY", uid, folder), "copy")
        self._call(lambda: imap.uid("STORE", uid, "+FLAGS", "(\\Deleted)"), "flag")
        if "UIDPLUS" in self._capabilities:
            self._call(lambda: imap.uid("EXPUNGE", uid), "expunge")

    def mark_unreadable(self, uid: str) -> None:
        imap = self._session()
        self._call(lambda: imap.uid("STORE", uid, "+FLAGS", f"({UNREADABLE})"), "flag")

    def capabilities_after_login(self, imap: imaplib.IMAP4) -> frozenset[str]:
        """Asked again: servers (Dovecot among them) announce MOVE and UIDPLUS only once logged in."""
        status, data = imap.capability()
        words = data[0].decode("ascii", "replace").upper().split() if status == "OK" and data else []
        return frozenset(words)

    def _session(self) -> imaplib.IMAP4:
        if self._imap is None:
            raise MailboxUnavailable("the bounce mailbox is not open")
        return self._imap

    def _call(self, command: Callable[[], tuple[str, list[Any]]], what: str) -> list[Any]:
        try:
            status, data = command()
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxUnavailable(f"bounce mailbox {self.address}: {what} failed: {_reason(exc)}") from exc
        self._check((status, data), what)
        return list(data or [])

    def _check(self, answer: tuple[str, list[Any]], what: str) -> None:
        status, data = answer
        if status != "OK":
            detail = b" ".join(d for d in data or [] if isinstance(d, bytes)).decode("utf-8", "replace")
            raise MailboxUnavailable(f"bounce mailbox {self.address}: cannot {what}: {detail}")

    def _connect(self) -> imaplib.IMAP4:
        settings = self.settings
        timeout = settings.imap_timeout_seconds
        if settings.imap_security == "none":
            return imaplib.IMAP4(settings.imap_host, settings.imap_port, timeout=timeout)
        context = ssl.create_default_context(cafile=settings.imap_ca_file)
        if settings.imap_security == "tls":
            return imaplib.IMAP4_SSL(
                settings.imap_host, settings.imap_port, ssl_context=context, timeout=timeout
            )
        imap = imaplib.IMAP4(settings.imap_host, settings.imap_port, timeout=timeout)
        imap.starttls(ssl_context=context)
        return imap


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _reason(exc: BaseException) -> str:
    text = str(exc.args[0] if exc.args else exc)
    if text.startswith("b'") or text.startswith('b"'):
        text = text[2:-1]
    return text or type(exc).__name__
