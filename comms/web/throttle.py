"""How often /voorkeuren mails a preference link: per address asked for, per client asking.

Moving windows of the `limits` library, counted in this process's memory. Several processes
(`comms serve` on two machines) each count on their own, so the limits hold per process: at
most N times the configured rate with N processes. That is enough against a mail bomb, and
keeps no table of who asked for which address. Addresses are kept only as keyed hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class LinkRequestLimits:
    def __init__(self, per_address: str, per_client: str, key: bytes):
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.per_address = parse_many(per_address)
        self.per_client = parse_many(per_client)
        self._key = key

    def client_may_ask(self, client: str) -> bool:
        """Counts one request from `client` (an IP address); False once it asked too often."""
        return self._hit(self.per_client, "client", client)

    def address_may_get(self, address: str) -> bool:
        """Counts one link for the address (known or not alike); False once it had enough."""
        digest = hmac.new(self._key, address.strip().lower().encode(), hashlib.sha256).hexdigest()
        return self._hit(self.per_address, "address", digest)

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may ask again (at least 1)."""
        stats = [self._limiter.get_window_stats(item, "client", client) for item in self.per_client]
        resets = [s.reset_time for s in stats if s.remaining == 0] or [time.time()]
        return max(1, int(max(resets) - time.time()) + 1)

    def _hit(self, items: list[RateLimitItem], *identifiers: str) -> bool:
        # Counted only when every window allows it: refused requests do not use up the day's
        # budget, so hammering at an address cannot keep its owner from a link for a whole day.
        if not all(self._limiter.test(item, *identifiers) for item in items):
            return False
        return all([self._limiter.hit(item, *identifiers) for item in items])
