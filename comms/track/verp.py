"""VERP (variable envelope return path): each message's MAIL FROM names its ledger row.

`bounces@ipo.example.org` becomes `bounces+<ledger id>-<mac>@ipo.example.org`, so a bounce
that arrives days later maps back to the message, its contact and its edition by the address
it was sent to, signed, rather than by guessing the recipient from a DSN's free text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from comms.tokens import InvalidToken, ReturnPathSigner

_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+")


class ReturnPaths:
    def __init__(self, address: str, secret_key: str):
        self.local, _, self.domain = address.partition("@")
        self.signer = ReturnPathSigner(secret_key)

    def envelope_sender(self, ledger_id: int) -> str:
        return f"{self.local}+{self.signer.sign(ledger_id)}@{self.domain}"

    def ledger_id(self, address: str) -> int | None:
        """The ledger row of one of our VERP addresses; None for any other address or a forgery."""
        local, _, domain = address.strip().strip("<>").rpartition("@")
        base, plus, tag = local.partition("+")
        if not plus or base.lower() != self.local.lower() or domain.lower() != self.domain.lower():
            return None
        try:
            return self.signer.verify(tag)
        except (InvalidToken, ValueError):
            return None

    def find(self, header_values: Iterable[str]) -> int | None:
        """The first of our VERP addresses in these header values (To, Delivered-To, …)."""
        for value in header_values:
            for address in _ADDRESS.findall(value or ""):
                found = self.ledger_id(address)
                if found is not None:
                    return found
        return None
